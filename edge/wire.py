"""The wire contract (cloud_sync/README.md), pure: batches, status, commands, replies."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edge.clock import utc_text
from edge.errors import CommandError

VERSION = 1
_BATCH_END = b"]}"  # what closes a batch payload after its events
# type -> {field: (python type, required)}
COMMANDS: Mapping[str, Mapping[str, tuple[type, bool]]] = {
    "events_ack": {"epoch": (str, True), "seq": (int, True)},
    "alert_received": {"alert": (str, True)},
    "alert_ack": {"alert": (str, True), "by": (str, True)},
    "roster": {"version": (str, True), "residents": (list, True), "watches": (list, True),
               "contacts": (list, True)},
    "test_alarm": {"by": (str, False)},
    "ping": {},
}


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
           dropped: int, now: float, roster_version: str = "") -> bytes:
    """A status payload: online (birth and heartbeat) or offline (will and shutdown)."""
    body = {"v": VERSION, "hub": hub, "community": community, "state": state,
            "version": version, "queue_depth": queue_depth, "dropped": dropped,
            "roster_version": roster_version, "at": utc_text(now), "at_epoch": now}
    return json.dumps(body, ensure_ascii=False).encode()


def parse_command(payload: bytes) -> Command:
    """A checked command, or CommandError saying what is wrong with it."""
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CommandError(f"command is not UTF-8 JSON ({error})") from None
    if not isinstance(data, dict):
        raise CommandError("command must be a JSON object")
    if data.get("v") != VERSION:
        raise CommandError(f"v: expected {VERSION}, got {data.get('v')!r}")
    command_id, kind = data.get("id"), data.get("type")
    if not isinstance(command_id, str) or not command_id:
        raise CommandError("id: expected a non-empty string")
    if not isinstance(kind, str) or kind not in COMMANDS:
        raise CommandError(f"type: expected one of {', '.join(COMMANDS)}, got {kind!r}")
    return Command(command_id, kind, _fields(kind, data))


def _fields(kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
    spec = COMMANDS[kind]
    extra = sorted(set(data) - set(spec) - {"v", "id", "type"})
    if extra:
        raise CommandError(f"{kind}: unknown field {extra[0]!r}; expected "
                           f"{', '.join(spec) or 'no fields'}")
    fields: dict[str, Any] = {}
    for name, (kind_of, required) in spec.items():
        if name not in data:
            if required:
                raise CommandError(f"{kind}.{name}: missing; expected {kind_of.__name__}")
            continue
        value = data[name]
        if not isinstance(value, kind_of) or (kind_of is int and isinstance(value, bool)):
            raise CommandError(f"{kind}.{name}: expected {kind_of.__name__}, got {value!r}")
        fields[name] = value
    if kind == "events_ack" and fields["seq"] < 0:
        raise CommandError("events_ack.seq: expected an integer >= 0")
    return fields


def reply(command_id: str | None, *, ok: bool, result: Mapping[str, Any] | None = None,
          error: str = "") -> bytes:
    """A command reply payload."""
    body: dict[str, Any] = {"v": VERSION, "id": command_id, "ok": ok}
    if ok:
        body["result"] = dict(result or {})
    else:
        body["error"] = error
    return json.dumps(body, ensure_ascii=False).encode()


def command_id_of(payload: bytes) -> str | None:
    """The id of a (possibly malformed) command, for the error reply."""
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    found = data.get("id") if isinstance(data, dict) else None
    return found if isinstance(found, str) else None
