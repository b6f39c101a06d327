"""edge-hub test-alarm: a real test over SMS and the server, sent through the running hub.

The running hub owns the modem port and the broker connection, so the test only writes
to the hub's database (a queued text, an outbox event) and watches what the hub does
with them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from edge.domain import Role
from edge.sms.texts import SmsStore
from edge.storage.store import ALERT_PRIORITY, Store
from edge.tools.hub_status import live_state

PATHS = ("sms", "server")
REQUESTED_BY = "edge-hub test-alarm"
POLL_S = 0.2
_DELIVERED_BELOW = 0x20  # TP-Status 0x00-0x1F: the message reached the phone


@dataclass(frozen=True, slots=True)
class QueuedText:
    """One queued test text."""

    sms_id: int
    name: str
    phone: str


@dataclass(frozen=True, slots=True)
class AlarmRequest:
    """What test-alarm wrote to the hub's database, to be watched."""

    paths: tuple[str, ...]
    texts: tuple[QueuedText, ...] = ()
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class PathResult:
    """What arrived on one path (or one phone) and whether that counts as success."""

    path: str
    ok: bool
    detail: str


def paths_of(choice: str) -> tuple[str, ...]:
    """'sms', 'server' or 'all' as the paths to test."""
    if choice == "all":
        return PATHS
    if choice not in PATHS:
        raise ValueError(f"unknown path {choice!r}; use sms, server or all")
    return (choice,)


def unavailable(paths: Sequence[str], modem: bool | None,
                uplink: bool | None) -> list[PathResult]:
    """The paths this hub has no means for (None: not known, try it)."""
    missing = []
    if "sms" in paths and modem is False:
        missing.append(PathResult("sms", False, "no modem configured: hub.toml has no [modem] "
                                  "section, so this hub cannot text anyone"))
    if "server" in paths and uplink is False:
        missing.append(PathResult("server", False, "no uplink configured: hub.toml has no "
                                  "[uplink] section, so this hub has no server to tell"))
    return missing


def configured_by_live(live: Mapping[str, Any]) -> tuple[bool | None, bool | None]:
    """Whether the running hub has a modem and an uplink, from its live state."""
    modem = None if "modem" not in live else live["modem"] != "no modem"
    uplink = None if "uplink" not in live else live["uplink"] != "none"
    return modem, uplink


def hub_cause(live: Mapping[str, Any], part: str) -> str:
    """Why a path may not have worked, from the hub's live state: not running, or the
    state of its modem or uplink."""
    if live.get("age_s") is None:
        return "the hub has never run on this database (sudo systemctl start edge-hub)"
    if not live.get("running"):
        return (f"the hub is not running (its last state is {live['age_s']} s old; "
                "sudo systemctl status edge-hub)")
    return f"the hub's {part}: {live.get(part, 'unknown')}"


