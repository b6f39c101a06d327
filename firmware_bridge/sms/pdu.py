"""SMS PDUs (TS 23.040): SUBMIT encode; DELIVER and STATUS-REPORT decode and encode; pure.

Address, SMSC and timestamp fields live in firmware_bridge.sms.fields, text and user data
in firmware_bridge.sms.text; their public names are re-exported here.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING

from firmware_bridge.errors import PduError
from firmware_bridge.sms.fields import (
    MAX_ALPHA_SEPTETS,
    MAX_DIGITS,
    TOA_ALPHANUMERIC,
    TOA_INTERNATIONAL,
    TOA_UNKNOWN,
    PduReader,
    decode_address,
    decode_smsc,
    decode_timestamp,
    encode_address,
    encode_smsc,
    encode_timestamp,
    parse_number,
)
from firmware_bridge.sms.text import (
    DCS_GSM7,
    DCS_UCS2,
    MAX_PARTS,
    MAX_UD_OCTETS,
    capacity,
    concat_udh_size,
    count_parts,
    dcs_alphabet,
    encode_user_data,
    read_user_data,
    split_text,
    text_dcs,
    text_encoding,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "DCS_GSM7", "DCS_UCS2", "DEFAULT_SMSC", "MAX_ALPHA_SEPTETS", "MAX_DIGITS", "MAX_PARTS",
    "MAX_UD_OCTETS", "MMS_NO_MORE", "MTI_DELIVER", "MTI_STATUS_REPORT", "MTI_SUBMIT", "SRR",
    "TOA_ALPHANUMERIC", "TOA_INTERNATIONAL", "TOA_UNKNOWN", "UDHI",
    "Concat", "Deliver", "StatusReport", "Submit", "SubmitPart",
    "capacity", "count_parts", "dcs_alphabet", "decode_pdu", "decode_timestamp",
    "encode_address", "encode_deliver", "encode_smsc", "encode_status_report",
    "encode_submit", "encode_timestamp", "parse_number", "printable", "split_text",
    "status_text", "text_encoding",
]

MTI_DELIVER = 0b00
MTI_SUBMIT = 0b01
MTI_STATUS_REPORT = 0b10
MMS_NO_MORE = 0x04
SRR = 0x20
UDHI = 0x40
DEFAULT_SMSC = "+8613800100500"


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


# --- the concatenation element -------------------------------------------------------------


def _concat_element(concat: Concat) -> bytes:
    if concat.ref_bits == 8:
        return bytes([0x00, 3, concat.reference, concat.total, concat.sequence])
    return bytes([0x08, 4, *concat.reference.to_bytes(2, "big"), concat.total, concat.sequence])


def _concat_in(elements: list[tuple[int, bytes]]) -> Concat | None:
    """The concatenation element among a UDH's elements, if any; other elements are skipped."""
    found: Concat | None = None
    for iei, value in elements:
        found = _concat_from(iei, value) or found
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


def _segments(text: str, reference: int, ref_bits: int) -> list[tuple[Concat | None, bytes]]:
    """(concat, UDL + UD) for every part of text."""
    if ref_bits not in (8, 16):
        raise PduError(f"ref_bits: expected 8 or 16, got {ref_bits}")
    if not 0 <= reference < 1 << ref_bits:
        raise PduError(f"reference: expected 0..{(1 << ref_bits) - 1}, got {reference}")
    encoding = text_encoding(text)
    chunks = split_text(text, encoding, concat_udh_size(ref_bits))
    if len(chunks) == 1:
        return [(None, encode_user_data(text, encoding, b""))]
    concats = [Concat(reference, len(chunks), seq, ref_bits) for seq in range(1, len(chunks) + 1)]
    return [(c, encode_user_data(chunk, encoding, _concat_element(c)))
            for c, chunk in zip(concats, chunks, strict=True)]


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
        tpdu = bytes([first, 0]) + address + bytes([0, text_dcs(text)]) + user_data
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
        dcs = text_dcs(text)
        pdus.append(head + bytes([first]) + address + bytes([0, dcs]) + scts + user_data)
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


# --- decoding ------------------------------------------------------------------------------


def _read_user_data(reader: PduReader, udhi: bool, encoding: str) -> tuple[str, Concat | None]:
    """TP-UDL and TP-UD: the text (hex for 8-bit data) and the concatenation element."""
    text, elements = read_user_data(reader, udhi, encoding)
    return text, _concat_in(elements)


def _decode_deliver(reader: PduReader, smsc: str) -> Deliver:
    first = reader.octet("first octet")
    sender = decode_address(reader, "OA")
    pid, dcs = reader.octet("PID"), reader.octet("DCS")
    encoding = dcs_alphabet(dcs)
    timestamp = decode_timestamp(reader.take(7, "SCTS"), "SCTS")
    text, concat = _read_user_data(reader, bool(first & UDHI), encoding)
    return Deliver(smsc, sender, timestamp, text, encoding, concat, pid, dcs)


def _decode_status_report(reader: PduReader, smsc: str) -> StatusReport:
    reader.octet("first octet")
    reference = reader.octet("MR")
    recipient = decode_address(reader, "RA")
    sc_timestamp = decode_timestamp(reader.take(7, "SCTS"), "SCTS")
    discharge = decode_timestamp(reader.take(7, "DT"), "DT")
    # Optional TP-PI and the fields it announces may follow; the hub needs none of them.
    return StatusReport(smsc, reference, recipient, sc_timestamp, discharge, reader.octet("ST"))


def _decode_submit(reader: PduReader, smsc: str) -> Submit:
    first = reader.octet("first octet")
    reference = reader.octet("MR")
    recipient = decode_address(reader, "DA")
    reader.octet("PID")
    encoding = dcs_alphabet(reader.octet("DCS"))
    validity_format = (first >> 3) & 0b11
    reader.take((0, 7, 1, 7)[validity_format], "VP")
    text, concat = _read_user_data(reader, bool(first & UDHI), encoding)
    return Submit(recipient, text, encoding, concat, reference, bool(first & SRR),
                  validity_format != 0)


_Decoder = Callable[[PduReader, str], "Deliver | StatusReport | Submit"]
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
    reader = PduReader(pdu)
    smsc = decode_smsc(reader) if with_smsc else ""
    mti = reader.peek("first octet") & 0b11
    decoder = _DECODERS.get((direction, mti))
    if decoder is None:
        raise PduError(f"TP-MTI: {mti:02b} in a {direction} PDU is "
                       f"{_UNSUPPORTED[(direction, mti)]}, which is not supported")
    return decoder(reader, smsc)
