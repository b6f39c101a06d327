"""The pure codec for the objects inside a BTHome v2 frame (the table is bthome_table)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from types import MappingProxyType

from firmware_bridge.ble.bthome_table import (
    BUTTON_EVENTS,
    COMMAND_ARGS_MASK,
    COMMAND_EVENTS,
    DIMMER_EVENTS,
    OBJECT_SPECS,
    RAW_OBJECT_ID,
    TEXT_OBJECT_ID,
    BTObject,
    BTValue,
    Kind,
    ObjectSpec,
)
from firmware_bridge.errors import FrameError

__all__ = [
    "BUTTON_EVENTS", "COMMAND_EVENTS", "DIMMER_EVENTS", "OBJECT_SPECS", "RAW_OBJECT_ID",
    "TEXT_OBJECT_ID", "BTObject", "BTValue", "Kind", "ObjectSpec", "pack_objects",
    "parse_objects",
]


def _event_name(events: Mapping[int, str], code: int) -> str:
    """Return the event's name, or "unknown_0xNN" for a code the spec does not list."""
    return events.get(code) or f"unknown_0x{code:02x}"


def _decode_number(spec: ObjectSpec, data: bytes) -> BTValue:
    raw = int.from_bytes(data, "little", signed=spec.signed)
    return raw if spec.factor == 1 else round(raw * spec.factor, spec.decimals)


def _decode_text(spec: ObjectSpec, data: bytes) -> BTValue:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise FrameError(f"{spec.label} is not valid UTF-8: {data.hex()}") from None


def _decode_command(spec: ObjectSpec, data: bytes) -> BTValue:
    name = _event_name(COMMAND_EVENTS, data[0])
    return f"{name}:{data[1:].hex()}" if len(data) > 1 else name


_DECODERS: Mapping[Kind, Callable[[ObjectSpec, bytes], BTValue]] = MappingProxyType({
    Kind.NUMBER: _decode_number,
    Kind.BINARY: lambda spec, data: data[0] != 0,
    Kind.BUTTON: lambda spec, data: _event_name(BUTTON_EVENTS, data[0]),
    Kind.DIMMER: lambda spec, data: f"{_event_name(DIMMER_EVENTS, data[0])}:{data[1]}",
    Kind.COMMAND: _decode_command,
    Kind.RAW: lambda spec, data: bytes(data),
    Kind.TEXT: _decode_text,
    Kind.FIRMWARE: lambda spec, data: ".".join(str(part) for part in reversed(data)),
})  # fmt: skip


def _data_span(spec: ObjectSpec, payload: bytes, offset: int) -> tuple[int, int]:
    """Return where the object's data starts and ends; offset is just past the object id."""
    length = spec.length
    if length == 0:
        if offset >= len(payload):
            raise FrameError(f"{spec.label} needs a length byte at offset {offset}, none left")
        length_byte = payload[offset]
        length = 1 + (length_byte & COMMAND_ARGS_MASK) if spec.kind is Kind.COMMAND else length_byte
        offset += 1
    end = offset + length
    if end > len(payload):
        left = len(payload) - offset
        raise FrameError(f"{spec.label} needs {length} bytes at offset {offset}, only {left} left")
    return offset, end


# How each object id is read, built once: the data length (0 when a length byte says), the
# table row, and a reader from the object's data bytes to the decoded object.
_Reader = tuple[int, ObjectSpec, Callable[[bytes], BTObject]]


def _decimal_divisor(spec: ObjectSpec) -> int | None:
    """10**n when the factor is exactly 10**-n (0.01, 0.001...), else None.

    Dividing by it gives the same float as round(raw * factor, n) for any raw value below
    2**51 (BTHome numbers have at most 4 bytes), without the slow rounding.
    """
    divisor = 10**spec.decimals
    return divisor if spec.factor != 1 and Decimal(repr(spec.factor)) * divisor == 1 else None


def _object_reader(spec: ObjectSpec) -> Callable[[bytes], BTObject]:
    """The decoder of one table row, its constants bound, returning the whole object."""
    object_id, name, unit, divisor = spec.object_id, spec.name, spec.unit, _decimal_divisor(spec)
    make, from_bytes, signed = tuple.__new__, int.from_bytes, spec.signed  # make: no __new__ call
    if spec.kind is Kind.NUMBER and divisor is not None:
        return lambda data: make(BTObject, (
            object_id, name, from_bytes(data, "little", signed=signed) / divisor, unit))
    decode = _DECODERS[spec.kind]
    return lambda data: make(BTObject, (object_id, name, decode(spec, data), unit))


