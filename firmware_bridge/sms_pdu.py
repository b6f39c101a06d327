"""SMS PDUs (TS 23.040): SUBMIT encode; DELIVER and STATUS-REPORT decode and encode; pure."""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import TYPE_CHECKING

from edge.errors import PduError
from firmware_bridge import gsm7

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

MTI_DELIVER = 0b00
MTI_SUBMIT = 0b01
MTI_STATUS_REPORT = 0b10
MMS_NO_MORE = 0x04
SRR = 0x20
UDHI = 0x40
DCS_GSM7 = 0x00
DCS_UCS2 = 0x08
TOA_INTERNATIONAL = 0x91
TOA_UNKNOWN = 0x81
TOA_ALPHANUMERIC = 0xD0
DEFAULT_SMSC = "+8613800100500"
MAX_UD_OCTETS = 140
MAX_PARTS = 255
MAX_DIGITS = 20
MAX_ALPHA_SEPTETS = 11

_NUMBER = re.compile(r"\+?[0-9]+")
_DIGITS = "0123456789*#abc"


@dataclass(frozen=True, slots=True)
class Concat:
    """The concatenation element of a UDH: which part of which long message this is."""

    reference: int
    total: int
    sequence: int
    ref_bits: int = 8

    def to_json(self) -> dict[str, object]:
        """Fields as a JSON-ready dict."""
        return _json(self)


@dataclass(frozen=True, slots=True)
class SubmitPart:
    """One SMS-SUBMIT TPDU of a message, ready for AT+CMGS in PDU mode."""

    tpdu: bytes
    part: int
    parts: int

    @property
    def cmgs_length(self) -> int:
        """The <length> of AT+CMGS=<length>: TPDU octets, the SMSC field not counted."""
        return len(self.tpdu)

    @property
    def at_hex(self) -> str:
        """What is typed after the "> " prompt: SMSC "00" (the SIM's) and the TPDU in hex."""
        return "00" + self.tpdu.hex().upper()


@dataclass(frozen=True, slots=True)
class Deliver:
    """A received SMS-DELIVER: one part of a text sent to the hub (8-bit data as hex)."""

    smsc: str
    sender: str
    timestamp: datetime
    text: str
    encoding: str
    concat: Concat | None
    pid: int
    dcs: int

    def to_json(self) -> dict[str, object]:
        """Fields as a JSON-ready dict."""
        return {"type": "SMS-DELIVER"} | _json(self)


@dataclass(frozen=True, slots=True)
class StatusReport:
    """A received SMS-STATUS-REPORT: what became of the SUBMIT with message_reference."""

    smsc: str
    message_reference: int
    recipient: str
    sc_timestamp: datetime
    discharge_time: datetime
    status: int

    @property
    def delivered(self) -> bool:
        """True for "short message transaction completed" (0x00..0x1F)."""
        return self.status <= 0x1F

    @property
    def final(self) -> bool:
        """False only while the SC is still trying (0x20..0x3F); no other report will follow."""
        return not 0x20 <= self.status <= 0x3F

    @property
    def status_text(self) -> str:
        """TS 23.040 9.2.3.15 meaning of the status."""
        return status_text(self.status)

    def to_json(self) -> dict[str, object]:
        """Fields as a JSON-ready dict, with what the status means."""
        return {"type": "SMS-STATUS-REPORT"} | _json(self) | {
            "status_text": self.status_text, "delivered": self.delivered, "final": self.final}


@dataclass(frozen=True, slots=True)
class Submit:
    """A decoded SMS-SUBMIT: what a phone or the hub handed its modem to send."""

    recipient: str
    text: str
    encoding: str
    concat: Concat | None
    message_reference: int
    status_report_requested: bool
    validity_present: bool

    def to_json(self) -> dict[str, object]:
        """Fields as a JSON-ready dict."""
        return {"type": "SMS-SUBMIT"} | _json(self)


def _json(record: DataclassInstance) -> dict[str, object]:
    result: dict[str, object] = {}
    for field in fields(record):
        value = getattr(record, field.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, Concat):
            value = value.to_json()
        elif isinstance(value, str):
            value = printable(value)
        result[field.name] = value
    return result