def alarm_text(now: float, zone: str = "Asia/Shanghai") -> str:
    """The test text a duty desk receives."""
    stamp = datetime.fromtimestamp(now, ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
    return f"【测试】edge-hub 测试短信 {stamp}，无需回复。"


def duty_desks(store: Store) -> list[tuple[str, str, str]]:
    """(id, name, phone) of every duty-desk contact of this hub's building or of everyone."""
    return [(c.id, c.name, c.phone) for c in store.contacts_for("") if c.role is Role.DUTY_DESK]


def request_test(store: Store, paths: Sequence[str], now: float,
                 zone: str = "Asia/Shanghai") -> AlarmRequest:
    """Queue the test text to each duty desk and/or append a hub.test event, in one commit."""
    texts: list[QueuedText] = []
    event_id = None
    sms = SmsStore(store)
    with store.transaction():
        if "sms" in paths:
            text = alarm_text(now, zone)
            for cid, name, phone in duty_desks(store):
                texts.append(QueuedText(sms.enqueue(phone, "test", text, now, contact_id=cid),
                                     name, phone))
        if "server" in paths:
            event_id = store.append_event(
                "hub.test", now, {"requested_by": REQUESTED_BY, "paths": list(paths)},
                ALERT_PRIORITY)
    return AlarmRequest(tuple(paths), tuple(texts), event_id)


def sms_results(store: Store, request: AlarmRequest, waited_s: float,
                now: float = 0.0) -> list[PathResult]:
    """One result per queued text (or one failure if no duty desk was texted)."""
    if "sms" not in request.paths:
        return []
    if not request.texts:
        return [PathResult("sms", False, "no building-wide duty-desk contact to text; add a "
                           "[[contacts]] entry with role = \"duty_desk\" and no resident")]
    return [_sms_result(store, text, waited_s, now) for text in request.texts]


def _sms_result(store: Store, text: QueuedText, waited_s: float, now: float) -> PathResult:
    who = f"sms to {text.name} {text.phone}"
    row = store.db.execute("SELECT state, last_error FROM sms_out WHERE id = ?",
                           [text.sms_id]).fetchone()
    state, error = (row[0], row[1]) if row else ("missing", "")
    if state == "queued":
        cause = hub_cause(live_state(store, now + waited_s), "modem")
        return PathResult(who, False, f"still queued after {waited_s:.0f} s: {cause}")
    if state != "sent":
        return PathResult(who, False, f"{state}: {error or 'no reason recorded'}")
    parts = store.db.execute("SELECT mr, report_status FROM sms_parts WHERE sms_id = ? "
                             "ORDER BY part", [text.sms_id]).fetchall()
    refs = ", ".join(str(mr) for mr, _ in parts)
    detail = f"sent by the modem (message reference {refs})"
    reports = [status for _, status in parts]
    if reports and all(s is not None and s < _DELIVERED_BELOW for s in reports):
        detail += "; delivered to the phone"
    elif any(s is not None and s >= _DELIVERED_BELOW for s in reports):
        detail += f"; delivery report status {max(s for s in reports if s is not None):#04x}"
    return PathResult(who, True, detail)


def server_result(store: Store, request: AlarmRequest, waited_s: float = 0.0,
                  now: float = 0.0) -> list[PathResult]:
    """Whether the server acknowledged the hub.test event."""
    if request.event_id is None:
        return []
    row = store.db.execute("SELECT delivered_at FROM outbox WHERE event_id = ?",
                           [request.event_id]).fetchone()
    if row is not None and row[0] is not None:
        return [PathResult("server", True, "acknowledged by the server")]
    cause = hub_cause(live_state(store, now + waited_s), "uplink")
    return [PathResult("server", False, f"not acknowledged by the server after "
                       f"{waited_s:.0f} s: {cause}")]


def results(store: Store, request: AlarmRequest, waited_s: float,
            now: float = 0.0) -> list[PathResult]:
    return (sms_results(store, request, waited_s, now)
            + server_result(store, request, waited_s, now))


def _settled(store: Store, request: AlarmRequest, waited_s: float) -> bool:
    """Done waiting: every text left the queue and the event (if any) was acknowledged."""
    current = results(store, request, waited_s)
    queued = any("still queued" in r.detail for r in current)
    unacked = any(r.path == "server" and not r.ok for r in current)
    return not queued and not unacked


def watch_test(store: Store, request: AlarmRequest, sleep: Callable[[float], None],
               wait_s: float = 60.0, poll_s: float = POLL_S,
               now: float = 0.0) -> list[PathResult]:
    """Poll every `poll_s` up to `wait_s` until every path has its answer; the results."""
    waited = 0.0
    while not _settled(store, request, waited) and waited < wait_s:
        sleep(poll_s)
        waited += poll_s
    return results(store, request, waited, now)


def run_test_alarm(store: Store, paths: Sequence[str], now: float,
                   sleep: Callable[[float], None], wait_s: float = 60.0,
                   zone: str = "Asia/Shanghai", modem: bool | None = None,
                   uplink: bool | None = None) -> list[PathResult]:
    """Send the test over each path the hub has (`modem`, `uplink`: whether hub.toml
    configures them; None: as the running hub's live state says) and report what arrived."""
    by_live = configured_by_live(live_state(store, now))
    missing = unavailable(paths, by_live[0] if modem is None else modem,
                          by_live[1] if uplink is None else uplink)
    left = [p for p in paths if p not in {m.path for m in missing}]
    if not left:
        return missing
    request = request_test(store, left, now, zone)
    return missing + watch_test(store, request, sleep, wait_s, now=now)


def succeeded(outcome: Sequence[PathResult]) -> bool:
    return bool(outcome) and all(r.ok for r in outcome)
