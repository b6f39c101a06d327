"""edge-hub pair: find a nearby BTHome button or activity sensor, hear it pressed (or
triggered) with its key, add it to hub.toml."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from edge.alerts.activity import Activity, read_activity
from edge.config.loader import HubConfig, load_config
from edge.domain import SensorKind
from edge.errors import ConfigError, FrameError, HubError
from firmware_bridge.ble.bthome import ENCRYPTED_FLAG, BTHomeKey, Frame, decode_frame

if TYPE_CHECKING:
    from bleak.backends.scanner import BaseBleakScanner

Advert = tuple[str, bytes, "int | None"]
_MAC = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$")


class PairingError(HubError):
    """Pairing could not finish; the message says what to do."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A BTHome device heard nearby: its strongest signal and whether it encrypts."""

    mac: str
    name: str
    rssi: int | None
    encrypted: bool


def nearby(adverts: Iterable[Advert],
           names: Mapping[str, str] | None = None) -> list[Candidate]:
    """One candidate per MAC from collected adverts, strongest signal first."""
    best: dict[str, Candidate] = {}
    for mac, data, rssi in adverts:
        mac = mac.upper()
        encrypted = bool(data) and bool(data[0] & ENCRYPTED_FLAG)
        seen = best.get(mac)
        if seen is None or (rssi is not None and (seen.rssi is None or rssi > seen.rssi)):
            best[mac] = Candidate(mac, (names or {}).get(mac, ""), rssi, encrypted)
    return sorted(best.values(), key=lambda c: (c.rssi is None, -(c.rssi or 0), c.mac))


def new_key() -> str:
    """A fresh 128-bit BTHome key as 32 hex digits."""
    return secrets.token_hex(16)


async def collect(seconds: float, backend: type[BaseBleakScanner] | None = None,
                  adapter: str = "hci0", names: dict[str, str] | None = None) -> list[Advert]:
    """Every BTHome advert heard for `seconds`; `names` receives local names heard."""
    from firmware_bridge.ble.bleak_radio import BleakRadio

    heard: list[Advert] = []
    radio = BleakRadio(lambda mac, data, rssi: heard.append((mac, bytes(data), rssi)),
                       adapter=adapter, backend=backend)
    await radio.start()
    try:
        await asyncio.sleep(seconds)
    finally:
        await radio.stop()
    if names is not None:
        names.update(radio.names)
    return heard


def _pressed(frame: Frame) -> bool:
    return any(obj.name == "button" and obj.value != "none" for obj in frame.objects)


def _trigger(kind: SensorKind) -> Callable[[Frame], bool]:
    """Whether a frame shows what a sensor of this kind is for: motion, or a door moving."""
    wanted = {Activity.MOTION} if kind is SensorKind.MOTION else {Activity.DOOR_OPEN,
                                                                  Activity.DOOR_CLOSED}
    return lambda frame: bool(wanted.intersection(read_activity(frame)))


async def await_press(source: asyncio.Queue[Advert], mac: str, key: str,
                      timeout: float, sensor: SensorKind | None = None) -> Frame:
    """The first frame from `mac` that decrypts with `key` and carries a button event (a
    sensor's: motion, or a door opening or closing, as its kind)."""
    proof, what = (_pressed, "press") if sensor is None else (_trigger(sensor), "trigger")
    cipher, mac = BTHomeKey.from_hex(key), mac.upper()
    problem = "nothing heard from it"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (left := deadline - loop.time()) > 0:
        try:
            sender, data, _ = await asyncio.wait_for(source.get(), left)
        except asyncio.TimeoutError:
            break
        if sender.upper() != mac:
            continue
        try:
            frame = decode_frame(data, mac, cipher)
        except FrameError as error:
            problem = str(error)
            continue
        if proof(frame):
            return frame
        problem = "heard it, but no " + ("button press" if sensor is None else
                                         f"{sensor.value} event")
    again = {None: "press the button again", SensorKind.MOTION: "walk past the sensor",
             SensorKind.DOOR: "open and close the door"}[sensor]
    raise PairingError(f"no {what} from {mac} within {timeout:.0f} s ({problem}); {again}, "
                       "and check the key is the one set on the device")


async def listen_for_press(mac: str, key: str, timeout: float,
                           backend: type[BaseBleakScanner] | None = None,
                           adapter: str = "hci0", sensor: SensorKind | None = None) -> Frame:
    """Scan with BleakRadio and wait for a press (or a sensor's trigger) from `mac`
    decrypted with `key`."""
    from firmware_bridge.ble.bleak_radio import BleakRadio

    queue: asyncio.Queue[Advert] = asyncio.Queue()
    radio = BleakRadio(lambda m, d, r: queue.put_nowait((m, bytes(d), r)),
                       adapter=adapter, backend=backend)
    await radio.start()
    try:
        return await await_press(queue, mac, key, timeout, sensor)
    finally:
        await radio.stop()