def printable(text: str) -> str:
    """Text with surrogate pairs joined and lone surrogates (a split emoji) as U+FFFD."""
    return text.encode("utf-16-be", "surrogatepass").decode("utf-16-be", "replace")


_STATUS_TEXTS: Mapping[int, str] = MappingProxyType({
    0x00: "received by the recipient",
    0x01: "forwarded, the SC cannot confirm delivery",
    0x02: "replaced by the SC",
    0x20: "congestion, still trying", 0x21: "recipient busy, still trying",
    0x22: "no response from recipient, still trying", 0x23: "service rejected, still trying",
    0x24: "quality of service not available, still trying",
    0x25: "error in recipient, still trying",
    0x40: "remote procedure error", 0x41: "incompatible destination",
    0x42: "connection rejected by recipient", 0x43: "not obtainable",
    0x44: "quality of service not available", 0x45: "no interworking available",
    0x46: "validity period expired", 0x47: "deleted by the sender",
    0x48: "deleted by SC administration", 0x49: "message does not exist",
    0x60: "congestion, SC stopped trying", 0x61: "recipient busy, SC stopped trying",
    0x62: "no response from recipient, SC stopped trying",
    0x63: "service rejected, SC stopped trying",
    0x64: "quality of service not available, SC stopped trying",
    0x65: "error in recipient, SC stopped trying",
})
_STATUS_GROUPS = ("transaction completed", "temporary error, SC still trying",
                  "permanent error, SC stopped trying", "temporary error, SC stopped trying")


def status_text(status: int) -> str:
    """TS 23.040 9.2.3.15 meaning of a TP-ST value; unnamed values by their group."""
    if status in _STATUS_TEXTS:
        return _STATUS_TEXTS[status]
    if status > 0x7F:
        return f"reserved status {status:02X}: not delivered, SC stopped trying"
    kind = "SC-specific" if status & 0x10 else "reserved"
    return f"{kind} status {status:02X}: {_STATUS_GROUPS[status >> 5]}"


# --- splitting text into parts -------------------------------------------------------------


def text_encoding(text: str) -> str:
    """"gsm7" when every character fits the GSM 7-bit alphabet, else "ucs2"."""
    return "gsm7" if gsm7.is_gsm7(text) else "ucs2"


def count_parts(text: str) -> int:
    """How many SMS-SUBMIT parts encode_submit makes of text."""
    return len(split_text(text, text_encoding(text), _udh_size(8)))


def capacity(encoding: str, udh_size: int = 0) -> int:
    """Septets (gsm7) or UTF-16 units (ucs2) that fit one part after a UDH of udh_size octets."""
    if encoding == "gsm7":
        return (MAX_UD_OCTETS * 8) // 7 - (udh_size * 8 + 6) // 7
    return (MAX_UD_OCTETS - udh_size) // 2


def _cost(char: str, encoding: str) -> int:
    if encoding == "gsm7":
        return gsm7.char_septets(char)
    if 0xD800 <= ord(char) <= 0xDFFF:
        raise PduError(f"text: lone surrogate U+{ord(char):04X}; pass whole characters")
    return 2 if ord(char) > 0xFFFF else 1


def split_text(text: str, encoding: str, udh_size: int) -> list[str]:
    """Text cut into parts that fit; an escape pair or surrogate pair is never cut."""
    costs = [_cost(char, encoding) for char in text]
    if sum(costs) <= capacity(encoding):
        return [text]
    limit = capacity(encoding, udh_size)
    parts: list[str] = []
    start = used = 0
    for index, cost in enumerate(costs):
        if used + cost > limit:
            parts.append(text[start:index])
            start, used = index, 0
        used += cost
    parts.append(text[start:])
    if len(parts) > MAX_PARTS:
        raise PduError(
            f"text: needs {len(parts)} parts, a concatenated SMS has at most {MAX_PARTS}")
    return parts


def _udh_size(ref_bits: int) -> int:
    return 6 if ref_bits == 8 else 7