_READERS: tuple[_Reader | None, ...] = tuple(
    (spec.length, spec, _object_reader(spec)) if (spec := OBJECT_SPECS.get(object_id)) else None
    for object_id in range(256)
)
# Each one-byte object's decoded values by byte, filled as bytes are first seen (a battery
# level, a packet id: a few hundred objects in all, where decoding every byte of every
# one-byte object ahead would keep some 10,000 in memory). Only ever filled with what the
# pure reader returns, so a cached object is the very one a fresh decode would give.
_ONE_BYTE: tuple[list[BTObject | None] | None, ...] = tuple(
    [None] * 256 if reader is not None and reader[0] == 1 else None for reader in _READERS)
# The objects after the packet id, by their bytes, as read recently: a device sends the same
# readings again and again under a new packet id (a watch's battery, a sensor's motion,
# light and battery), and one lookup is cheaper than reading each object again, however many
# there are. Only what _read returned is kept (never a refusal, which raises), so a kept
# reading is the very one a fresh read would give. Bounded: once RECENT are kept, they are
# dropped and kept afresh; a tail longer than TAIL_BYTES is read every time.
PACKET_ID, RECENT, TAIL_BYTES = 0x00, 256, 32
_packet_ids = _ONE_BYTE[PACKET_ID]
assert _packet_ids is not None, "the packet id is a one-byte object"
_PACKET_IDS: list[BTObject | None] = _packet_ids
_Read = tuple[tuple[BTObject, ...], int | None]
_TAILS: dict[bytes, _Read] = {}


def _one_byte(object_id: int, byte: int) -> BTObject:
    """A one-byte object decoded once and kept (see _ONE_BYTE)."""
    reader, kept = _READERS[object_id], _ONE_BYTE[object_id]
    assert reader is not None and kept is not None
    found = kept[byte] = reader[2](bytes((byte,)))
    return found


def parse_objects(payload: bytes) -> tuple[tuple[BTObject, ...], int | None]:
    """Parse objects in order; stop cleanly at an unknown id and return it as the second element."""
    if type(payload) is not bytes:  # a bytearray or memoryview: the kept tails' keys are bytes
        payload = bytes(payload)
    if len(payload) < 2 or payload[0] != PACKET_ID:
        return _read(payload, 0)
    tail = payload[2:]
    read = _TAILS.get(tail)
    if read is None:
        read = _read(payload, 2)  # from offset 2 of the whole: a refusal names the offset
        if len(tail) <= TAIL_BYTES:
            if len(_TAILS) >= RECENT:
                _TAILS.clear()
            _TAILS[tail] = read
    packet_id = _PACKET_IDS[payload[1]] or _one_byte(PACKET_ID, payload[1])
    return (packet_id, *read[0]), read[1]


def _read(payload: bytes, offset: int) -> _Read:
    """The objects from `offset` on, each read from its table row."""
    objects: list[BTObject] = []
    append, end = objects.append, len(payload)
    while offset < end:
        object_id = payload[offset]
        known = _ONE_BYTE[object_id]
        if known is not None and offset + 1 < end:  # a one-byte object: a table lookup
            append(known[payload[offset + 1]] or _one_byte(object_id, payload[offset + 1]))
            offset += 2
            continue
        reader = _READERS[object_id]
        if reader is None:
            return tuple(objects), object_id
        length, spec, read = reader
        offset += 1
        stop = offset + length
        if not length or stop > end:  # a length byte follows the id, or too few bytes left
            offset, stop = _data_span(spec, payload, offset)
        append(read(payload[offset:stop]))
        offset = stop
    return tuple(objects), None


def _encode_number(spec: ObjectSpec, value: object) -> bytes:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{spec.label} takes a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{spec.label} takes a finite number, got {value!r}")
    if spec.factor == 1 and value != int(value):
        raise ValueError(f"{spec.label} takes a whole number, got {value!r}")
    low, high = spec.raw_range
    try:
        raw = int(value) if spec.factor == 1 else round(value / spec.factor)
    except OverflowError:
        raw = high + 1
    if not low <= raw <= high:
        shown = (
            f"{round(low * spec.factor, spec.decimals)}..{round(high * spec.factor, spec.decimals)}"
        )
        raise ValueError(f"{spec.label} value {value!r} is out of range {shown}")
    return raw.to_bytes(spec.length, "little", signed=spec.signed)


