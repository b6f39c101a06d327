"""The receiver's decisions as pure functions: what an event means, what to ack and send."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cloud_sync.server.wire import Event, optional_number, optional_text, watch_mac

ALERT_TYPES = frozenset({"alert.raised", "alert.active", "alert.cancelled", "alert.acknowledged",
                         "alert.resolved", "alert.pressed_again", "alert.cancel_refused"})
CONFIRM_TYPES = frozenset({"alert.raised", "alert.active"})
OPEN_STATES = frozenset({"raised", "active"})
_STATE_RANK = {"raised": 0, "active": 1, "cancelled": 2, "acknowledged": 2, "resolved": 3}
_STATE_OF_TYPE = {"alert.raised": "raised", "alert.active": "active", "alert.cancelled": "cancelled",
                  "alert.acknowledged": "acknowledged", "alert.resolved": "resolved"}
STALE_AFTER_S = 900.0
CHARGED_ABOVE = 30  # a battery report above this ends a watch's "battery low" fault


@dataclass(frozen=True, slots=True)
class Person:
    """The resident named in an event."""

    id: str | None
    name: str | None
    room: str | None


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """What an alert event says about the alert, read defensively."""

    uid: str
    ref: str
    state: str | None
    watch: str | None
    press_counter: int | None
    resident: Person
    location: str | None
    by: str | None
    confirm: bool
    kind: str | None = None  # "welfare" for a welfare check; None: an SOS
    check_rule: str | None = None
    check_detail: str | None = None


@dataclass(frozen=True, slots=True)
class FixFacts:
    """A GPS position a watch reported."""

    lat: float
    lon: float
    accuracy_m: float | None
    fixed_at: float


@dataclass(frozen=True, slots=True)
class WatchFacts:
    """What an event says about a watch: who wears it, its battery, its last fix."""

    mac: str
    resident: Person
    battery: int | None
    fix: FixFacts | None
    charged_at: float | None = None  # the event's time when it reports a battery above 30


def person(data: object) -> Person:
    """An event's resident: an object {"id", "name", "room"} (alerts) or just the id (watch.*)."""
    if isinstance(data, str):
        return Person(optional_text({"id": data}, "id"), None, None)
    return Person(optional_text(data, "id"), optional_text(data, "name"), optional_text(data, "room"))


def alert_facts(event: Event) -> AlertFacts | None:
    """The alert an alert.* event is about, or None when it is no alert event or has no uid."""
    if event.type not in ALERT_TYPES:
        return None
    alert = event.fields.get("alert")
    uid = optional_text(alert, "uid")
    if uid is None or not isinstance(alert, dict):
        return None
    counter = alert.get("press_counter")
    valid_counter = isinstance(counter, int) and not isinstance(counter, bool) and 0 <= counter < 2**63
    return AlertFacts(
        uid=uid, ref=optional_text(alert, "ref") or "",
        state=event_state(event.type, alert.get("state")),
        watch=watch_mac(event.fields),
        press_counter=counter if valid_counter else None,
        resident=person(event.fields.get("resident")),
        location=_location(event.fields.get("location")),
        by=optional_text(event.fields, "by"),
        confirm=event.type in CONFIRM_TYPES,
        kind="welfare" if alert.get("kind") == "welfare" else None,
        check_rule=optional_text(event.fields.get("check"), "rule"),
        check_detail=optional_text(event.fields.get("check"), "detail"))


def event_state(event_type: str, stated: object) -> str | None:
    """The alert state an event reports: its type's, else the alert's own `state` field."""
    if event_type in _STATE_OF_TYPE:
        return _STATE_OF_TYPE[event_type]
    return stated if isinstance(stated, str) and stated in _STATE_RANK else None


def _location(value: object) -> str | None:
    if not isinstance(value, dict):
        return None
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 4000 else None


def watch_facts(event: Event) -> WatchFacts | None:
    """What a watch.*, or alert event says about its watch; None when it names no watch."""
    mac = watch_mac(event.fields)
    if mac is None:
        return None
    fields = event.fields
    battery = fields.get("battery") if event.type == "watch.battery" else None
    if not (isinstance(battery, int) and not isinstance(battery, bool) and 0 <= battery <= 100):
        battery = None
    if event.type == "watch.fix":
        fix = _fix(fields)
    else:
        location = fields.get("location")
        gps = isinstance(location, dict) and str(location.get("source", "")).startswith("gps")
        fix = _fix(location) if gps else None
    charged_at = event.at_epoch if battery is not None and battery > CHARGED_ABOVE else None
    return WatchFacts(mac, person(fields.get("resident")), battery, fix, charged_at)


def _fix(data: object) -> FixFacts | None:
    lat, lon = optional_number(data, "lat"), optional_number(data, "lon")
    fixed_at = optional_number(data, "fixed_at")
    if lat is None or lon is None or fixed_at is None or abs(lat) > 90 or abs(lon) > 180:
        return None
    accuracy = optional_number(data, "accuracy_m")
    return FixFacts(lat, lon, accuracy if accuracy is None or accuracy >= 0 else None, fixed_at)


