"""edge-hub doctor: an installer's checklist of configuration, storage, radio, modem and uplink.

Each check is a small function that takes what it needs (paths, callables) and returns
Findings; `run_checks` wires them to the machine through `Probes`, which tests replace.
The modem's checks are in edge.tools.doctor_modem.
"""

from __future__ import annotations

import re
import shutil
import socket
import sqlite3
import ssl
import subprocess
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloud_sync.contract.broker_url import parse_broker_url
from edge.config.loader import HubConfig, load_config
from edge.config.messaging import ModemSection
from edge.config.uplink import UplinkSection
from edge.domain import CallWhen
from edge.errors import ConfigError, StoreError
from edge.tools.doctor_finding import FAIL, PASS, WARN, Finding
from edge.tools.doctor_modem import (
    check_modem,
    check_modem_port,
    open_serial_modem,
    skipped,
)

MB = 1024 * 1024
WARN_FREE_BYTES, FAIL_FREE_BYTES = 500 * MB, 50 * MB
PASSIVE_BLUEZ = (5, 56)
MONITOR_INTERFACE = "org.bluez.AdvertisementMonitorManager1"


# ------------------------------------------------------------------ real probes


def run_command(argv: Sequence[str], timeout_s: float = 3.0) -> str:
    """stdout of a short command; OSError or subprocess.SubprocessError if it cannot run."""
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout_s, check=True)
    return done.stdout


def running_processes(proc: Path = Path("/proc")) -> list[str]:
    """Names (comm) of the processes running on this machine."""
    names = []
    for comm in proc.glob("[0-9]*/comm"):
        try:
            names.append(comm.read_text().strip())
        except OSError:
            continue
    return names


def free_bytes(path: Path) -> int:
    """Free bytes on the filesystem holding `path` (or its nearest existing folder)."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def bluez_interfaces(adapter: str, timeout_s: float = 2.0) -> set[str] | None:
    """D-Bus interfaces of /org/bluez/<adapter>; None when there is no system bus to ask."""
    import asyncio

    from dbus_fast.errors import DBusFastError

    try:
        return asyncio.run(asyncio.wait_for(_introspect(adapter), timeout_s))
    except (TimeoutError, OSError, EOFError, ValueError, DBusFastError):
        return None


async def _introspect(adapter: str) -> set[str]:
    from dbus_fast import BusType
    from dbus_fast.aio import MessageBus

    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    try:
        node = await bus.introspect("org.bluez", f"/org/bluez/{adapter}")
        return {interface.name for interface in node.interfaces}
    finally:
        bus.disconnect()


def _clock_probe() -> Callable[[], bool]:
    from edge.clock import ClockSyncProbe

    return ClockSyncProbe()


@dataclass(frozen=True, slots=True)
class Probes:
    """The machine-specific parts of the checks; tests replace the ones they simulate."""

    sysfs_bluetooth: Path = Path("/sys/class/bluetooth")
    clock_synced: Callable[[], bool] = field(default_factory=_clock_probe)
    run: Callable[[Sequence[str]], str] = run_command
    free_bytes: Callable[[Path], int] = free_bytes
    bluez_interfaces: Callable[[str], set[str] | None] = bluez_interfaces
    processes: Callable[[], Iterable[str]] = running_processes
    open_modem: Callable[[ModemSection, float], Any] = open_serial_modem
    register_wait_s: float = 10.0
    connect_timeout_s: float = 3.0


# ------------------------------------------------------------------ hub and machine


def check_config(path: Path) -> tuple[HubConfig | None, Finding]:
    """Load and validate the configuration file."""
    try:
        config = load_config(path)
    except ConfigError as error:
        return None, Finding("configuration", FAIL, str(error),
                             f"edit {path} and run edge-hub check-config until it passes")
    return config, Finding("configuration", PASS, f"{path} is valid")


def check_database(database: Path) -> Finding:
    """Open the database read-write, take the write lock once and run a quick check."""
    from edge.storage.store import Store

    try:
        store = Store.open(database)
    except StoreError as error:
        return Finding("database", FAIL, str(error),
                       f"create {database.parent} and give the hub's user write access to it")
    try:
        store.db.execute("BEGIN IMMEDIATE")
        store.db.execute("ROLLBACK")
        verdict = str(store.db.execute("PRAGMA quick_check").fetchone()[0])
    except sqlite3.Error as error:
        return Finding("database", FAIL, f"{database}: {error}",
                       "check the file's owner and mode, and that no other program locks it")
    finally:
        store.close()
    if verdict != "ok":
        return Finding("database", FAIL, f"{database} is damaged: {verdict}",
                       "stop the hub, keep a copy of the file, restore it from a backup")
    return Finding("database", PASS, f"{database} is writable and passes quick_check")


def database_wants_calls(database: Path) -> bool:
    """Whether the hub's database marks a contact for ring calls: most are set in the
    server's roster, which the hub keeps there. False when it cannot be read."""
    if not database.exists():
        return False
    try:
        conn = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        row = conn.execute("SELECT 1 FROM contacts WHERE call != 'never' LIMIT 1").fetchone()
    except sqlite3.Error:  # a database from before ring calls
        return False
    finally:
        conn.close()
    return row is not None