def append_watch(config_path: Path, mac: str, resident: str, key: str,
                 sensor: tuple[SensorKind, str] | None = None) -> HubConfig:
    """Append a [[watches]] block, or [[sensors]] for a sensor's (kind, place), its key to
    hub.keys_file when set, and validate; both files are restored if the result does not
    load."""
    mac = mac.upper()
    if not _MAC.fullmatch(mac):
        raise ValueError(f"expected a MAC like A4:C1:38:12:34:56, got {mac!r}")
    BTHomeKey.from_hex(key)
    keys_file = load_config(config_path).hub.keys_file
    table = "watches" if sensor is None else "sensors"
    block = f'\n[[{table}]]\nmac = "{mac}"\nresident = {json.dumps(resident)}\n'
    if sensor is not None:
        place = json.dumps(sensor[1], ensure_ascii=False)
        block += f'kind = "{sensor[0].value}"\nplace = {place}\n'
    if keys_file is None:
        block += f'key = "{key.lower()}"\n'
    saved = {p: p.read_bytes() for p in (config_path, keys_file) if p is not None}
    try:
        _append(config_path, block)
        if keys_file is not None:
            _append(keys_file, f'"{mac}" = "{key.lower()}"\n')
        return load_config(config_path)
    except (ConfigError, OSError) as error:
        for path, content in saved.items():
            path.write_bytes(content)
        raise PairingError(f"could not add {mac} to {config_path}: {error}; nothing was "
                           "changed") from error


def _append(path: Path, text: str) -> None:
    content = path.read_text(encoding="utf-8")
    if content and not content.endswith("\n"):
        text = "\n" + text
    mode = path.stat().st_mode & 0o777
    with path.open("a", encoding="utf-8") as file:
        file.write(text)
    os.chmod(path, mode)  # the keys file stays 0600


def _choose(args: argparse.Namespace, found: list[Candidate],
            ask: Callable[[str], str]) -> None:
    """Ask which device to pair, for whom, and with which key."""
    pick = ask(f"Pair which device (1-{len(found)})? ").strip()
    if not (pick.isascii() and pick.isdigit()) or not 1 <= int(pick) <= len(found):
        raise PairingError(f"expected a number from 1 to {len(found)}, got {pick!r}")
    args.mac = found[int(pick) - 1].mac
    args.resident = ask("Resident id (as in [[residents]]): ").strip()
    key = ask("Its key (32 hex digits), or Enter to make a new one: ").strip()
    args.key, args.generate_key = (key or None), not key


def cmd_pair(args: argparse.Namespace, backend: type[BaseBleakScanner] | None = None,
             ask: Callable[[str], str] = input) -> int:
    adapter = load_config(args.config).radio.adapter
    if args.mac is None:
        names: dict[str, str] = {}
        found = nearby(asyncio.run(collect(args.scan, backend, adapter, names)), names)
        for number, c in enumerate(found, 1):
            lock = "encrypted" if c.encrypted else "plaintext"
            print(f"{number:>3}. {c.mac}  rssi {c.rssi}  {lock}  {c.name}")
        if not (getattr(args, "choose", False) and found):
            return 0
        _choose(args, found, ask)
    if args.resident is None or not (args.key or args.generate_key):
        raise PairingError("--mac needs --resident and --key HEX or --generate-key")
    sensor = _sensor(args)
    key = new_key() if args.generate_key else args.key
    if args.generate_key:
        print(f"new key for {args.mac}: {key} — set it on the device, then "
              + ("trigger it" if sensor else "press it"))
    print(f"waiting up to {args.timeout:.0f} s for a {'trigger' if sensor else 'press'} "
          f"from {args.mac} ...")
    frame = asyncio.run(listen_for_press(args.mac, key, args.timeout, backend, adapter,
                                         None if sensor is None else sensor[0]))
    print(f"heard: counter {frame.counter}, " + ", ".join(
        f"{o.name}={o.value!s}" for o in frame.objects))
    append_watch(args.config, args.mac, args.resident, key, sensor)
    print(f"added {args.mac.upper()} for resident {args.resident} to {args.config}; "
          "restart the hub to hear it")
    return 0


def _sensor(args: argparse.Namespace) -> tuple[SensorKind, str] | None:
    """The sensor's (kind, place) from --sensor and --place, or None for a watch."""
    kind = getattr(args, "sensor", None)
    if kind is None:
        return None
    place = (getattr(args, "place", None) or "").strip()
    if not place:
        raise PairingError('--sensor needs --place, where it is (like "bathroom door")')
    return SensorKind(kind), place