def _concat_element(concat: Concat) -> bytes:
    if concat.ref_bits == 8:
        return bytes([0x00, 3, concat.reference, concat.total, concat.sequence])
    return bytes([0x08, 4, *concat.reference.to_bytes(2, "big"), concat.total, concat.sequence])


def _user_data(text: str, encoding: str, concat: Concat | None) -> bytes:
    """TP-UDL followed by TP-UD (with the concatenation UDH when concat is given)."""
    element = b"" if concat is None else _concat_element(concat)
    udh = bytes([len(element)]) + element if element else b""
    if encoding == "gsm7":
        header_septets = (len(udh) * 8 + 6) // 7
        septets = gsm7.to_septets(text)
        fill_bits = header_septets * 7 - len(udh) * 8
        return bytes([header_septets + len(septets)]) + udh + gsm7.pack_septets(septets, fill_bits)
    body = text.encode("utf-16-be")
    return bytes([len(udh) + len(body)]) + udh + body


def _segments(text: str, reference: int, ref_bits: int) -> list[tuple[Concat | None, bytes]]:
    """(concat, UDL + UD) for every part of text."""
    if ref_bits not in (8, 16):
        raise PduError(f"ref_bits: expected 8 or 16, got {ref_bits}")
    if not 0 <= reference < 1 << ref_bits:
        raise PduError(f"reference: expected 0..{(1 << ref_bits) - 1}, got {reference}")
    encoding = text_encoding(text)
    chunks = split_text(text, encoding, _udh_size(ref_bits))
    if len(chunks) == 1:
        return [(None, _user_data(text, encoding, None))]
    concats = [Concat(reference, len(chunks), seq, ref_bits) for seq in range(1, len(chunks) + 1)]
    return [(c, _user_data(chunk, encoding, c)) for c, chunk in zip(concats, chunks, strict=True)]


def _dcs(text: str) -> int:
    return DCS_GSM7 if text_encoding(text) == "gsm7" else DCS_UCS2


# --- encoding ------------------------------------------------------------------------------


def encode_submit(
    to: str, text: str, *, reference: int = 0, status_report: bool = False
) -> list[SubmitPart]:
    """SMS-SUBMIT TPDUs for text to a number; reference (0..255) ties concatenated parts."""
    address = encode_address(to, "recipient")
    segments = _segments(text, reference, 8)
    flags = MTI_SUBMIT | (SRR if status_report else 0)
    parts: list[SubmitPart] = []
    for index, (concat, user_data) in enumerate(segments, start=1):
        first = flags | (0 if concat is None else UDHI)
        # TP-MR 0 (the modem assigns it), TP-PID 0, no TP-VP.
        tpdu = bytes([first, 0]) + address + bytes([0, _dcs(text)]) + user_data
        parts.append(SubmitPart(tpdu, index, len(segments)))
    return parts


def encode_deliver(
    sender: str, text: str, *, timestamp: datetime, reference: int | None = None,
    ref_bits: int = 8, smsc: str = DEFAULT_SMSC,
) -> list[bytes]:
    """Full SMS-DELIVER PDUs (SMSC field first) as a network delivers text; for simulators."""
    if reference is None:
        seed = f"{sender}|{timestamp.isoformat()}|{text}".encode("utf-8", "surrogatepass")
        reference = zlib.crc32(seed) & (0xFF if ref_bits == 8 else 0xFFFF)
    head = encode_smsc(smsc)
    address = encode_address(sender, "sender", alphanumeric=True)
    scts = encode_timestamp(timestamp, "timestamp")
    pdus: list[bytes] = []
    for concat, user_data in _segments(text, reference, ref_bits):
        first = MTI_DELIVER | MMS_NO_MORE | (0 if concat is None else UDHI)
        pdus.append(head + bytes([first]) + address + bytes([0, _dcs(text)]) + scts + user_data)
    return pdus


