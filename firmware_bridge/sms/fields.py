"""SMS PDU fields (TS 23.040): addresses, the SMSC, timestamps and a byte reader; pure."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from firmware_bridge.errors import PduError
from firmware_bridge.sms import gsm7

TOA_INTERNATIONAL = 0x91
TOA_UNKNOWN = 0x81
TOA_ALPHANUMERIC = 0xD0
MAX_DIGITS = 20
MAX_ALPHA_SEPTETS = 11

_NUMBER = re.compile(r"\+?[0-9]+")
_DIGITS = "0123456789*#abc"


# --- encoding ------------------------------------------------------------------------------


def parse_number(text: str, field: str) -> tuple[int, str]:
    """(type of address, digits) of a phone number; spaces and dashes are dropped."""
    cleaned = re.sub(r"[\s-]", "", text)
    if not _NUMBER.fullmatch(cleaned):
        raise PduError(f"{field}: expected digits with an optional leading +, got {text!r}")
    digits = cleaned.lstrip("+")
    if len(digits) > MAX_DIGITS:
        raise PduError(f"{field}: expected at most {MAX_DIGITS} digits, got {len(digits)}")
    return (TOA_INTERNATIONAL if cleaned.startswith("+") else TOA_UNKNOWN), digits


def _bcd(digits: str) -> bytes:
    padded = digits + "F" * (len(digits) % 2)
    return bytes.fromhex("".join(padded[i + 1] + padded[i] for i in range(0, len(padded), 2)))


def encode_address(text: str, field: str, *, alphanumeric: bool = False) -> bytes:
    """TP-DA/TP-OA/TP-RA: digit count, type of address, swapped BCD (or packed GSM 7-bit)."""
    if alphanumeric and not _NUMBER.fullmatch(re.sub(r"[\s-]", "", text)):
        if not gsm7.is_gsm7(text) or not 0 < gsm7.septet_length(text) <= MAX_ALPHA_SEPTETS:
            raise PduError(f"{field}: an alphanumeric address is 1..{MAX_ALPHA_SEPTETS} "
                           f"GSM 7-bit characters, got {text!r}")
        septets = gsm7.to_septets(text)
        return bytes([(7 * len(septets) + 3) // 4, TOA_ALPHANUMERIC]) + gsm7.pack_septets(septets)
    toa, digits = parse_number(text, field)
    return bytes([len(digits), toa]) + _bcd(digits)


def encode_smsc(smsc: str) -> bytes:
    """The SMSC field: its length in octets, then type of address and BCD; "" gives 00."""
    if not smsc:
        return b"\x00"
    toa, digits = parse_number(smsc, "smsc")
    return bytes([1 + (len(digits) + 1) // 2, toa]) + _bcd(digits)


def encode_timestamp(moment: datetime, field: str) -> bytes:
    """TP-SCTS form: swapped BCD yymmddhhmmss and the UTC offset in signed quarter hours."""
    offset = moment.utcoffset()
    if offset is None:
        raise PduError(f"{field}: expected a timezone-aware datetime, got {moment.isoformat()}")
    quarters, rest = divmod(abs(int(offset.total_seconds())), 15 * 60)
    if rest or quarters > 79 or not 2000 <= moment.year <= 2099:
        raise PduError(f"{field}: expected a year 2000..2099 and a UTC offset in whole quarter "
                       f"hours up to 19:45, got {moment.isoformat()}")
    digits = moment.strftime("%y%m%d%H%M%S") + f"{quarters:02d}"
    octets = bytearray(_bcd(digits))
    if offset < timedelta(0):
        octets[6] |= 0x08
    return bytes(octets)


# --- decoding ------------------------------------------------------------------------------


class PduReader:
    """A cursor over a PDU that names the field when the bytes run out."""

    __slots__ = ("_at", "_data")

    def __init__(self, data: bytes) -> None:
        self._data = bytes(data)
        self._at = 0

    @property
    def left(self) -> int:
        """Octets not read yet."""
        return len(self._data) - self._at

    def take(self, count: int, field: str) -> bytes:
        """The next count octets of field."""
        if self.left < count:
            raise PduError(f"{field}: expected {count} bytes at offset {self._at}, "
                           f"only {self.left} left")
        self._at += count
        return self._data[self._at - count:self._at]

    def peek(self, field: str) -> int:
        """The next octet, field, left unread."""
        if not self.left:
            raise PduError(f"{field}: expected 1 byte at offset {self._at}, only 0 left")
        return self._data[self._at]

    def octet(self, field: str) -> int:
        """The next octet, field."""
        return self.take(1, field)[0]


def _semi_octets(data: bytes, count: int, field: str) -> str:
    nibbles = [n for octet in data for n in (octet & 0x0F, octet >> 4)][:count]
    if 0x0F in nibbles:
        raise PduError(f"{field}: filler F inside the digits {data.hex().upper()}")
    return "".join(_DIGITS[n] for n in nibbles)


def decode_address(reader: PduReader, field: str) -> str:
    """A TP-OA/TP-DA/TP-RA: "+" and digits, national digits, or an alphanumeric name."""
    length = reader.octet(f"{field} length")
    if length > MAX_DIGITS:
        raise PduError(f"{field}: length {length} is more than {MAX_DIGITS} semi-octets")
    toa = reader.octet(f"{field} type")
    value = reader.take((length + 1) // 2, field)
    ton = (toa >> 4) & 0x07
    if ton == 0b101:
        return gsm7.from_septets(gsm7.unpack_septets(value, length * 4 // 7))
    return ("+" if ton == 0b001 else "") + _semi_octets(value, length, field)


def decode_smsc(reader: PduReader) -> str:
    """The SMSC field: "+" and digits, national digits, or "" when the length is 0."""
    length = reader.octet("SMSC length")
    if length == 0:
        return ""
    if length > 1 + MAX_DIGITS // 2:
        raise PduError(f"SMSC: length {length} is more than {1 + MAX_DIGITS // 2} octets")
    toa = reader.octet("SMSC type")
    value = reader.take(length - 1, "SMSC")
    count = 2 * len(value) - (1 if value and value[-1] >> 4 == 0x0F else 0)
    digits = _semi_octets(value, count, "SMSC")
    return ("+" if (toa >> 4) & 0x07 == 0b001 else "") + digits


def _bcd_value(octet: int, field: str) -> int:
    tens, units = octet & 0x0F, octet >> 4
    if tens > 9 or units > 9:
        raise PduError(f"{field}: {octet:02X} is not two swapped decimal digits")
    return tens * 10 + units


def decode_timestamp(raw: bytes, field: str) -> datetime:
    """A TP-SCTS-form time, aware, in the offset it carries."""
    if len(raw) != 7:
        raise PduError(f"{field}: expected 7 bytes, got {len(raw)}")
    year, month, day, hour, minute, second = (_bcd_value(octet, field) for octet in raw[:6])
    quarters = _bcd_value(raw[6] & 0xF7, field) * (-1 if raw[6] & 0x08 else 1)
    zone = timezone(timedelta(minutes=15 * quarters))
    try:
        return datetime(2000 + year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError as error:
        raise PduError(f"{field}: {raw.hex().upper()} is not a valid time ({error})") from None
