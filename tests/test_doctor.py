"""edge-hub doctor against simulators: an emulated modem, a real broker, a fake sysfs."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest
import serial

from edge.tools.cli_doctor import add_doctor_commands
from edge.tools.doctor import (
    MB,
    MONITOR_INTERFACE,
    Probes,
    bluez_interfaces,
    check_bluez,
    check_disk,
    check_reserve,
    run_checks,
)
from edge.tools.doctor_finding import FAIL, PASS, SKIP, WARN, Finding
from firmware_bridge.simulators.modem_emulator import ModemEmulator
from tests.mqtt_broker import free_port


def bluez(version: str = "5.66") -> Callable[[Sequence[str]], str]:
    def run(argv: Sequence[str]) -> str:
        assert list(argv) == ["bluetoothctl", "--version"]
        return f"bluetoothctl: {version}\n"
    return run


def missing_command(argv: Sequence[str]) -> str:
    raise FileNotFoundError(2, "No such file or directory", argv[0])


@pytest.fixture
def machine(tmp_path: Path) -> Probes:
    """A healthy Pi: hci0 present, BlueZ 5.66 with monitors, clock set, no ModemManager."""
    sysfs = tmp_path / "sys-class-bluetooth"
    (sysfs / "hci0").mkdir(parents=True)
    return Probes(sysfs_bluetooth=sysfs, clock_synced=lambda: True, run=bluez(),
                  bluez_interfaces=lambda adapter: {MONITOR_INTERFACE}, processes=list,
                  register_wait_s=0.3)


def write_config(folder: Path, *, modem_port: str | None = None, broker: str | None = None,
                 database: str = "hub.db") -> Path:
    lines = ["[hub]", 'id = "hub-3"', 'community = "幸福里社区"', 'building = "3号楼"',
             'address = "幸福里路 18 号 3号楼"', f'database = "{database}"']
    if modem_port is not None:
        lines += ["[modem]", f'port = "{modem_port}"', "command_timeout_s = 2"]
    if broker is not None:
        lines += ["[uplink]", f'broker = "{broker}"']
    path = folder / "hub.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def by_check(findings: list[Finding]) -> dict[str, Finding]:
    return {finding.check: finding for finding in findings}


@pytest.fixture
def modem() -> Iterator[tuple[ModemEmulator, str]]:
    emulator = ModemEmulator()
    yield emulator, emulator.start()
    emulator.stop()


def doctor(argv: list[str], probes: Probes) -> int:
    parser = argparse.ArgumentParser(prog="edge-hub")
    add_doctor_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args, probes))


def test_a_healthy_hub_passes_every_check_and_exits_0(tmp_path, machine, modem, broker, capsys):
    config = write_config(tmp_path, modem_port=modem[1], broker=broker.url)

    assert doctor(["doctor", "--config", str(config), "--json"], machine) == 0

    rows = json.loads(capsys.readouterr().out)
    assert {row["status"] for row in rows} == {PASS}
    assert {"configuration", "database", "disk space", "storage reserve", "clock",
            "BLE adapter", "BlueZ",
            "passive scanning", "modem port", "modem", "SIM", "network", "signal",
            "SMS centre", "SMS over LTE", "broker"} == {row["check"] for row in rows}
    lte = [row for row in rows if row["check"] == "SMS over LTE"][0]
    assert lte["detail"] == "on LTE and registered on IMS: texts go as SMS over IP"
    assert set(rows[0]) == {"check", "status", "detail", "fix"}


def test_a_modem_without_a_sim_fails_and_says_to_insert_one(tmp_path, machine):
    emulator = ModemEmulator(sim="NOT INSERTED", registration="searching")
    try:
        found = by_check(run_checks(write_config(tmp_path, modem_port=emulator.start()),
                                    probes=machine))
    finally:
        emulator.stop()

    assert found["modem"].status == FAIL and "No SIM card" in found["modem"].detail
    assert found["SIM"].status == FAIL
    assert "insert the SIM" in found["SIM"].fix
    assert found["network"].status == FAIL and "antenna" in found["network"].fix


def test_a_modem_searching_for_a_network_fails_the_network_check(tmp_path, machine):
    emulator = ModemEmulator(registration="searching")
    try:
        found = by_check(run_checks(write_config(tmp_path, modem_port=emulator.start()),
                                    probes=machine))
    finally:
        emulator.stop()

    assert found["SIM"].status == PASS
    assert found["network"].status == FAIL
    assert "antenna" in found["network"].fix and "service" in found["network"].fix


def test_a_modem_port_held_by_another_program_points_at_modemmanager(tmp_path, machine, modem):
    holder = serial.Serial(modem[1], exclusive=True)
    try:
        found = by_check(run_checks(write_config(tmp_path, modem_port=modem[1]),
                                    probes=replace(machine, processes=lambda: ["ModemManager"])))
    finally:
        holder.close()

    assert found["modem"].status == FAIL and "already open" in found["modem"].detail
    assert "systemctl disable --now ModemManager" in found["modem"].fix
    assert found["ModemManager"].status == WARN
    assert "SIM" not in found
    assert found["SIM and network"].line() == ("SKIP SIM and network — not checked: the modem "
                                               "could not be opened (see the modem check)")


def test_a_missing_modem_port_fails_without_opening_anything(tmp_path, machine):
    def never(*_: object) -> object:
        raise AssertionError("opened a modem that is not there")

    config = write_config(tmp_path, modem_port=str(tmp_path / "ttyUSB*"))
    found = by_check(run_checks(config, probes=replace(machine, open_modem=never)))

    assert found["modem port"].status == FAIL
    assert "plugged in" in found["modem port"].fix and "/dev/serial/by-id/" in found["modem port"].fix
    assert found["SIM and network"].status == SKIP
    assert found["SIM and network"].detail == f"not checked: no modem port at {tmp_path}/ttyUSB*"


def test_a_hub_without_a_modem_says_it_skipped_sim_and_network(tmp_path, machine):
    found = by_check(run_checks(write_config(tmp_path), probes=machine))
    assert found["SIM and network"].detail == ("not checked: hub.toml has no [modem] section, "
                                               "so this hub cannot text")


def modem_findings(tmp_path: Path, machine: Probes, **emulated: object) -> dict[str, Finding]:
    emulator = ModemEmulator(**emulated)  # type: ignore[arg-type]
    try:
        return by_check(run_checks(write_config(tmp_path, modem_port=emulator.start()),
                                   probes=machine))
    finally:
        emulator.stop()


def test_a_2g_only_modem_works_today_and_is_warned_about(tmp_path, machine):
    found = modem_findings(tmp_path, machine, model="SIMCOM_SIM800L")
    assert found["modem"].status == PASS and found["network"].status == PASS
    assert found["2G only"].status == WARN
    assert found["2G only"].detail.startswith("SIMCOM_SIM800L is a 2G-only (GSM) modem: where "
                                              "the operator has switched 2G off")
    assert "LTE modem" in found["2G only"].fix and "SMS over LTE" not in found


@pytest.mark.parametrize(("ims", "circuit", "status", "says"), [
    (True, False, PASS, "registered on IMS: texts go as SMS over IP"),
    (False, True, PASS, "combined attach: texts go over the circuit network (SMS over SGs)"),
    (False, False, FAIL, "on LTE only, neither on IMS nor with a combined attach"),
])
def test_sms_over_lte_is_checked_where_the_modem_reports_it(tmp_path, machine, ims, circuit,
                                                           status, says):
    found = modem_findings(tmp_path, machine, ims=ims, circuit=circuit)
    assert found["network"].status == PASS  # registered on LTE either way
    assert found["SMS over LTE"].status == status and says in found["SMS over LTE"].detail


def test_an_absent_bluetooth_adapter_fails_with_what_to_check(tmp_path, machine, capsys):
    empty = tmp_path / "no-adapters"
    empty.mkdir()

    code = doctor(["doctor", "--config", str(write_config(tmp_path))],
                  replace(machine, sysfs_bluetooth=empty))

    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL BLE adapter — no hci0" in out
    assert "is the Bluetooth dongle plugged in? sudo hciconfig / bluetoothctl show" in out


def test_an_unreachable_broker_fails_with_network_advice(tmp_path, machine):
    config = write_config(tmp_path, broker=f"mqtt://127.0.0.1:{free_port()}")

    found = by_check(run_checks(config, probes=machine))

    assert found["broker"].status == FAIL and "cannot reach 127.0.0.1" in found["broker"].detail
    assert "port, firewall" in found["broker"].fix


def test_a_tls_handshake_with_a_plain_broker_fails(tmp_path, machine, broker):
    config = write_config(tmp_path, broker=f"mqtts://127.0.0.1:{broker.port}")

    found = by_check(run_checks(config, probes=machine))

    assert found["broker"].status == FAIL and "TLS" in found["broker"].detail
    assert "ca_file" in found["broker"].fix


def test_an_invalid_config_fails_and_still_checks_the_machine(tmp_path, machine):
    config = tmp_path / "hub.toml"
    config.write_text('[hub]\nid = "hub 3"\n', encoding="utf-8")

    findings = run_checks(config, probes=machine)

    assert findings[0].status == FAIL and "hub.toml" in findings[0].detail
    assert "check-config" in findings[0].fix
    assert {finding.check for finding in findings} == {"configuration", "clock", "BlueZ",
                                                       "SIM and network"}
    assert findings[-1].status == SKIP and "configuration could not be read" in findings[-1].detail


def test_a_database_in_an_unwritable_place_fails(tmp_path, machine):
    (tmp_path / "a-file").write_text("not a folder")
    config = write_config(tmp_path, database="a-file/hub.db")

    found = by_check(run_checks(config, probes=machine))

    assert found["database"].status == FAIL and "cannot open the database" in found["database"].detail
    assert "write access" in found["database"].fix


@pytest.mark.parametrize(("free_mb", "status"), [(4000, PASS), (200, WARN), (20, FAIL)])
def test_disk_space_thresholds(free_mb, status):
    finding = check_disk(Path("/var/lib/edge-hub/hub.db"), lambda path: free_mb * MB)

    assert finding.status == status
    assert status == PASS or "journalctl --vacuum" in finding.fix


def test_disk_space_below_the_configured_low_space_fails_and_well_above_it_warns():
    low = check_disk(Path("/var/lib/edge-hub/hub.db"), lambda path: 150 * MB, low_space_mb=200)
    near = check_disk(Path("/var/lib/edge-hub/hub.db"), lambda path: 900 * MB, low_space_mb=200)
    assert low.status == FAIL and "below 200 MB" in low.detail
    assert near.status == WARN and "below 2000 MB" in near.detail


def test_a_missing_storage_reserve_is_a_warning(tmp_path):
    database = tmp_path / "hub.db"
    assert check_reserve(database, 8).status == PASS  # no hub yet: made at its first start
    database.touch()
    missing = check_reserve(database, 8)
    assert missing.status == WARN and "filled up" in missing.detail
    (tmp_path / "hub.db.reserve").touch()
    assert check_reserve(database, 8).status == PASS
    assert check_reserve(database, 0).status == WARN


def test_old_or_missing_bluez_warns():
    old = check_bluez(bluez("5.53"))
    missing = check_bluez(missing_command)

    assert old.status == WARN and "5.56" in old.detail
    assert missing.status == WARN and "apt-get install bluez" in missing.fix


def test_passive_scanning_without_monitors_or_bus_warns(tmp_path, machine):
    config = write_config(tmp_path)
    no_monitor = by_check(run_checks(config, probes=replace(
        machine, bluez_interfaces=lambda adapter: {"org.bluez.Adapter1"})))
    no_bus = by_check(run_checks(config, probes=replace(machine, bluez_interfaces=lambda a: None)))

    assert no_monitor["passive scanning"].status == WARN
    assert "--experimental" in no_monitor["passive scanning"].fix
    assert no_bus["passive scanning"].status == WARN
    assert "cannot tell without D-Bus" in no_bus["passive scanning"].detail


def test_the_real_dbus_probe_does_not_hang():
    started = time.monotonic()
    answer = bluez_interfaces("hci0", timeout_s=1.0)

    assert time.monotonic() - started < 3.0
    assert answer is None or isinstance(answer, set)


def test_an_unsynchronised_clock_warns(tmp_path, machine):
    found = by_check(run_checks(write_config(tmp_path),
                                probes=replace(machine, clock_synced=lambda: False)))

    assert found["clock"].status == WARN and "timesyncd" in found["clock"].fix


def ring_call_findings(tmp_path: Path, machine: Probes, **emulated: object) -> dict[str, Finding]:
    """The doctor on a hub whose duty desk is marked for ring calls."""
    emulator = ModemEmulator(**emulated)  # type: ignore[arg-type]
    try:
        config = write_config(tmp_path, modem_port=emulator.start())
        with config.open("a", encoding="utf-8") as handle:
            handle.write('[[contacts]]\nid = "desk"\nname = "值班室"\nphone = "+8613800138000"\n'
                         'role = "duty_desk"\ntier = 1\ncall = "always"\n')
        return by_check(run_checks(config, probes=machine))
    finally:
        emulator.stop()


@pytest.mark.parametrize(("emulated", "status", "says"), [
    ({}, PASS, "registered on IMS: ring calls go as VoLTE"),
    ({"ims": False, "circuit": True}, PASS, "combined attach: ring calls fall back to 2G/3G"),
    ({"ims": False, "circuit": False}, WARN,  # how a data-only SIM registers on LTE
     "a data-only SIM or one without VoLTE cannot place ring calls"),
    ({"model": "SIMCOM_SIM800L"}, WARN, "2G-only modem: ring calls (and texts) stop where the "
                                        "operator switches 2G off"),
])
def test_ring_calls_are_checked_when_a_contact_wants_them(tmp_path, machine, emulated, status,
                                                          says):
    found = ring_call_findings(tmp_path, machine, **emulated)
    assert found["ring calls"].status == status and says in found["ring calls"].detail
    assert found["call tracking"].status == PASS


def test_a_modem_that_ignores_ath_for_voice_is_reported_and_one_without_clcc_warned(
        tmp_path, machine):
    emulator = ModemEmulator()
    emulator.voice_hangup_ignored()
    try:
        config = write_config(tmp_path, modem_port=emulator.start())
        with config.open("a", encoding="utf-8") as handle:
            handle.write('[[contacts]]\nid = "desk"\nname = "值班室"\nphone = "+8613800138000"\n'
                         'role = "duty_desk"\ntier = 1\ncall = "night"\n')
        found = by_check(run_checks(config, probes=machine))
        assert "hangs up with AT+CHUP" in found["call tracking"].detail
        emulator.fail_next("CLCC", cme=4)
        found = by_check(run_checks(config, probes=machine))
        assert found["call tracking"].status == WARN
        assert "cannot see whether a ring call was answered" in found["call tracking"].detail
    finally:
        emulator.stop()


def test_no_ring_call_checks_when_no_contact_wants_calls(tmp_path, machine):
    found = modem_findings(tmp_path, machine)
    assert "ring calls" not in found and "call tracking" not in found


def test_ring_calls_set_in_the_servers_roster_are_checked_too(tmp_path, machine):
    """hub.toml marks nobody; the roster the server pushed, kept in the hub's database,
    marks the duty desk for calls at night."""
    from edge.domain import CallWhen
    from edge.storage.store import Store
    from tests.building import make_roster

    roster = make_roster(1)
    desk = replace(roster.contacts[0], call=CallWhen.NIGHT)
    store = Store.open(tmp_path / "hub.db")
    store.apply_roster(replace(roster, contacts=(desk,)))
    store.close()
    found = modem_findings(tmp_path, machine)
    assert found["ring calls"].status == PASS and found["call tracking"].status == PASS
