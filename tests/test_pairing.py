"""edge-hub pair: find a button on the virtual air, hear it pressed with its key, add it."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest

from edge.config.loader import load_config
from edge.tools import pairing
from firmware_bridge.simulators.virtual_air import VirtualAir

WATCH = "A4:C1:38:00:00:09"
HUB_TOML = """[hub]
id = "hub-3"
community = "幸福里社区"
building = "3号楼"
address = "幸福里路 18 号 3号楼"
database = "hub.db"

[[residents]]
id = "r1"
name = "王秀英"
room = "101"
"""


def _config(folder: Path, keys: bool = False) -> Path:
    text = HUB_TOML
    if keys:
        keys_file = folder / "keys.toml"
        keys_file.write_text("[keys]\n")
        keys_file.chmod(0o600)
        text = text.replace('database = "hub.db"\n',
                            f'database = "hub.db"\nkeys_file = "{keys_file}"\n')
    path = folder / "hub.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_nearby_lists_each_device_once_strongest_first() -> None:
    air = VirtualAir()
    key = bytes.fromhex(pairing.new_key())
    air.add_watch(WATCH, key)

    async def scan() -> list:
        task = asyncio.create_task(pairing.collect(0.3, air.backend))
        await asyncio.sleep(0.1)
        air.foreign(3)
        air.press(WATCH)
        air.press(WATCH)
        return await task

    found = pairing.nearby(asyncio.run(scan()))
    assert len(found) == 4
    assert [c.mac for c in found if c.encrypted] == [WATCH]
    rssis = [c.rssi for c in found]
    assert rssis == sorted(rssis, reverse=True)


def test_a_press_with_the_right_key_is_heard_and_decoded() -> None:
    air = VirtualAir()
    key = pairing.new_key()
    assert len(key) == 32 and int(key, 16) >= 0
    air.add_watch(WATCH, bytes.fromhex(key))

    async def pair() -> object:
        task = asyncio.create_task(pairing.listen_for_press(WATCH, key, 5, air.backend))
        await asyncio.sleep(0.1)
        air.foreign(2)
        air.press(WATCH)
        return await task

    frame = asyncio.run(pair())
    assert frame.mic_verified and frame.mac == WATCH
    assert any(o.name == "button" and o.value == "press" for o in frame.objects)


def test_a_press_with_the_wrong_key_times_out_saying_so() -> None:
    air = VirtualAir()
    air.add_watch(WATCH, bytes.fromhex(pairing.new_key()))

    async def pair() -> None:
        task = asyncio.create_task(
            pairing.listen_for_press(WATCH, pairing.new_key(), 0.5, air.backend))
        await asyncio.sleep(0.1)
        air.press(WATCH)
        await task

    with pytest.raises(pairing.PairingError, match="MIC"):
        asyncio.run(pair())


def test_append_watch_adds_an_inline_key(tmp_path: Path) -> None:
    path = _config(tmp_path)
    key = pairing.new_key()
    config = pairing.append_watch(path, WATCH.lower(), "r1", key)
    [watch] = config.roster.watches
    assert watch.mac == WATCH and watch.resident_id == "r1" and watch.key == bytes.fromhex(key)
    assert load_config(path).roster.watches == config.roster.watches


def test_append_watch_puts_the_key_in_the_keys_file_and_keeps_it_private(tmp_path: Path) -> None:
    path = _config(tmp_path, keys=True)
    key = pairing.new_key()
    config = pairing.append_watch(path, WATCH, "r1", key)
    assert config.roster.watches[0].key == bytes.fromhex(key)
    assert key not in path.read_text()
    keys_file = tmp_path / "keys.toml"
    assert key in keys_file.read_text()
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600


def test_append_watch_for_an_unknown_resident_changes_nothing(tmp_path: Path) -> None:
    path = _config(tmp_path, keys=True)
    before = path.read_text(), (tmp_path / "keys.toml").read_text()
    with pytest.raises(pairing.PairingError, match="nothing was changed"):
        pairing.append_watch(path, WATCH, "nobody", pairing.new_key())
    assert (path.read_text(), (tmp_path / "keys.toml").read_text()) == before


def test_pair_command_lists_chooses_hears_the_press_and_writes_the_roster(
        tmp_path, capsys) -> None:
    import argparse

    from edge.config.loader import load_config
    from edge.tools.cli_installer import add_pair_arguments
    from edge.tools.pairing import cmd_pair
    from firmware_bridge.simulators.virtual_air import VirtualAir
    from tests.building import key_for

    config = tmp_path / "hub.toml"
    config.write_text('[hub]\nid = "hub-3"\ncommunity = "c"\nbuilding = "3号楼"\n'
                      'address = "幸福里路 18 号"\n\n[[residents]]\nid = "r1"\nname = "王秀英"\n'
                      'room = "101"\n', encoding="utf-8")
    air = VirtualAir()
    mac = "A4:C1:38:77:00:01"
    air.add_watch(mac, key_for(7), name="SBBT-002C")
    air.when_scanning(lambda: air.battery(mac, 88))  # heard while the list is made
    air.when_scanning(lambda: air.press(mac))        # the installer asks for a press
    parser = argparse.ArgumentParser()
    add_pair_arguments(parser)
    args = parser.parse_args(["--config", str(config), "--scan", "0.6", "--timeout", "5",
                              "--choose"])
    answers = iter(["1", "r1", key_for(7).hex()])

    assert cmd_pair(args, backend=air.backend, ask=lambda prompt: next(answers)) == 0

    out = capsys.readouterr().out
    assert f"1. {mac}" in out and "encrypted  SBBT-002C" in out
    assert "button=press" in out and f"added {mac}" in out
    watches = load_config(config).roster.watches
    assert [(w.mac, w.resident_id, w.key) for w in watches] == [(mac, "r1", key_for(7))]


def _pair_sensor(tmp_path: Path, trigger: str, extra: list[str]) -> tuple[int, Path]:
    import argparse

    from edge.tools.cli_installer import add_pair_arguments
    from tests.building import key_for

    config = _config(tmp_path, keys=True)
    air = VirtualAir()
    sensor = "B0:C7:DE:00:00:05"
    air.add_watch(sensor, key_for(9))

    def act() -> None:
        air.battery(sensor, 90)  # a heartbeat proves nothing
        if trigger == "motion":
            air.motion(sensor)
        elif trigger == "door":
            air.door(sensor, True)
    air.when_scanning(act)
    parser = argparse.ArgumentParser()
    add_pair_arguments(parser)
    args = parser.parse_args(["--config", str(config), "--mac", sensor, "--resident", "r1",
                              "--key", key_for(9).hex(), "--timeout", "1", *extra])
    return pairing.cmd_pair(args, backend=air.backend), config


def test_pair_a_door_sensor_proves_a_real_trigger_and_adds_it_as_a_sensor(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from edge.domain import SensorKind

    assert _pair_sensor(tmp_path, "door", ["--sensor", "door", "--place", '卫生间 "门"'])[0] == 0
    out = capsys.readouterr().out
    assert "window=True" in out and "added B0:C7:DE:00:00:05" in out
    [sensor] = load_config(tmp_path / "hub.toml").roster.sensors
    assert (sensor.kind, sensor.place, sensor.resident_id) == (SensorKind.DOOR, '卫生间 "门"',
                                                               "r1")
    assert sensor.key is not None and sensor.key.hex() in (tmp_path / "keys.toml").read_text()


@pytest.mark.parametrize("trigger", ["heartbeat", "door"])
def test_pairing_a_motion_sensor_that_sends_no_motion_fails_and_changes_nothing(
        tmp_path: Path, trigger: str) -> None:
    with pytest.raises(pairing.PairingError, match="no trigger .* no motion event.*walk past"):
        _pair_sensor(tmp_path, trigger, ["--sensor", "motion", "--place", "卧室"])
    assert "sensors" not in (tmp_path / "hub.toml").read_text()


def test_a_sensor_needs_a_place(tmp_path: Path) -> None:
    with pytest.raises(pairing.PairingError, match="--sensor needs --place"):
        _pair_sensor(tmp_path, "motion", ["--sensor", "motion"])
