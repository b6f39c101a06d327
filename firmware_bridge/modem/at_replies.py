"""Parsers of the information lines that answer AT queries and SMS commands.

Pure, like `at_protocol` which it builds on: signal (+CSQ), registration (+CREG and
kin), operator (+COPS), SIM (+CPIN), SMS centre (+CSCA), message reference (+CMGS),
stored messages (+CMGL, +CMGR) and voice calls (+CLCC). Each parser takes the line (or
lines) of a response and returns a value, never raising on what a modem may send.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from firmware_bridge.modem.at_protocol import (
    is_hex,
    is_number,
    split_args,
    split_name,
    split_raw,
)

REGISTRATION_STATES = {0: "not registered", 1: "home", 2: "searching", 3: "denied",
                       4: "unknown", 5: "roaming", 6: "home", 7: "roaming", 8: "denied",
                       9: "home", 10: "roaming"}


@dataclass(frozen=True, slots=True)
class StoredSms:
    """One message in the modem's storage: full PDU including the SMSC field."""

    index: int
    status: int
    pdu: bytes


def find_line(lines: Sequence[str], prefix: str) -> str | None:
    """The first line of a response that starts with `prefix` + ':'."""
    for line in lines:
        if split_name(line)[0] == prefix:
            return line
    return None


def args_of(line: str | None) -> tuple[str, ...]:
    """The parameters of an information line ("+CSQ: 20,99" -> ("20", "99"))."""
    return split_args(split_name(line)[1]) if line else ()


def _int(text: str) -> int | None:
    text = text.strip()
    return int(text) if is_number(text) else None


def parse_csq(line: str | None) -> int | None:
    """Signal quality 0..31 from "+CSQ: <rssi>,<ber>"; None when unknown (99)."""
    args = args_of(line)
    rssi = _int(args[0]) if args else None
    return rssi if rssi is not None and rssi <= 31 else None


def csq_to_dbm(csq: int | None) -> int | None:
    """The received signal strength in dBm for a CSQ value (0 means -113 or less)."""
    return None if csq is None else -113 + 2 * csq


def parse_creg(line: str | None) -> str:
    """The registration state of a solicited or unsolicited +CREG/+CEREG/+CGREG line."""
    raw = split_raw(split_name(line)[1]) if line else []
    stat_text = raw[1] if len(raw) >= 2 and is_number(raw[1]) else (raw[0] if raw else "")
    stat = _int(stat_text)
    return REGISTRATION_STATES.get(stat, "unknown") if stat is not None else "unknown"


def is_registered(registration: str) -> bool:
    """True when the modem can send: registered at home or roaming."""
    return registration in ("home", "roaming")


def parse_cops(line: str | None) -> str:
    """The operator name from '+COPS: <mode>,<format>,"<oper>"[,<act>]', or ""."""
    args = args_of(line)
    return args[2] if len(args) >= 3 else ""


def parse_csca(line: str | None) -> str:
    """The SMS centre number from '+CSCA: "<sca>",<tosca>', or ""."""
    args = args_of(line)
    return args[0] if args else ""


def parse_cpin(line: str | None) -> str:
    """The SIM state from "+CPIN: <code>" (READY, SIM PIN, SIM PUK, ...)."""
    args = args_of(line)
    return args[0].upper() if args else ""


def parse_cmgs(line: str | None) -> int | None:
    """The message reference from "+CMGS: <mr>"."""
    args = args_of(line)
    return _int(args[0]) if args else None


def parse_cmgl(lines: Sequence[str]) -> list[StoredSms]:
    """Messages of a PDU-mode AT+CMGL response; malformed entries are skipped."""
    found: list[StoredSms] = []
    for header, pdu_line in pairwise(lines):
        if split_name(header)[0] != "+CMGL":
            continue
        args = args_of(header)
        index, status = (_int(args[0]), _int(args[1])) if len(args) >= 2 else (None, None)
        if index is not None and status is not None and is_hex(pdu_line):
            found.append(StoredSms(index, status, bytes.fromhex(pdu_line)))
    return found


def parse_cmgr(lines: Sequence[str], index: int) -> StoredSms | None:
    """The message of a PDU-mode AT+CMGR response, or None if the slot is empty."""
    for header, pdu_line in pairwise(lines):
        if split_name(header)[0] == "+CMGR" and is_hex(pdu_line):
            status = _int(args_of(header)[0]) if args_of(header) else None
            return StoredSms(index, status if status is not None else 0,
                             bytes.fromhex(pdu_line))
    return None


CALL_STATES = {0: "active", 1: "held", 2: "dialling", 3: "ringing", 4: "incoming",
               5: "waiting"}


@dataclass(frozen=True, slots=True)
class CallLine:
    """One call of an AT+CLCC list: its id, whether we placed it, its state and number."""

    id: int
    outgoing: bool
    state: str
    voice: bool
    number: str


def parse_clcc(lines: Sequence[str]) -> list[CallLine]:
    """The calls of an AT+CLCC response ('+CLCC: <id>,<dir>,<stat>,<mode>,<mpty>[,
    "<number>",<type>]'); an empty list when there is no call, malformed lines skipped."""
    calls: list[CallLine] = []
    for line in lines:
        if split_name(line)[0] != "+CLCC":
            continue
        args = args_of(line)
        numbers = [_int(arg) for arg in args[:4]]
        if len(numbers) < 4 or any(value is None for value in numbers):
            continue
        call_id, direction, stat, mode = (value or 0 for value in numbers)
        calls.append(CallLine(call_id, direction == 0, CALL_STATES.get(stat, "unknown"),
                              mode == 0, args[5] if len(args) > 5 else ""))
    return calls
