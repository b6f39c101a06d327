"""AT command protocol of GSM modems: a byte-level reader, final results, error classes.

Pure: takes bytes and strings, returns values; no port, no thread, no clock.

`AtReader` splits what the modem sends into response lines, the `> ` prompt of
AT+CMGS and unsolicited result codes (URCs). A URC may arrive at any moment, even
between two lines of another command's response; the reader pulls it out and leaves
the response intact. The information lines of query replies are parsed in `at_replies`.

Error classes (`classify`, the values of `ModemError.kind`) and what the caller does:

| class          | +CMS ERROR codes                                   | +CME ERROR codes  | action |
| -------------- | -------------------------------------------------- | ----------------- | ------ |
| `transient`    | 38, 41, 42, 47, 331, 332, 500, 512+ (vendor)      | 30, 31, 32, 100   | back off and retry |
| `busy`         | 314, 515, 535                                      | 14                | wait a moment, retry |
| `storage_full` | 322                                                | 20                | clear SIM storage, retry |
| `recipient`    | 8, 10, 21, 27, 28, 29, 30, 50                      |                   | this number, later; others go on |
| `malformed`    | 1, 304, 305                                        |                   | the number is wrong: stop, tell a person |
| `config`       | 302, 303, 310-313, 315-318, 330                     | 3, 4, 10-13, 15-18 | stop and report to a person |

Anything else, a plain `ERROR` and unknown codes are `transient`. The verbose forms that
AT+CMEE=2 gives ("+CME ERROR: SIM not inserted") are mapped back to their codes; verbose
texts we do not know are classified by keywords (busy, full, SIM, ...).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

ESC = b"\x1b"
CTRL_Z = b"\x1a"

# Names of unsolicited result codes: the text before ':' or, for bare words, the line.
DEFAULT_URC_NAMES = frozenset({
    "+CMTI", "+CDSI", "+CDS", "+CMT", "+CBM", "RING", "+CRING", "+CLIP",
    "+CREG", "+CEREG", "+CGREG", "+C5GREG", "+CPIN", "+CFUN", "+CPMS", "+CUSD", "+CGEV",
    "RDY", "SMS Ready", "SMS DONE", "Call Ready", "PB DONE", "NO CARRIER", "BUSY",
    "NO ANSWER", "NO DIALTONE",
    "NORMAL POWER DOWN", "UNDER-VOLTAGE POWER DOWN", "UNDER-VOLTAGE WARNNING",
    "OVER-VOLTAGE WARNNING", "+QIND", "+QUSIM", "*ATREADY", "+SIMCARD", "+STIN",
    "+CIEV", "+CTZV", "*PSUTTZ", "DST", "+PSUTTZ",
})
# URCs whose next line is a PDU in hex.
TWO_LINE_URCS = frozenset({"+CMT", "+CDS", "+CBM"})
REGISTRATION_URCS = frozenset({"+CREG", "+CEREG", "+CGREG", "+C5GREG"})
# How a voice call ends: the final result of ATD, or later a URC once ATD; said OK.
CALL_RESULTS = frozenset({"NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE"})
DIAL = "D"  # what command_prefix gives for ATD<number>;: call results answer it

_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a command's response (echo, information or final result)."""

    text: str


@dataclass(frozen=True, slots=True)
class Prompt:
    """The `> ` prompt: the modem waits for the PDU of AT+CMGS."""


@dataclass(frozen=True, slots=True)
class Urc:
    """An unsolicited result code; `body` is the PDU line of +CMT/+CDS."""

    name: str
    args: tuple[str, ...]
    raw: str
    body: str | None = None


Item = Line | Prompt | Urc


@dataclass(frozen=True, slots=True)
class Final:
    """A final result code: `kind` is ok, error, cms, cme or a call result."""

    kind: str
    code: int | None
    text: str

    @property
    def ok(self) -> bool:
        return self.kind == "ok"


