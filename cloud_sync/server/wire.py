"""Hub payloads read against the wire contract (cloud_sync/README.md): pure, never trusting."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard, TypeVar

from cloud_sync.contract.ids import is_id, normalise_mac, plain_text
from cloud_sync.contract.roster_file import ID
from cloud_sync.server.errors import BatchError, ReceiverSetupError

VERSION = 1
MAX_SEQ = 2**63 - 1
MAX_NAME = 200
MAX_EPOCH = 64


@dataclass(frozen=True, slots=True)
class Event:
    """One stored-to-be event: the fields the receiver indexes and the body as JSON text."""

    event_id: str
    seq: int
    type: str
    at_epoch: float
    body: str
    fields: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Batch:
    """An event batch whose envelope is valid; `rejected` says why events were left out."""

    hub: str
    community: str
    epoch: str
    floor: int
    events: tuple[Event, ...]
    rejected: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Status:
    """A hub's status message (birth, heartbeat or last will)."""

    hub: str
    community: str
    state: str
    queue_depth: int | None
    version: str
    body: str
    roster_version: str = ""


def decode_json(payload: bytes | str) -> Any:
    """Parse UTF-8 JSON (NaN and Infinity refused), or raise BatchError saying what is wrong."""
    try:
        text = payload.decode("utf-8") if isinstance(payload, bytes) else payload
        return json.loads(text, parse_constant=_refuse_constant)
    except UnicodeDecodeError:
        raise BatchError("payload is not UTF-8 text; expected UTF-8 JSON") from None
    except (ValueError, RecursionError) as error:
        raise BatchError(f"payload is not JSON ({error}); expected a JSON object") from None


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def parse_batch(payload: bytes | str) -> Batch:
    """Read an event batch; raise BatchError if its envelope is wrong, skip bad events."""
    return read_batch(decode_json(payload))


def read_batch(data: object) -> Batch:
    """Check a decoded event batch: envelope errors raise, event errors are collected."""
    envelope = _envelope(data, "event batch")
    epoch = read_epoch(envelope.get("epoch"))
    floor = envelope.get("floor")
    if not _is_int(floor) or not 0 <= floor <= MAX_SEQ:
        raise BatchError(f"floor is {_short(floor)}; expected a whole number >= 0")
    raw_events = envelope.get("events")
    if not isinstance(raw_events, list):
        raise BatchError(f"events is {_kind(raw_events)}; expected a list of events")
    events: list[Event] = []
    rejected: list[str] = []
    for position, raw in enumerate(raw_events):
        try:
            events.append(read_event(raw))
        except BatchError as error:
            rejected.append(f"event {position}: {error}")
    return Batch(envelope["hub"], envelope["community"], epoch, floor, tuple(events),
                 tuple(rejected))


def read_epoch(value: object) -> str:
    """The batch's outbox epoch (the id a hub makes with its database), or raise BatchError."""
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_EPOCH:
        shown = "missing" if value is None else _short(value)
        raise BatchError(f"epoch is {shown}; expected the hub's outbox id, a string of "
                         f"1 to {MAX_EPOCH} characters (hubs older than the epoch contract must "
                         "be updated)")
    if "\x00" in value or not _encodable(value):
        raise BatchError("epoch holds a NUL or broken Unicode; expected plain text")
    return value


def read_event(raw: object) -> Event:
    """Check one event of a batch, or raise BatchError naming the field."""
    if not isinstance(raw, dict):
        raise BatchError(f"is {_kind(raw)}; expected a JSON object")
    event_id = _text(raw, "event_id")
    seq = raw.get("seq")
    if not _is_int(seq) or not 1 <= seq <= MAX_SEQ:
        raise BatchError(f"seq is {_short(seq)}; expected a whole number >= 1")
    type_ = _text(raw, "type")
    at_epoch = raw.get("at_epoch")
    if not _is_number(at_epoch):
        raise BatchError(f"at_epoch is {_short(at_epoch)}; expected epoch seconds (a number)")
    body = json.dumps(raw, ensure_ascii=False, sort_keys=True)
    if not _encodable(body):
        raise BatchError(f"event {event_id} holds text that is not valid Unicode")
    return Event(event_id, seq, type_, float(at_epoch), body, raw)


