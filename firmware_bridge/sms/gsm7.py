"""GSM 7-bit default alphabet and its extension table (TS 23.038 6.2.1); septet packing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from firmware_bridge.errors import PduError

ESCAPE = 0x1B
SEPTET_MASK = 0x7F

# Code point n of the default alphabet is BASIC[n]; 0x1B (ESCAPE) shows as a space.
BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
EXTENSION: Mapping[str, int] = MappingProxyType({
    "\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F,
    "[": 0x3C, "~": 0x3D, "]": 0x3E, "|": 0x40, "€": 0x65,
})

_BASIC_CODES: Mapping[str, int] = MappingProxyType(
    {char: code for code, char in enumerate(BASIC) if code != ESCAPE})
_EXTENSION_CHARS: Mapping[int, str] = MappingProxyType(
    {code: char for char, code in EXTENSION.items()})


def is_gsm7(text: str) -> bool:
    """True when every character of text is in the default alphabet or its extension."""
    return all(char in _BASIC_CODES or char in EXTENSION for char in text)


def char_septets(char: str) -> int:
    """Septets one character costs: 1 in the default alphabet, 2 (escape + code) if extended."""
    if char in _BASIC_CODES:
        return 1
    if char in EXTENSION:
        return 2
    raise PduError(f"text: {char!r} (U+{ord(char):04X}) is not in the GSM 7-bit alphabet")


def septet_length(text: str) -> int:
    """Septets text takes in GSM 7-bit, counting extended characters twice."""
    return sum(char_septets(char) for char in text)


def to_septets(text: str) -> list[int]:
    """Text as GSM 7-bit codes, extended characters as ESCAPE followed by their code."""
    septets: list[int] = []
    for char in text:
        code = _BASIC_CODES.get(char)
        if code is None:
            char_septets(char)  # raises for characters outside both tables
            septets.extend((ESCAPE, EXTENSION[char]))
        else:
            septets.append(code)
    return septets


def from_septets(septets: Sequence[int]) -> str:
    """Text from GSM 7-bit codes, as a receiving phone shows it (TS 23.038 6.2.1.1)."""
    chars: list[str] = []
    escaped = False
    for code in septets:
        if escaped:
            # An unknown extension code shows its default-alphabet character; ESC ESC a space.
            chars.append(" " if code == ESCAPE else _EXTENSION_CHARS.get(code, BASIC[code]))
            escaped = False
        elif code == ESCAPE:
            escaped = True
        else:
            chars.append(BASIC[code])
    if escaped:
        chars.append(" ")
    return "".join(chars)


def pack_septets(septets: Sequence[int], fill_bits: int = 0) -> bytes:
    """Pack septets LSB first into octets, after fill_bits zero bits (0..6, for a UDH)."""
    _check_fill(fill_bits)
    value = 0
    for index, code in enumerate(septets):
        if not 0 <= code <= SEPTET_MASK:
            raise PduError(f"septet {index}: expected 0..127, got {code}")
        value |= code << (fill_bits + 7 * index)
    return value.to_bytes(packed_length(len(septets), fill_bits), "little")


def unpack_septets(data: bytes, count: int, fill_bits: int = 0) -> list[int]:
    """Read count septets packed LSB first in data, after fill_bits leading bits."""
    _check_fill(fill_bits)
    if count < 0:
        raise PduError(f"UD: expected a septet count of 0 or more, got {count}")
    needed = packed_length(count, fill_bits)
    if len(data) < needed:
        raise PduError(
            f"UD: {count} septets need {needed} bytes but only {len(data)} bytes follow")
    value = int.from_bytes(data[:needed], "little") >> fill_bits
    return [(value >> (7 * index)) & SEPTET_MASK for index in range(count)]


def packed_length(count: int, fill_bits: int = 0) -> int:
    """Octets that count septets take after fill_bits leading bits."""
    return (fill_bits + 7 * count + 7) // 8


def _check_fill(fill_bits: int) -> None:
    if not 0 <= fill_bits <= 6:
        raise PduError(f"fill_bits: expected 0..6, got {fill_bits}")
