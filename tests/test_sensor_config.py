"""[[sensors]] in hub.toml and in a pushed roster: checked like watches, keys included."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from cloud_sync.contract.roster_file import KeysFile, parse_roster
from cloud_sync.server.roster import roster_fields
from edge.config.loader import load_config, parse_config
from edge.domain import Sensor, SensorKind
from edge.errors import ConfigError
from tests.test_config import KEY_A, KEY_B, MAC_A, building

DOOR = "B0:C7:DE:00:03:01"
KEY_S = "8a1f0c3e5d7b9a2c4e6f8a0b1c3d5e7f"
CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"


def with_sensor(**values: Any) -> dict[str, Any]:
    data = copy.deepcopy(building())
    sensor = {"mac": DOOR.lower(), "resident": "r-301", "kind": "door",
              "place": "卫生间门", "key": KEY_S}
    sensor.update(values)
    data["sensors"] = [{k: v for k, v in sensor.items() if v is not None}]
    return data


def parse(data: dict[str, Any], keys: KeysFile | None = None) -> Any:
    return parse_config(data, source="hub.toml", base_dir=Path("/etc/edge-hub"), keys=keys)


def test_a_sensor_is_read_into_the_roster_with_its_mac_normalised() -> None:
    roster = parse(with_sensor()).roster
    assert roster.sensors == (Sensor(DOOR, "r-301", SensorKind.DOOR, "卫生间门",
                                     bytes.fromhex(KEY_S)),)


@pytest.mark.parametrize(("values", "expected"), [
    ({"kind": "camera"}, 'hub.toml: sensors[0].kind: expected one of motion, door'),
    ({"resident": "r-999"}, "sensors[0].resident: no resident with id 'r-999'"),
    ({"key": None}, f"sensors[0] ({DOOR}): no key; add key"),
    ({"place": None}, "sensors[0].place"),
    ({"mac": MAC_A}, f"sensors[0].mac: {MAC_A} is also a [[watches]] entry"),
    ({"key": "12"}, "sensors[0].key: expected 32 hex digits"),
])
def test_a_wrong_sensor_entry_is_refused_naming_the_field(values: dict[str, Any],
                                                          expected: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(expected)):
        parse(with_sensor(**values))


def test_a_sensors_key_may_be_in_the_keys_file_but_not_in_both_places() -> None:
    keys = KeysFile("keys.toml", {MAC_A: bytes.fromhex(KEY_A), DOOR: bytes.fromhex(KEY_B)})
    data = with_sensor(key=None)
    data["watches"][0].pop("key")
    assert parse(data, keys).roster.sensors[0].key == bytes.fromhex(KEY_B)
    with pytest.raises(ConfigError, match="also has a key in keys file keys.toml"):
        parse(with_sensor(), KeysFile("keys.toml", {DOOR: bytes.fromhex(KEY_B)}))


def test_a_pushed_roster_carries_sensors_both_ways() -> None:
    roster = parse(with_sensor()).roster
    fields = roster_fields(roster, "r7")
    assert fields["sensors"] == [{"mac": DOOR, "resident": "r-301", "kind": "door",
                                  "place": "卫生间门", "key": KEY_S}]
    again = parse_roster(fields, source="roster r7", default_address="幸福里路 18 号")
    assert again.sensors == roster.sensors
    assert "sensors" not in roster_fields(parse(building()).roster, "r8")


def test_the_examples_sensor_loads_when_uncommented(tmp_path: Path) -> None:
    text = (CONFIG_DIR / "hub.example.toml").read_text(encoding="utf-8")
    block = re.search(r"^# \[\[sensors\]\]\n(?:# .*\n)+", text, re.MULTILINE)
    assert block, "hub.example.toml has no commented-out sensor"
    path = tmp_path / "hub.toml"
    path.write_text(text.replace(block.group(0), re.sub(r"^# ", "", block.group(0),
                                                        flags=re.MULTILINE)), encoding="utf-8")
    [sensor] = load_config(path).roster.sensors
    assert (sensor.kind, sensor.place) == (SensorKind.DOOR, "卫生间门")