def check_disk(database: Path, free: Callable[[Path], int],
               low_space_mb: float = FAIL_FREE_BYTES / MB) -> Finding:
    """Free space on the database's filesystem: below [hub] low_space_mb the hub reports a
    storage fault and stops keeping telemetry; the warning comes well before that."""
    try:
        left = free(database)
    except OSError as error:
        return Finding("disk space", WARN, f"cannot measure free space for {database}: {error}",
                       "check the path of [hub] database")
    detail = f"{left // MB} MB free for {database}"
    fix = "free space (old logs: sudo journalctl --vacuum-size=100M) or use a larger SD card"
    fail_below = low_space_mb * MB
    warn_below = max(WARN_FREE_BYTES, 10 * fail_below)
    if left < fail_below:
        return Finding("disk space", FAIL, detail + f" (below {low_space_mb:g} MB: the hub "
                       "reports a storage fault and keeps no telemetry)", fix)
    if left < warn_below:
        return Finding("disk space", WARN, detail + f" (below {warn_below / MB:.0f} MB)", fix)
    return Finding("disk space", PASS, detail)


def check_reserve(database: Path, reserve_mb: float) -> Finding:
    """The reserve beside the database that lets alerts be written on a full disk."""
    reserve = database.with_name(database.name + ".reserve")
    if reserve_mb <= 0:
        return Finding("storage reserve", WARN, "no reserve is configured "
                       "([hub] storage_reserve_mb = 0)", "set storage_reserve_mb = 8 so "
                       "alerts can still be written when the disk fills")
    if reserve.exists():
        return Finding("storage reserve", PASS, f"{reserve} holds {reserve_mb:g} MB for alerts")
    if not database.exists():
        return Finding("storage reserve", PASS, "made when the hub first starts")
    return Finding("storage reserve", WARN, f"{reserve} is missing: the disk filled up and "
                   "the reserve was used, or there is no room to make it",
                   "free space; the running hub makes the reserve again once it can")


def check_clock(synced: Callable[[], bool]) -> Finding:
    """Whether NTP has set the clock (alert times and TLS depend on it)."""
    if synced():
        return Finding("clock", PASS, "the clock is synchronised")
    return Finding("clock", WARN, "the clock is not synchronised; alert times may be wrong",
                   "check the internet connection and timedatectl / systemctl status "
                   "systemd-timesyncd (a Pi has no battery clock)")


# ------------------------------------------------------------------ Bluetooth


def check_adapter(adapter: str, sysfs: Path) -> Finding:
    """The Bluetooth adapter named in [radio] exists."""
    if (sysfs / adapter).exists():
        return Finding("BLE adapter", PASS, f"{adapter} is present")
    return Finding("BLE adapter", FAIL, f"no {adapter} in {sysfs}",
                   "is the Bluetooth dongle plugged in? sudo hciconfig / bluetoothctl show; "
                   "check [radio] adapter")