def encode_status_report(
    message_reference: int, recipient: str, *, status: int = 0, sc_timestamp: datetime,
    discharge_time: datetime, smsc: str = DEFAULT_SMSC,
) -> bytes:
    """A full SMS-STATUS-REPORT PDU (SMSC field first) for a SUBMIT; for simulators."""
    _check_octet(message_reference, "message_reference")
    _check_octet(status, "status")
    return (encode_smsc(smsc) + bytes([MTI_STATUS_REPORT | MMS_NO_MORE, message_reference])
            + encode_address(recipient, "recipient")
            + encode_timestamp(sc_timestamp, "sc_timestamp")
            + encode_timestamp(discharge_time, "discharge_time") + bytes([status]))


def _check_octet(value: int, field: str) -> None:
    if not 0 <= value <= 0xFF:
        raise PduError(f"{field}: expected 0..255, got {value}")


# --- addresses and timestamps --------------------------------------------------------------


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


class _Reader:
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


def _decode_address(reader: _Reader, field: str) -> str:
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


def _decode_smsc(reader: _Reader) -> str:
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


# --- decoding ------------------------------------------------------------------------------


def dcs_alphabet(dcs: int) -> str:
    """"gsm7", "8bit" or "ucs2" from a TP-DCS (TS 23.038 4); message class is ignored."""
    group = dcs >> 4
    if group <= 0b0111:  # general data coding, with or without automatic deletion
        if dcs & 0x20:
            raise PduError(f"DCS: {dcs:02X} marks compressed text, which is not supported")
        return ("gsm7", "8bit", "ucs2", "gsm7")[(dcs >> 2) & 0b11]
    if group == 0b1111:
        return "8bit" if dcs & 0x04 else "gsm7"
    # 1110 is message waiting in UCS2; 1100/1101 and the reserved 10xx groups read as GSM 7-bit.
    return "ucs2" if group == 0b1110 else "gsm7"


def _concat_in(header: bytes) -> Concat | None:
    """The concatenation element of a UDH, if any; other elements are skipped."""
    found: Concat | None = None
    at = 0
    while at < len(header):
        if at + 2 > len(header):
            raise PduError(f"UDH: information element at byte {at} is cut off")
        iei, size = header[at], header[at + 1]
        value = header[at + 2:at + 2 + size]
        if len(value) < size:
            raise PduError(f"UDH: element {iei:02X} says {size} bytes but only {len(value)} follow")
        found = _concat_from(iei, value) or found
        at += 2 + size
    return found


def _concat_from(iei: int, value: bytes) -> Concat | None:
    if iei == 0x00 and len(value) == 3:
        reference, bits = value[0], 8
    elif iei == 0x08 and len(value) == 4:
        reference, bits = int.from_bytes(value[:2], "big"), 16
    else:
        return None
    total, sequence = value[-2], value[-1]
    if not 1 <= sequence <= total:  # TS 23.040 9.2.3.24.1: ignore the element
        return None
    return Concat(reference, total, sequence, bits)


def _read_user_data(reader: _Reader, udhi: bool, encoding: str) -> tuple[str, Concat | None]:
    """TP-UDL and TP-UD: the text (hex for 8-bit data) and the concatenation element."""
    udl = reader.octet("UDL")
    size = gsm7.packed_length(udl) if encoding == "gsm7" else udl
    unit = f"septets ({size} bytes)" if encoding == "gsm7" else "bytes"
    if size > MAX_UD_OCTETS:
        raise PduError(f"UDL: {udl} {unit} do not fit the {MAX_UD_OCTETS} bytes of user data")
    if reader.left != size:
        only = "only " if reader.left < size else ""
        raise PduError(f"UDL says {udl} {unit} but {only}{reader.left} bytes follow")
    data = reader.take(size, "UD")
    header_size = (1 + data[0] if data else 1) if udhi else 0
    if header_size > len(data):
        raise PduError(f"UDH: needs {header_size} bytes but the user data is {len(data)} bytes")
    concat = _concat_in(data[1:header_size]) if udhi else None
    body = data[header_size:]
    if encoding == "gsm7":
        return _gsm7_body(body, udl, header_size), concat
    if encoding == "8bit":
        return body.hex(), concat
    if len(body) % 2:
        raise PduError(f"UD: UCS2 text must be whole 2-byte units, got {len(body)} bytes")
    return body.decode("utf-16-be", "surrogatepass"), concat