def _encode_binary(spec: ObjectSpec, value: object) -> bytes:
    if not isinstance(value, int) or value not in (0, 1):
        raise ValueError(f"{spec.label} takes True or False, got {value!r}")
    return b"\x01" if value else b"\x00"


def _event_code(spec: ObjectSpec, events: Mapping[int, str], name: str) -> int:
    """Return the code of an event name, accepting the "unknown_0xNN" form too."""
    for code, known in events.items():
        if known == name:
            return code
    digits = name.removeprefix("unknown_0x")
    if len(digits) == 2 and all(digit in "0123456789abcdef" for digit in digits):
        return int(digits, 16)
    raise ValueError(
        f"{spec.label} has no event {name!r}; expected one of {', '.join(events.values())}"
    )


def _split_event(spec: ObjectSpec, value: object) -> tuple[str, str | None]:
    if not isinstance(value, str):
        raise ValueError(f"{spec.label} takes an event name string, got {value!r}")
    name, separator, argument = value.partition(":")
    return name, (argument if separator else None)


def _encode_button(spec: ObjectSpec, value: object) -> bytes:
    name, argument = _split_event(spec, value)
    if argument is not None:
        raise ValueError(f"{spec.label} takes a bare event name like 'press', got {value!r}")
    return bytes((_event_code(spec, BUTTON_EVENTS, name),))


def _encode_dimmer(spec: ObjectSpec, value: object) -> bytes:
    name, steps = _split_event(spec, value)
    if steps is None or not _is_byte(steps):
        raise ValueError(
            f"{spec.label} takes 'rotate_left:N' or 'rotate_right:N' (N 0..255), got {value!r}"
        )
    return bytes((_event_code(spec, DIMMER_EVENTS, name), int(steps)))


def _encode_command(spec: ObjectSpec, value: object) -> bytes:
    name, argument = _split_event(spec, value)
    try:
        args = bytes.fromhex(argument or "")
    except ValueError:
        raise ValueError(f"{spec.label} arguments must be hex, got {value!r}") from None
    if len(args) > COMMAND_ARGS_MASK:
        raise ValueError(
            f"{spec.label} takes at most {COMMAND_ARGS_MASK} argument bytes, got {len(args)}"
        )
    return bytes((len(args), _event_code(spec, COMMAND_EVENTS, name))) + args


def _encode_raw(spec: ObjectSpec, value: object) -> bytes:
    if not isinstance(value, bytes | bytearray):
        raise ValueError(f"{spec.label} takes bytes, got {value!r}")
    if len(value) > 255:
        raise ValueError(f"{spec.label} holds at most 255 bytes, got {len(value)}")
    return bytes((len(value),)) + bytes(value)


def _encode_text(spec: ObjectSpec, value: object) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"{spec.label} takes a str, got {value!r}")
    return _encode_raw(spec, value.encode("utf-8"))


def _is_byte(text: str) -> bool:
    """Whether text is a plain decimal number 0..255."""
    return text.isascii() and text.isdigit() and int(text) <= 255


def _encode_firmware(spec: ObjectSpec, value: object) -> bytes:
    parts = value.split(".") if isinstance(value, str) else []
    if len(parts) != spec.length or not all(_is_byte(part) for part in parts):
        form = ".".join("abcd"[: spec.length])
        raise ValueError(f"{spec.label} takes a version '{form}' with parts 0..255, got {value!r}")
    return bytes(int(part) for part in reversed(parts))


_ENCODERS: Mapping[Kind, Callable[[ObjectSpec, object], bytes]] = MappingProxyType({
    Kind.NUMBER: _encode_number, Kind.BINARY: _encode_binary, Kind.BUTTON: _encode_button,
    Kind.DIMMER: _encode_dimmer, Kind.COMMAND: _encode_command, Kind.RAW: _encode_raw,
    Kind.TEXT: _encode_text, Kind.FIRMWARE: _encode_firmware,
})  # fmt: skip


def pack_objects(objects: Sequence[tuple[int, object]]) -> bytes:
    """Return the bytes of (object id, value) pairs; ValueError for an unknown id or a bad value."""
    chunks: list[bytes] = []
    for object_id, value in objects:
        spec = OBJECT_SPECS.get(object_id) if isinstance(object_id, int) else None
        if spec is None:
            shown = f"0x{object_id:02x}" if isinstance(object_id, int) else repr(object_id)
            raise ValueError(f"unknown BTHome object id {shown}; see OBJECT_SPECS for the v2 table")
        chunks.append(bytes((object_id,)) + _ENCODERS[spec.kind](spec, value))
    return b"".join(chunks)