class AtReader:
    """Turns the modem's bytes into Lines, Prompts and URCs, across any split of reads."""

    def __init__(self, urc_names: Iterable[str] = DEFAULT_URC_NAMES,
                 two_line_urcs: Iterable[str] = TWO_LINE_URCS) -> None:
        self._urc_names = frozenset(urc_names)
        self._two_line = frozenset(two_line_urcs)
        self._buf = bytearray()
        self._expected: str | None = None
        self._pending: Urc | None = None
        self._skip_space = False

    def expect(self, prefix: str | None) -> None:
        """Say which response prefix (e.g. "+CREG") the pending command produces."""
        self._expected = prefix

    def feed(self, data: bytes) -> list[Item]:
        """Items completed by `data`; never raises, whatever the bytes."""
        items: list[Item] = []
        for byte in data:
            if self._skip_space:
                self._skip_space = False
                if byte == 0x20:
                    continue
            if byte in (0x0D, 0x0A):
                if self._buf:
                    text = self._buf.decode("utf-8", errors="replace").strip()
                    self._buf.clear()
                    if text:
                        items.extend(self._line(text))
            elif byte == 0x3E and not self._buf and self._pending is None:
                items.append(Prompt())
                self._skip_space = True
            else:
                self._buf.append(byte)
        return items

    def _line(self, text: str) -> list[Item]:
        pending, self._pending = self._pending, None
        if pending is not None:
            if is_hex(text):
                return [replace(pending, body=text)]
            return [pending, *self._line(text)]
        urc = self._as_urc(text)
        if urc is None:
            if parse_final(text) is not None:
                self._expected = None
            return [Line(text)]
        if urc.name in self._two_line:
            self._pending = urc
            return []
        return [urc]

    def _as_urc(self, text: str) -> Urc | None:
        name, rest = split_name(text)
        if name not in self._urc_names:
            return None
        raw_args = split_raw(rest)
        if name in CALL_RESULTS and self._expected == DIAL:
            return None  # ATD's own answer (a line then a final), not a later call's end
        if name == self._expected and _looks_solicited(name, raw_args):
            return None
        return Urc(name, tuple(_unquote(a) for a in raw_args), text)


def split_name(text: str) -> tuple[str, str]:
    """("+CMTI", '"SM",3') for '+CMTI: "SM",3'; bare words are their own name."""
    if text and text[0] in "+*^#$":
        name, _, rest = text.partition(":")
        return name.strip(), rest.strip()
    return text, ""


def split_args(rest: str) -> tuple[str, ...]:
    """Comma-separated parameters, quotes removed; commas inside quotes are kept."""
    return tuple(_unquote(a) for a in split_raw(rest))


def split_raw(rest: str) -> list[str]:
    """Comma-separated parameters with their quotes kept, to tell "1" from 1."""
    if not rest:
        return []
    args: list[str] = []
    current: list[str] = []
    quoted = False
    for char in rest:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            args.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    args.append("".join(current).strip())
    return args


def _unquote(arg: str) -> str:
    if len(arg) >= 2 and arg[0] == '"' and arg[-1] == '"':
        return arg[1:-1]
    return arg


def _looks_solicited(name: str, raw_args: list[str]) -> bool:
    """The answer to AT+CREG? is "+CREG: <n>,<stat>[,...]"; the URC is "+CREG: <stat>[,...]"."""
    if name in REGISTRATION_URCS:
        return len(raw_args) >= 2 and is_number(raw_args[1])
    return True


def is_number(text: str) -> bool:
    """True for ASCII digits only: str.isdigit() also takes "²" and "٣", which int() refuses
    or reads as another number; a modem's line may carry any byte."""
    return text.isascii() and text.isdigit()


def is_hex(text: str) -> bool:
    """True for whole octets in hex, as a PDU line is."""
    return _HEX.fullmatch(text) is not None


# ---------------------------------------------------------------- final results

_CALL_FINALS = {"NO CARRIER": "no_carrier", "BUSY": "busy_line", "NO ANSWER": "no_answer",
                "NO DIALTONE": "no_dialtone"}


def parse_final(line: str) -> Final | None:
    """The final result code in `line`, or None for any other line."""
    text = line.strip()
    if text == "OK":
        return Final("ok", None, text)
    if text == "ERROR":
        return Final("error", None, text)
    if text in _CALL_FINALS:
        return Final(_CALL_FINALS[text], None, text)
    for kind, table in (("cms", _CMS_TEXT), ("cme", _CME_TEXT)):
        prefix = f"+{kind.upper()} ERROR:"
        if text.upper().startswith(prefix):
            detail = text[len(prefix):].strip()
            return Final(kind, _error_code(detail, table), detail)
    return None


