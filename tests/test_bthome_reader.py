"""The table-driven object reader gives exactly the values of the BTHome v2 definitions.

parse_objects reads one-byte objects from values decoded ahead, what follows the packet id
from the readings it read recently, and divides numbers scaled by 0.01, 0.001... instead of
multiplying and rounding; each value here is checked against the plain definition (raw
bytes, little-endian, times the factor, rounded to its decimals), type included, and every
short object still says what is missing.
"""

from __future__ import annotations

import random
import re

import pytest

from firmware_bridge.ble import bthome_objects
from firmware_bridge.ble.bthome_objects import (
    BUTTON_EVENTS,
    OBJECT_SPECS,
    BTObject,
    BTValue,
    Kind,
    ObjectSpec,
    parse_objects,
)
from firmware_bridge.errors import FrameError


def defined_value(spec: ObjectSpec, data: bytes) -> BTValue:
    """The value as the BTHome v2 table defines it, computed the slow, obvious way."""
    if spec.kind is Kind.BINARY:
        return data[0] != 0
    if spec.kind is Kind.BUTTON:
        return BUTTON_EVENTS.get(data[0]) or f"unknown_0x{data[0]:02x}"
    raw = int.from_bytes(data, "little", signed=spec.signed)
    return raw if spec.factor == 1 else round(raw * spec.factor, spec.decimals)


def raw_samples(spec: ObjectSpec) -> list[int]:
    """Every raw value of 1- and 2-byte objects; edges and 3,000 random ones for longer."""
    low, high = spec.raw_range
    if spec.length <= 2:
        return list(range(low, high + 1))
    picked = random.Random(spec.object_id)
    edges = [low, low + 1, -1, 0, 1, 99, 100, 101, 999, 1000, 1001, high - 1, high]
    return [raw for raw in edges if low <= raw <= high] + [
        picked.randint(low, high) for _ in range(3000)
    ]


FIXED = sorted(
    object_id for object_id, spec in OBJECT_SPECS.items()
    if spec.kind in (Kind.NUMBER, Kind.BINARY, Kind.BUTTON)
)


@pytest.mark.parametrize("object_id", FIXED, ids=lambda object_id: f"0x{object_id:02x}")
def test_every_fixed_object_reads_to_its_defined_value_and_type(object_id: int) -> None:
    spec = OBJECT_SPECS[object_id]
    for raw in raw_samples(spec):
        data = raw.to_bytes(spec.length, "little", signed=spec.signed)
        # after a one-byte object, as in every real frame (packet id first)
        (_, obj), unknown = parse_objects(bytes((0x00, 7, object_id)) + data)
        expected = defined_value(spec, data)
        assert unknown is None
        assert obj == BTObject(object_id, spec.name, expected, spec.unit), (spec.label, data)
        assert type(obj.value) is type(expected), (spec.label, data)
        (_, again), _ = parse_objects(bytes((0x00, 8, object_id)) + data)
        assert again == obj and type(again.value) is type(expected), (spec.label, data)


def test_readings_after_the_packet_id_are_kept_bounded() -> None:
    spec = OBJECT_SPECS[0x05]  # illuminance, 3 bytes
    for raw in range(3 * bthome_objects.RECENT):
        data = raw.to_bytes(spec.length, "little")
        assert parse_objects(bytes((0x00, 1, 0x05)) + data)[0][1].value == raw / 100
        assert len(bthome_objects._TAILS) <= bthome_objects.RECENT
    for raw in (0, 12_000, 3 * bthome_objects.RECENT - 1):
        tail = bytes((0x05,)) + raw.to_bytes(spec.length, "little")
        (_, first), _ = parse_objects(bytes((0x00, 1)) + tail)
        (packet_id, again), _ = parse_objects(bytes((0x00, 2)) + tail)
        assert again is first  # kept, not read again
        assert packet_id == BTObject(0x00, "packet_id", 2)  # the packet id is the new one's


def test_a_kept_reading_keeps_its_unknown_object_and_a_long_tail_is_read_each_time() -> None:
    tail = bytes.fromhex("015aee01")  # battery, then an object id the table does not know
    assert parse_objects(bytes((0x00, 1)) + tail) == (
        (BTObject(0x00, "packet_id", 1), BTObject(0x01, "battery", 90, "%")), 0xEE)
    assert parse_objects(bytes((0x00, 2)) + tail) == (
        (BTObject(0x00, "packet_id", 2), BTObject(0x01, "battery", 90, "%")), 0xEE)
    assert parse_objects(bytes((0x00, 3, 0xEE))) == ((BTObject(0x00, "packet_id", 3),), 0xEE)
    long_tail = bytes.fromhex("015a") * (bthome_objects.TAIL_BYTES // 2 + 1)
    objects, unknown = parse_objects(bytes((0x00, 4)) + long_tail)
    assert unknown is None and len(objects) == 1 + len(long_tail) // 2
    assert long_tail not in bthome_objects._TAILS


def test_flags_read_any_non_zero_byte_as_true() -> None:
    flags = [spec for spec in OBJECT_SPECS.values() if spec.kind is Kind.BINARY]
    for spec in flags:
        values = [parse_objects(bytes((spec.object_id, byte)))[0][0].value for byte in range(256)]
        assert values == [False] + [True] * 255, spec.label


@pytest.mark.parametrize("object_id", FIXED, ids=lambda object_id: f"0x{object_id:02x}")
def test_every_short_fixed_object_says_what_is_missing(object_id: int) -> None:
    spec = OBJECT_SPECS[object_id]
    parse_objects(bytes((0x00, 1, object_id)) + bytes(spec.length))  # the whole one is kept
    for have in range(spec.length):
        message = f"{spec.label} needs {spec.length} bytes at offset 3, only {have} left"
        for first in (0x00, 0x01):  # after a packet id (its own tail), after a battery
            with pytest.raises(FrameError, match=re.escape(message)):
                parse_objects(bytes((first, 80, object_id)) + bytes(have))


def test_a_sensor_frame_reads_packet_battery_light_and_motion() -> None:
    payload = bytes.fromhex("0007015a05e02e002101")
    objects, unknown = parse_objects(payload)
    assert unknown is None
    assert objects == (
        BTObject(0x00, "packet_id", 7),
        BTObject(0x01, "battery", 90, "%"),
        BTObject(0x05, "illuminance", 120.0, "lx"),
        BTObject(0x21, "motion", True),
    )


def test_a_payload_in_a_bytearray_reads_the_same() -> None:
    payload = bytes.fromhex("0007015a05e02e002101")
    assert parse_objects(bytearray(payload)) == parse_objects(payload)
    assert parse_objects(memoryview(payload)) == parse_objects(payload)