def event_time(event: Event, received_at: float) -> float:
    """When the event happened: its at_epoch, unless the hub's clock was not yet set."""
    return received_at if event.fields.get("clock_synced") is False else event.at_epoch


def dedupe_key(community: str, hub: str, facts: AlertFacts) -> str:
    """One community alert per (community, watch, press counter); else one per hub alert."""
    if facts.watch is not None and facts.press_counter is not None:
        return json.dumps(["press", community, facts.watch, facts.press_counter], ensure_ascii=False)
    return json.dumps(["hub", community, hub, facts.uid], ensure_ascii=False)


def merged_state(current: str, incoming: str | None) -> str:
    """The community alert's state after a hub reports `incoming`: never reopens a closed alert."""
    if incoming is None or incoming not in _STATE_RANK:
        return current
    if _STATE_RANK[incoming] > _STATE_RANK.get(current, -1):
        return incoming
    return current


def is_open(state: str) -> bool:
    """True while the alert still needs a person."""
    return state in OPEN_STATES


def ack_start(acked_seq: int, floor: int) -> int:
    """Where the contiguous walk resumes: everything below the floor is settled."""
    return max(acked_seq, floor - 1, 0)


def advance_ack(start: int, seqs: Iterable[int]) -> tuple[int, bool]:
    """Walk ascending stored seqs from `start`; return the new ack and whether a gap stopped it."""
    current = start
    for seq in seqs:
        if seq <= current:
            continue
        if seq != current + 1:
            return current, True
        current = seq
    return current, False


def should_send_ack(previous: int, current: int, duplicates: int) -> bool:
    """Ack when it advanced, or re-send it when a resent batch shows the hub missed it."""
    return current > previous or (duplicates > 0 and current > 0)


def should_push_roster(version: str, *, state: str, reported: str, pushed: str | None,
                       previous_state: str | None) -> bool:
    """Push the roster to an online hub that reports another roster version, that was never
    sent this one, or that is coming online."""
    if state != "online":
        return False
    return reported != version or pushed != version or previous_state != "online"


def hub_state(last_state: str | None, last_seen: float | None, now: float) -> str:
    """online/offline as a worker should read it: silence longer than 15 minutes is offline."""
    if last_seen is None or now - last_seen > STALE_AFTER_S:
        return "offline"
    return "online" if last_state in (None, "online") else "offline"


def topic_parts(root: str, topic: str) -> tuple[str, str, str] | None:
    """(community, hub, kind) of `<root><community>/<hub>/<kind>`, or None for other topics."""
    if not topic.startswith(root):
        return None
    parts = topic[len(root):].split("/")
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], parts[1], parts[2]


def cmd_topic(root: str, community: str, hub: str) -> str:
    """The topic a hub listens on for commands."""
    return f"{root}{community}/{hub}/cmd"


def command(command_id: str, type_: str, **fields: Any) -> dict[str, Any]:
    """A server → hub command in contract form."""
    return {"v": 1, "id": command_id, "type": type_, **fields}


def public_alert_id(number: int) -> str:
    """The community alert id a worker reads and types, e.g. 'C42'."""
    return f"C{number}"


def alert_number(text: str) -> int | None:
    """The row number of a community alert id ('C42' or 'c42'), or None."""
    digits = text.strip()[1:]
    if text.strip()[:1] in ("C", "c") and digits.isascii() and digits.isdigit() and len(digits) < 19:
        return int(digits)
    return None


def decode_object(text: str | None) -> Mapping[str, Any] | None:
    """A JSON object stored as text, or None."""
    if not text:
        return None
    value = json.loads(text)
    return value if isinstance(value, dict) else None


@dataclass(frozen=True, slots=True)
class WatchUpdate:
    """Everything one batch says about one watch, folded to the latest of each kind."""

    mac: str
    resident: Person
    seen_at: float
    battery: int | None = None
    battery_at: float | None = None
    fix: FixFacts | None = None
    charged_at: float | None = None  # the latest report of a battery above CHARGED_ABOVE


def watch_updates(items: Iterable[tuple[WatchFacts, float]]) -> list[WatchUpdate]:
    """Fold a batch's watch facts (with event times) into one update per watch."""
    folded: dict[str, WatchUpdate] = {}
    for facts, at in items:
        old = folded.get(facts.mac) or WatchUpdate(facts.mac, facts.resident, at)
        battery, battery_at = old.battery, old.battery_at
        if facts.battery is not None and (battery_at is None or at >= battery_at):
            battery, battery_at = facts.battery, at
        fix = old.fix
        if facts.fix is not None and (fix is None or facts.fix.fixed_at >= fix.fixed_at):
            fix = facts.fix
        newer = at >= old.seen_at
        resident = facts.resident if newer and facts.resident.id is not None else old.resident
        charged = max((t for t in (old.charged_at, facts.charged_at) if t is not None),
                      default=None)
        folded[facts.mac] = WatchUpdate(facts.mac, resident, max(at, old.seen_at), battery,
                                        battery_at, fix, charged)
    return list(folded.values())


def resident_label(name: str | None, resident_id: str | None) -> str:
    """How logs name the resident of an alert."""
    return name or resident_id or "an unknown resident"