def parse_status(payload: bytes | str) -> Status:
    """Read a status message, or raise BatchError naming the field."""
    data = decode_json(payload)
    envelope = _envelope(data, "status")
    state = _text(envelope, "state")
    depth = envelope.get("queue_depth")
    queue_depth = depth if _is_int(depth) and 0 <= depth <= MAX_SEQ else None
    body = json.dumps(envelope, ensure_ascii=False, sort_keys=True)
    if not _encodable(body):
        raise BatchError("status holds text that is not valid Unicode")
    return Status(envelope["hub"], envelope["community"], state, queue_depth,
                  _plain(envelope.get("version")), body, _plain(envelope.get("roster_version")))


def _plain(value: object) -> str:
    """A status string field, or "" when missing or not text (older hubs send no roster_version)."""
    return value if isinstance(value, str) and _encodable(value) else ""


def _envelope(data: object, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise BatchError(f"{what} is {_kind(data)}; expected a JSON object")
    version = data.get("v")
    if not _is_int(version) or version != VERSION:
        raise BatchError(f"v is {_short(version)}; expected {VERSION} (this receiver speaks version 1)")
    check_name(data.get("hub"), "hub")
    check_name(data.get("community"), "community")
    return data


def check_name(value: object, what: str) -> str:
    """A hub or community id, safe as one MQTT topic level, or raise BatchError. Display
    names travel as data (status `community_name`), never as a topic level."""
    if not isinstance(value, str) or not value.strip():
        raise BatchError(f"{what} is {_short(value)}; expected a non-empty string")
    if not is_id(value):
        raise BatchError(f"{what} {value[:MAX_NAME]!r} is not an id usable as a topic level; "
                         f"expected {ID.form}, as the hub has it in [hub] "
                         f"{'community_id' if what == 'community' else 'id'}")
    return value


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value or len(value) > MAX_NAME:
        raise BatchError(f"{key} is {_short(value)}; expected a non-empty string")
    if "\x00" in value or not _encodable(value):
        raise BatchError(f"{key} holds a NUL or broken Unicode; expected plain text")
    return value


def optional_text(data: object, key: str) -> str | None:
    """data[key] when data is an object and that is plain text, else None."""
    if not isinstance(data, dict):
        return None
    value = data.get(key)
    if isinstance(value, str) and value and len(value) <= MAX_NAME and "\x00" not in value \
            and _encodable(value):
        return value
    return None


def optional_number(data: object, key: str) -> float | None:
    """data[key] as a float when it is a finite number, else None."""
    value = data.get(key) if isinstance(data, dict) else None
    return float(value) if _is_number(value) else None


def watch_mac(data: Mapping[str, Any]) -> str | None:
    """The event's watch MAC in normal form, or None when absent or not a MAC."""
    text = optional_text(data, "watch")
    if text is None:
        return None
    try:
        return normalise_mac(text)
    except ValueError:
        return None


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> TypeGuard[int | float]:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return abs(value) < 1e15 and (isinstance(value, int) or math.isfinite(value))


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _kind(value: object) -> str:
    return "missing" if value is None else f"a {type(value).__name__}"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


BatchOrStatus = TypeVar("BatchOrStatus", Batch, Status)


def matching_hub(message: BatchOrStatus, community: str, hub: str) -> BatchOrStatus:
    """Refuse a payload that names another hub than the topic it came on."""
    if (message.community, message.hub) != (community, hub):
        raise BatchError(f"it names hub {message.hub} ({message.community}) but came on the topic "
                         f"of hub {hub} ({community})")
    return message


def said_by(alert: str, by: str, who: str) -> str:
    """The worker's name, checked as every hub checks it (cloud_sync.contract.ids.plain_text), or
    ReceiverSetupError: a name a hub would refuse must not be recorded here either."""
    name = by.strip()
    for text in (name, alert.strip()):
        if not 0 < len(text) <= 200 or not plain_text(text):
            raise ReceiverSetupError(f"say which alert and {who} (ALERT --by NAME, plain text "
                                     "of at most 200 characters without control characters); "
                                     "the hub texts the name to the others")
    return name