def _gsm7_body(body: bytes, udl: int, header_size: int) -> str:
    header_septets = (header_size * 8 + 6) // 7
    if header_septets > udl:
        raise PduError(f"UDH: {header_size} bytes do not fit a UDL of {udl} septets")
    fill_bits = header_septets * 7 - header_size * 8
    return gsm7.from_septets(gsm7.unpack_septets(body, udl - header_septets, fill_bits))


def _decode_deliver(reader: _Reader, smsc: str) -> Deliver:
    first = reader.octet("first octet")
    sender = _decode_address(reader, "OA")
    pid, dcs = reader.octet("PID"), reader.octet("DCS")
    encoding = dcs_alphabet(dcs)
    timestamp = decode_timestamp(reader.take(7, "SCTS"), "SCTS")
    text, concat = _read_user_data(reader, bool(first & UDHI), encoding)
    return Deliver(smsc, sender, timestamp, text, encoding, concat, pid, dcs)


def _decode_status_report(reader: _Reader, smsc: str) -> StatusReport:
    reader.octet("first octet")
    reference = reader.octet("MR")
    recipient = _decode_address(reader, "RA")
    sc_timestamp = decode_timestamp(reader.take(7, "SCTS"), "SCTS")
    discharge = decode_timestamp(reader.take(7, "DT"), "DT")
    # Optional TP-PI and the fields it announces may follow; the hub needs none of them.
    return StatusReport(smsc, reference, recipient, sc_timestamp, discharge, reader.octet("ST"))


def _decode_submit(reader: _Reader, smsc: str) -> Submit:
    first = reader.octet("first octet")
    reference = reader.octet("MR")
    recipient = _decode_address(reader, "DA")
    reader.octet("PID")
    encoding = dcs_alphabet(reader.octet("DCS"))
    validity_format = (first >> 3) & 0b11
    reader.take((0, 7, 1, 7)[validity_format], "VP")
    text, concat = _read_user_data(reader, bool(first & UDHI), encoding)
    return Submit(recipient, text, encoding, concat, reference, bool(first & SRR),
                  validity_format != 0)


_Decoder = Callable[[_Reader, str], "Deliver | StatusReport | Submit"]
_DECODERS: Mapping[tuple[str, int], _Decoder] = MappingProxyType({
    ("received", MTI_DELIVER): _decode_deliver,
    ("received", MTI_STATUS_REPORT): _decode_status_report,
    ("sent", MTI_SUBMIT): _decode_submit,
})
_UNSUPPORTED: Mapping[tuple[str, int], str] = MappingProxyType({
    ("received", 0b01): "SMS-SUBMIT-REPORT (a SUBMIT? decode it as sent)",
    ("sent", 0b00): "SMS-DELIVER-REPORT (a DELIVER? decode it as received)",
    ("sent", 0b10): "SMS-COMMAND", ("received", 0b11): "reserved", ("sent", 0b11): "reserved",
})


def decode_pdu(
    pdu: bytes, *, with_smsc: bool = True, direction: str = "received"
) -> Deliver | StatusReport | Submit:
    """Decode a PDU: DELIVER or STATUS-REPORT as "received", SUBMIT as "sent"."""
    if direction not in ("received", "sent"):
        raise PduError(f"direction: expected 'received' or 'sent', got {direction!r}")
    if not isinstance(pdu, bytes | bytearray | memoryview):
        raise PduError(f"pdu: expected bytes, got {type(pdu).__name__}")
    reader = _Reader(pdu)
    smsc = _decode_smsc(reader) if with_smsc else ""
    mti = reader.peek("first octet") & 0b11
    decoder = _DECODERS.get((direction, mti))
    if decoder is None:
        raise PduError(f"TP-MTI: {mti:02b} in a {direction} PDU is "
                       f"{_UNSUPPORTED[(direction, mti)]}, which is not supported")
    return decoder(reader, smsc)
