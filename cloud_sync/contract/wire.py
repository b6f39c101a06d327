"""The wire contract (cloud_sync/README.md), pure: batches, status, commands, replies."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Any

from cloud_sync.contract.errors import CommandError
from cloud_sync.contract.ids import plain_text

VERSION = 1
_BATCH_END = b"]}"  # what closes a batch payload after its events
MAX_COMMAND_BYTES = 2 * 1024 * 1024  # a roster of a few thousand watches fits
MAX_DEPTH = 8  # a roster is four levels deep
MAX_SEQ = 2**53  # seqs and counts travel as JSON numbers: exact up to here
MAX_CLAIM_S = 3600.0


@dataclass(frozen=True, slots=True)
class Field:
    """What one command field must be: a kind, bounds, and whether it is required."""

    kind: str  # "text", "int", "number", "list"
    required: bool = True
    low: float = 0
    high: float = 200  # longest text, or largest number

    def check(self, where: str, value: Any) -> Any:
        """The value, or CommandError naming `where` and what is expected."""
        if self.kind == "text":
            if not isinstance(value, str) or not 0 < len(value) <= self.high or \
                    not plain_text(value):
                raise CommandError(f"{where}: expected text of 1 to {self.high:.0f} "
                                   f"characters without control characters, got {value!r}")
            return value
        if self.kind == "list":
            if not isinstance(value, list):
                raise CommandError(f"{where}: expected a list, got {value!r}"[:300])
            return value
        number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
        if number is None or (self.kind == "int" and not isinstance(number, int)) or \
                not self.low <= number <= self.high:
            what = "a whole number" if self.kind == "int" else "a number"
            raise CommandError(f"{where}: expected {what} from {_plain(self.low)} to "
                               f"{_plain(self.high)}, got {value!r}"[:300])
        return number


_ID, _NAME = Field("text", high=64), Field("text", high=200)
COMMANDS: Mapping[str, Mapping[str, Field]] = {
    "events_ack": {"epoch": _ID, "seq": Field("int", high=MAX_SEQ)},
    "alert_received": {"alert": _ID},
    "alert_ack": {"alert": _ID, "by": _NAME},
    "alert_claimed": {"alert": _ID, "by": _NAME,
                      "for_s": Field("number", low=60, high=MAX_CLAIM_S)},
    "alert_text_now": {"alert": _ID, "by": _NAME},
    "alert_notify": {"alert": _ID, "contact": _ID, "by": _NAME},
    "roster": {"version": _ID, "residents": Field("list"), "watches": Field("list"),
               "contacts": Field("list"), "buildings": Field("list", required=False),
               "sensors": Field("list", required=False)},
    # a resident is away until `until` (epoch seconds), or back (no until): welfare checks
    "resident_away": {"resident": _ID, "by": _NAME,
                      "until": Field("number", required=False, high=2**33)},
    "test_alarm": {"by": Field("text", required=False)},
    "ping": {},
}


def _plain(number: float) -> str:
    return str(int(number)) if number == int(number) else str(number)


@dataclass(frozen=True, slots=True)
class Topics:
    """The four topics of one hub under the configured root."""

    root: str

    @classmethod
    def of(cls, topic_root: str, community: str, hub: str) -> Topics:
        base = topic_root if topic_root.endswith("/") else topic_root + "/"
        return cls(f"{base}{community}/{hub}/")

    @property
    def events(self) -> str:
        return self.root + "events"

    @property
    def status(self) -> str:
        return self.root + "status"

    @property
    def cmd(self) -> str:
        return self.root + "cmd"

    @property
    def reply(self) -> str:
        return self.root + "cmd/reply"


@dataclass(frozen=True, slots=True)
class Command:
    """A checked command from the server."""

    id: str
    type: str
    fields: Mapping[str, Any]


def batch(hub: str, community: str, epoch: str, floor: int, joined: bytes | memoryview) -> bytes:
    """An event batch payload from wire-form events already joined by commas (UTF-8)."""
    return framed(batch_head(hub, community, epoch, floor), joined)


def batch_head(hub: str, community: str, epoch: str, floor: int) -> bytes:
    """What comes before the events in a batch payload: the same for every batch sent
    until the floor moves, so a sender makes it once."""
    head = json.dumps({"v": VERSION, "hub": hub, "community": community, "epoch": epoch,
                       "floor": floor}, ensure_ascii=False, separators=(",", ":"))
    return head[:-1].encode() + b',"events":['


def framed(head: bytes, joined: bytes | memoryview) -> bytes:
    """A batch payload from its head (batch_head) and its events joined by commas."""
    return b"".join((head, joined, _BATCH_END))


def joined_in(payload: bytes, head_len: int) -> memoryview:
    """The events joined by commas inside a framed payload whose head is head_len bytes
    long: a view, not a copy."""
    return memoryview(payload)[head_len:-len(_BATCH_END)]



def status(hub: str, community: str, state: str, version: str, queue_depth: int,
           dropped: int, now: float, roster_version: str = "", community_name: str = "") -> bytes:
    """A status payload: online (birth and heartbeat) or offline (will and shutdown).
    `community` is the id on the wire; `community_name` how people name it."""
    body = {"v": VERSION, "hub": hub, "community": community, "state": state,
            "version": version, "queue_depth": queue_depth, "dropped": dropped,
            "roster_version": roster_version, "at": utc_text(now), "at_epoch": now}
    if community_name:
        body["community_name"] = community_name
    return json.dumps(body, ensure_ascii=False).encode()


def parse_command(payload: bytes) -> Command:
    """A checked command, or CommandError saying what is wrong with it: every field is
    checked, and bounded, before anything acts on it."""
    if len(payload) > MAX_COMMAND_BYTES:
        raise CommandError(f"command: at most {MAX_COMMAND_BYTES} bytes, got {len(payload)}")
    try:
        data = json.loads(payload.decode("utf-8"))
    except ValueError as error:  # not UTF-8, not JSON, or a number of thousands of digits
        raise CommandError(f"command is not UTF-8 JSON within bounds ({error})"[:300]) from None
    except RecursionError:
        raise CommandError(f"command: nested deeper than {MAX_DEPTH} levels") from None
    if not isinstance(data, dict):
        raise CommandError("command must be a JSON object")
    if _depth(data) > MAX_DEPTH:
        raise CommandError(f"command: nested deeper than {MAX_DEPTH} levels")
    if data.get("v") != VERSION:
        raise CommandError(f"v: expected {VERSION}, got {data.get('v')!r}"[:300])
    command_id, kind = _ID.check("id", data.get("id")), data.get("type")
    if not isinstance(kind, str) or kind not in COMMANDS:
        raise CommandError(f"type: expected one of {', '.join(COMMANDS)}, got {kind!r}"[:300])
    return Command(command_id, kind, _fields(kind, data))


def _depth(data: Any) -> int:
    """How deeply `data` nests lists and objects, counted without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, level)
            if level <= MAX_DEPTH:
                stack.extend((child, level + 1) for child in
                             (value.values() if isinstance(value, dict) else value))
    return deepest


