"""The BTHome v2 object table: each object id's name, length, scale, unit and kind."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple

BTValue = int | float | bool | str | bytes

RAW_OBJECT_ID = 0x54
TEXT_OBJECT_ID = 0x53
COMMAND_ARGS_MASK = 0x1F


class Kind(StrEnum):
    """How the data bytes of an object turn into a value."""

    NUMBER = "number"
    BINARY = "binary"
    BUTTON = "button"
    DIMMER = "dimmer"
    COMMAND = "command"
    RAW = "raw"
    TEXT = "text"
    FIRMWARE = "firmware"


@dataclass(frozen=True, slots=True)
class ObjectSpec:
    """One row of the BTHome v2 object table; length 0 means a length byte follows the id."""

    object_id: int
    name: str
    length: int
    signed: bool = False
    factor: float = 1
    unit: str | None = None
    kind: Kind = Kind.NUMBER
    decimals: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        exponent = Decimal(repr(self.factor)).as_tuple().exponent
        object.__setattr__(self, "decimals", max(0, -exponent) if isinstance(exponent, int) else 0)

    @property
    def raw_range(self) -> tuple[int, int]:
        """The lowest and highest integer a numeric object's bytes can hold."""
        bits = 8 * self.length
        return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if self.signed else (0, (1 << bits) - 1)

    @property
    def label(self) -> str:
        """The id and name as error messages show them, e.g. "object 0x02 (temperature)"."""
        return f"object 0x{self.object_id:02x} ({self.name})"


class BTObject(NamedTuple):
    """One decoded BTHome object: its id, short name, value and unit.

    Immutable, like bleak's AdvertisementData; a named tuple because a frame carries
    several and a tuple is made several times faster than a frozen dataclass.
    """

    object_id: int
    name: str
    value: BTValue
    unit: str | None = None

    def to_json(self) -> dict[str, object]:
        """Return a JSON-ready dict; bytes values become a hex string."""
        value = self.value.hex() if isinstance(self.value, bytes) else self.value
        return {
            "id": f"0x{self.object_id:02x}",
            "name": self.name,
            "value": value,
            "unit": self.unit,
        }


def _num(
    object_id: int,
    name: str,
    length: int,
    factor: float = 1,
    unit: str | None = None,
    *,
    signed: bool = False,
) -> ObjectSpec:
    """A numeric table row."""
    return ObjectSpec(object_id, name, length, signed, factor, unit)


def _flag(object_id: int, name: str) -> ObjectSpec:
    """A binary-sensor table row (one byte, 0 or 1)."""
    return ObjectSpec(object_id, name, 1, kind=Kind.BINARY)