def parse_bluez_version(text: str) -> tuple[int, int] | None:
    """(5, 66) from "bluetoothctl: 5.66"; None when there is no version in the text."""
    match = re.search(r"(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def check_bluez(run: Callable[[Sequence[str]], str]) -> Finding:
    """BlueZ's version: passive scanning needs 5.56 or later."""
    try:
        version = parse_bluez_version(run(["bluetoothctl", "--version"]))
    except (OSError, subprocess.SubprocessError) as error:
        return Finding("BlueZ", WARN, f"cannot run bluetoothctl --version ({error})",
                       "sudo apt-get install bluez")
    if version is None:
        return Finding("BlueZ", WARN, "bluetoothctl printed no version", "sudo apt-get install bluez")
    shown = f"{version[0]}.{version[1]}"
    if version < PASSIVE_BLUEZ:
        return Finding("BlueZ", WARN, f"BlueZ {shown} is older than 5.56: no passive scanning",
                       "upgrade the OS (Raspberry Pi OS bookworm has 5.66) or accept active scanning")
    return Finding("BlueZ", PASS, f"BlueZ {shown}")


def check_passive(adapter: str, scanning: str, interfaces: Callable[[str], set[str] | None]) -> Finding:
    """BlueZ offers advertisement monitors (passive scanning) on the adapter."""
    if scanning != "passive":
        return Finding("passive scanning", PASS, f"not needed: [radio] scanning = {scanning!r}")
    found = interfaces(adapter)
    if found is None:
        return Finding("passive scanning", WARN, "cannot tell without D-Bus (no system bus)",
                       "run the doctor on the hub itself with bluetoothd running")
    if MONITOR_INTERFACE in found:
        return Finding("passive scanning", PASS, f"{MONITOR_INTERFACE} on /org/bluez/{adapter}")
    return Finding("passive scanning", WARN,
                   f"no {MONITOR_INTERFACE} on /org/bluez/{adapter}; the hub scans actively",
                   "start bluetoothd with --experimental (sudo systemctl edit bluetooth) "
                   "or set [radio] scanning = \"active\"")


# ------------------------------------------------------------------ uplink


def check_broker(uplink: UplinkSection, timeout_s: float = 3.0) -> Finding:
    """TCP (and TLS for mqtts) to the broker named in [uplink]."""
    try:
        address = parse_broker_url(uplink.broker)
    except ValueError as error:
        return Finding("broker", FAIL, str(error), "fix [uplink] broker")
    where = f"{address.host}:{address.port}"
    try:
        sock = socket.create_connection((address.host, address.port), timeout=timeout_s)
    except OSError as error:
        return Finding("broker", FAIL, f"cannot reach {where}: {error}",
                       "check the address, port, firewall and the internet connection")
    with sock:
        try:
            if address.tls:
                _handshake(sock, address.host, uplink, timeout_s)
        except OSError as error:  # ssl.SSLError is an OSError
            return Finding("broker", FAIL, f"TLS with {where} failed: {error}",
                           "check that the port speaks TLS, [uplink] ca_file, cert_file and "
                           "key_file, and the clock")
    return Finding("broker", PASS, f"reached {where}" + (" with TLS" if address.tls else ""))


def _handshake(sock: socket.socket, host: str, uplink: UplinkSection, timeout_s: float) -> None:
    context = ssl.create_default_context(cafile=str(uplink.ca_file) if uplink.ca_file else None)
    if uplink.cert_file is not None:
        context.load_cert_chain(str(uplink.cert_file),
                                str(uplink.key_file) if uplink.key_file else None)
    sock.settimeout(timeout_s)
    context.wrap_socket(sock, server_hostname=host).close()  # wrapping does the handshake


# ------------------------------------------------------------------ all of it


def run_checks(config_path: Path | str, *, probes: Probes | None = None) -> list[Finding]:
    """Every check that applies to this configuration, in an installer's order."""
    probes = probes or Probes()
    config, finding = check_config(Path(config_path))
    found = [finding]
    if config is not None:
        reserve = check_reserve(config.hub.database, config.hub.storage_reserve_mb)
        found += [check_database(config.hub.database),
                  check_disk(config.hub.database, probes.free_bytes, config.hub.low_space_mb),
                  reserve]
    found.append(check_clock(probes.clock_synced))
    if config is None:
        return found + [check_bluez(probes.run),
                        skipped("the configuration could not be read, so the modem is unknown")]
    adapter = config.radio.adapter
    found += [check_adapter(adapter, probes.sysfs_bluetooth), check_bluez(probes.run),
              check_passive(adapter, config.radio.scanning, probes.bluez_interfaces)]
    if config.modem is None:
        found.append(skipped("hub.toml has no [modem] section, so this hub cannot text"))
    else:
        port = check_modem_port(config.modem.port, probes.processes())
        found += port
        if port[0].status == PASS:
            ring_calls = (any(c.call is not CallWhen.NEVER for c in config.roster.contacts)
                          or database_wants_calls(config.hub.database))
            found += check_modem(config.modem, probes.open_modem, probes.register_wait_s,
                                 ring_calls=ring_calls)
        else:
            found.append(skipped(f"no modem port at {config.modem.port}"))
    if config.uplink is not None:
        found.append(check_broker(config.uplink, probes.connect_timeout_s))
    return found


def healthy(findings: Iterable[Finding]) -> bool:
    """True when no finding failed."""
    return all(finding.status != FAIL for finding in findings)