def _fields(kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
    spec = COMMANDS[kind]
    extra = sorted(set(data) - set(spec) - {"v", "id", "type"})
    if extra:
        raise CommandError(f"{kind}: unknown field {extra[0]!r}; expected "
                           f"{', '.join(spec) or 'no fields'}"[:300])
    fields: dict[str, Any] = {}
    for name, field in spec.items():
        if name not in data:
            if field.required:
                raise CommandError(f"{kind}.{name}: missing; expected {field.kind}")
            continue
        fields[name] = field.check(f"{kind}.{name}", data[name])
    return fields


def reply(command_id: str | None, *, ok: bool, result: Mapping[str, Any] | None = None,
          error: str = "") -> bytes:
    """A command reply payload."""
    body: dict[str, Any] = {"v": VERSION, "id": command_id, "ok": ok}
    if ok:
        body["result"] = dict(result or {})
    else:
        body["error"] = error
    try:
        return json.dumps(body, ensure_ascii=False).encode()
    except UnicodeEncodeError:  # a lone surrogate from a bad command: escaped, still JSON
        return json.dumps(body, ensure_ascii=True).encode()


def command_id_of(payload: bytes) -> str | None:
    """The id of a (possibly malformed) command, for the error reply."""
    if len(payload) > MAX_COMMAND_BYTES:
        return None
    try:
        data = json.loads(payload.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    found = data.get("id") if isinstance(data, dict) else None
    return found[:64] if isinstance(found, str) and plain_text(found[:64]) else None


def utc_text(epoch: float) -> str:
    """'2026-11-21T08:15:02.123Z': how times travel and are written in records."""
    stamp = datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def local_until(text: str, zone: tzinfo, now: float) -> float:
    """When an away spell ends, as written on a command line, in `zone`: a date and time
    ("2026-12-10 18:00"), or a date alone ("2026-12-10"), the day they are back: the rules
    watch again from that day's end, as the console's "back on" day (a flat is empty until
    they come home, whenever that day). Epoch seconds still to come; ValueError saying
    what is expected otherwise."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f'--until: expected a local date or time like "2026-12-10" or '
                         f'"2026-12-10 18:00", got {text!r}') from None
    if _is_date(text.strip()):  # back that day
        moment += timedelta(days=1)
    until = (moment if moment.tzinfo else moment.replace(tzinfo=zone)).timestamp()
    if until <= now:
        raise ValueError(f"--until: {text} has passed; expected a time still to come")
    return until


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True