_ROWS: tuple[ObjectSpec, ...] = (
    _num(0x00, "packet_id", 1),
    _num(0x01, "battery", 1, unit="%"),
    _num(0x02, "temperature", 2, 0.01, "°C", signed=True),
    _num(0x03, "humidity", 2, 0.01, "%"),
    _num(0x04, "pressure", 3, 0.01, "hPa"),
    _num(0x05, "illuminance", 3, 0.01, "lx"),
    _num(0x06, "mass", 2, 0.01, "kg"),
    _num(0x07, "mass", 2, 0.01, "lb"),
    _num(0x08, "dew_point", 2, 0.01, "°C", signed=True),
    _num(0x09, "count", 1),
    _num(0x0A, "energy", 3, 0.001, "kWh"),
    _num(0x0B, "power", 3, 0.01, "W"),
    _num(0x0C, "voltage", 2, 0.001, "V"),
    _num(0x0D, "pm2_5", 2, unit="µg/m³"),
    _num(0x0E, "pm10", 2, unit="µg/m³"),
    _flag(0x0F, "generic_boolean"),
    _flag(0x10, "power"),
    _flag(0x11, "opening"),
    _num(0x12, "co2", 2, unit="ppm"),
    _num(0x13, "tvoc", 2, unit="µg/m³"),
    _num(0x14, "moisture", 2, 0.01, "%"),
    _flag(0x15, "battery_low"),
    _flag(0x16, "battery_charging"),
    _flag(0x17, "carbon_monoxide"),
    _flag(0x18, "cold"),
    _flag(0x19, "connectivity"),
    _flag(0x1A, "door"),
    _flag(0x1B, "garage_door"),
    _flag(0x1C, "gas"),
    _flag(0x1D, "heat"),
    _flag(0x1E, "light"),
    _flag(0x1F, "lock"),
    _flag(0x20, "moisture"),
    _flag(0x21, "motion"),
    _flag(0x22, "moving"),
    _flag(0x23, "occupancy"),
    _flag(0x24, "plug"),
    _flag(0x25, "presence"),
    _flag(0x26, "problem"),
    _flag(0x27, "running"),
    _flag(0x28, "safety"),
    _flag(0x29, "smoke"),
    _flag(0x2A, "sound"),
    _flag(0x2B, "tamper"),
    _flag(0x2C, "vibration"),
    _flag(0x2D, "window"),
    _num(0x2E, "humidity", 1, unit="%"),
    _num(0x2F, "moisture", 1, unit="%"),
    ObjectSpec(0x3A, "button", 1, kind=Kind.BUTTON),
    ObjectSpec(0x3B, "command", 0, kind=Kind.COMMAND),
    ObjectSpec(0x3C, "dimmer", 2, kind=Kind.DIMMER),
    _num(0x3D, "count", 2),
    _num(0x3E, "count", 4),
    _num(0x3F, "rotation", 2, 0.1, "°", signed=True),
    _num(0x40, "distance", 2, unit="mm"),
    _num(0x41, "distance", 2, 0.1, "m"),
    _num(0x42, "duration", 3, 0.001, "s"),
    _num(0x43, "current", 2, 0.001, "A"),
    _num(0x44, "speed", 2, 0.01, "m/s"),
    _num(0x45, "temperature", 2, 0.1, "°C", signed=True),
    _num(0x46, "uv_index", 1, 0.1),
    _num(0x47, "volume", 2, 0.1, "L"),
    _num(0x48, "volume", 2, unit="mL"),
    _num(0x49, "volume_flow_rate", 2, 0.001, "m³/h"),
    _num(0x4A, "voltage", 2, 0.1, "V"),
    _num(0x4B, "gas", 3, 0.001, "m³"),
    _num(0x4C, "gas", 4, 0.001, "m³"),
    _num(0x4D, "energy", 4, 0.001, "kWh"),
    _num(0x4E, "volume", 4, 0.001, "L"),
    _num(0x4F, "water", 4, 0.001, "L"),
    _num(0x50, "timestamp", 4, unit="s"),
    _num(0x51, "acceleration", 2, 0.001, "m/s²"),
    _num(0x52, "gyroscope", 2, 0.001, "°/s"),
    ObjectSpec(TEXT_OBJECT_ID, "text", 0, kind=Kind.TEXT),
    ObjectSpec(RAW_OBJECT_ID, "raw", 0, kind=Kind.RAW),
    _num(0x55, "volume_storage", 4, 0.001, "L"),
    _num(0x56, "conductivity", 2, unit="µS/cm"),
    _num(0x57, "temperature", 1, unit="°C", signed=True),
    _num(0x58, "temperature", 1, 0.35, "°C", signed=True),
    _num(0x59, "count", 1, signed=True),
    _num(0x5A, "count", 2, signed=True),
    _num(0x5B, "count", 4, signed=True),
    _num(0x5C, "power", 4, 0.01, "W", signed=True),
    _num(0x5D, "current", 2, 0.001, "A", signed=True),
    _num(0x5E, "direction", 2, 0.01, "°"),
    _num(0x5F, "precipitation", 2, 0.1, "mm"),
    _num(0x60, "channel", 1),
    _num(0x61, "rotational_speed", 2, unit="rpm"),
    _num(0x62, "speed", 4, 0.000001, "m/s", signed=True),
    _num(0x63, "acceleration", 4, 0.000001, "m/s²", signed=True),
    _num(0x64, "light_level", 1),
    _num(0x65, "settings_revision", 1),
    _num(0xF0, "device_type_id", 2),
    ObjectSpec(0xF1, "firmware_version", 4, kind=Kind.FIRMWARE),
    ObjectSpec(0xF2, "firmware_version", 3, kind=Kind.FIRMWARE),
)

OBJECT_SPECS: Mapping[int, ObjectSpec] = MappingProxyType({row.object_id: row for row in _ROWS})

BUTTON_EVENTS: Mapping[int, str] = MappingProxyType({
    0x00: "none", 0x01: "press", 0x02: "double_press", 0x03: "triple_press", 0x04: "long_press",
    0x05: "long_double_press", 0x06: "long_triple_press", 0x80: "hold_press",
})  # fmt: skip
DIMMER_EVENTS: Mapping[int, str] = MappingProxyType(
    {0x00: "none", 0x01: "rotate_left", 0x02: "rotate_right"}
)
COMMAND_EVENTS: Mapping[int, str] = MappingProxyType(
    {0x00: "off", 0x01: "on", 0x02: "toggle", 0x03: "step_up", 0x04: "step_down"}
)