def _error_code(detail: str, table: dict[int, str]) -> int | None:
    if is_number(detail):
        return int(detail)
    wanted = _normal(detail)
    for code, text in table.items():
        if _normal(text) == wanted:
            return code
    return None


def _normal(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def error_text(kind: str, code: int) -> str:
    """The verbose text a modem prints for a +CMS/+CME code under AT+CMEE=2."""
    table = _CMS_TEXT if kind == "cms" else _CME_TEXT
    return table.get(code, "unknown error")


def classify(final: Final) -> str:
    """The error class of a final result (see the module table); "ok" for OK."""
    if final.ok:
        return "ok"
    if final.kind in ("cms", "cme"):
        classes = _CMS_CLASS if final.kind == "cms" else _CME_CLASS
        if final.code is not None:
            if final.code in classes:
                return classes[final.code]
            return "transient"
        return _classify_words(final.text)
    return "transient"


def _classify_words(text: str) -> str:
    words = text.lower()
    if "busy" in words or "wait" in words:
        return "busy"
    if "full" in words:
        return "storage_full"
    if "sim" in words or "not allowed" in words or "not supported" in words:
        return "config"
    return "transient"


def _classes(**groups: Iterable[int]) -> dict[int, str]:
    return {code: name for name, codes in groups.items() for code in codes}


_CMS_CLASS = _classes(
    busy=(314, 515, 535),
    storage_full=(322,),
    recipient=(8, 10, 21, 27, 28, 29, 30, 50),
    malformed=(1, 304, 305),
    config=(302, 303, 310, 311, 312, 313, 315, 316, 317, 318, 330),
)
_CME_CLASS = _classes(
    busy=(14,),
    storage_full=(20,),
    config=(3, 4, 10, 11, 12, 13, 15, 16, 17, 18),
)
_CMS_TEXT = {
    1: "Unassigned (unallocated) number", 8: "Operator determined barring",
    10: "Call barred", 21: "Short message transfer rejected",
    27: "Destination out of service", 28: "Unidentified subscriber",
    29: "Facility rejected", 30: "Unknown subscriber", 38: "Network out of order",
    41: "Temporary failure", 42: "Congestion", 47: "Resources unavailable, unspecified",
    50: "Requested facility not subscribed", 302: "operation not allowed",
    303: "operation not supported", 304: "invalid PDU mode parameter",
    305: "invalid text mode parameter", 310: "SIM not inserted", 311: "SIM PIN required",
    312: "PH-SIM PIN required", 313: "SIM failure", 314: "SIM busy", 315: "SIM wrong",
    316: "SIM PUK required", 317: "SIM PIN2 required", 318: "SIM PUK2 required",
    321: "invalid memory index", 322: "memory full", 330: "SMSC address unknown",
    331: "no network service", 332: "network timeout", 500: "unknown error",
    515: "please wait, init or command processing in progress",
    535: "Protocol stack busy",
}
_CME_TEXT = {
    3: "operation not allowed", 4: "operation not supported", 10: "SIM not inserted",
    11: "SIM PIN required", 12: "SIM PUK required", 13: "SIM failure", 14: "SIM busy",
    15: "SIM wrong", 16: "incorrect password", 17: "SIM PIN2 required",
    18: "SIM PUK2 required", 20: "memory full", 21: "invalid index", 22: "not found",
    30: "no network service", 31: "network timeout",
    32: "network not allowed - emergency calls only", 100: "unknown",
}

# ---------------------------------------------------------------- commands


def command_prefix(command: str) -> str | None:
    """The response prefix of an AT command: "AT+CREG?" -> "+CREG"; "ATE0" -> None;
    a dial ("ATD13800138001;") -> DIAL, whose answer may be a call result."""
    if command.strip().upper().startswith("ATD"):
        return DIAL
    match = re.match(r"^AT([+*^#$][A-Z0-9]+)", command.strip().upper())
    return match.group(1) if match else None
