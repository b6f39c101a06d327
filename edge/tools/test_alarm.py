"""edge-hub test-alarm: a real test over SMS and the server, sent through the running hub.

The running hub owns the modem port and the broker connection, so the test only writes
to the hub's database (a queued text, an outbox event) and watches what the hub does
with them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from edge.domain import Role
from edge.sms.texts import SmsStore
from edge.storage.store import ALERT_PRIORITY, Store

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


def alarm_text(now: float, zone: str = "Asia/Shanghai") -> str:
    """The test text a duty desk receives."""
    stamp = datetime.fromtimestamp(now, ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
    return f"【测试】edge-hub 测试短信 {stamp}，无需回复。"


def duty_desks(store: Store) -> list[tuple[str, str, str]]:
    """(id, name, phone) of every building-wide duty-desk contact."""
    rows = store.db.execute(
        "SELECT id, name, phone FROM contacts WHERE role = ? AND resident_id IS NULL "
        "ORDER BY tier, id", [Role.DUTY_DESK.value]).fetchall()
    return [(str(cid), str(name), str(phone)) for cid, name, phone in rows]


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


def sms_results(store: Store, request: AlarmRequest, waited_s: float) -> list[PathResult]:
    """One result per queued text (or one failure if no duty desk was texted)."""
    if "sms" not in request.paths:
        return []
    if not request.texts:
        return [PathResult("sms", False, "no building-wide duty-desk contact to text; add a "
                           "[[contacts]] entry with role = \"duty_desk\" and no resident")]
    return [_sms_result(store, text, waited_s) for text in request.texts]


def _sms_result(store: Store, text: QueuedText, waited_s: float) -> PathResult:
    who = f"sms to {text.name} {text.phone}"
    row = store.db.execute("SELECT state, last_error FROM sms_out WHERE id = ?",
                           [text.sms_id]).fetchone()
    state, error = (row[0], row[1]) if row else ("missing", "")
    if state == "queued":
        return PathResult(who, False, f"still queued after {waited_s:.0f} s — is the hub "
                          "running? edge-hub status")
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


def server_result(store: Store, request: AlarmRequest) -> list[PathResult]:
    """Whether the server acknowledged the hub.test event."""
    if request.event_id is None:
        return []
    row = store.db.execute("SELECT delivered_at FROM outbox WHERE event_id = ?",
                           [request.event_id]).fetchone()
    if row is not None and row[0] is not None:
        return [PathResult("server", True, "acknowledged by the server")]
    return [PathResult("server", False, "not acknowledged by the server; is the uplink up? "
                       "edge-hub status")]


def results(store: Store, request: AlarmRequest, waited_s: float) -> list[PathResult]:
    return sms_results(store, request, waited_s) + server_result(store, request)


def _settled(store: Store, request: AlarmRequest, waited_s: float) -> bool:
    """Done waiting: every text left the queue and the event (if any) was acknowledged."""
    current = results(store, request, waited_s)
    queued = any("still queued" in r.detail for r in current)
    unacked = any(r.path == "server" and not r.ok for r in current)
    return not queued and not unacked


def watch_test(store: Store, request: AlarmRequest, sleep: Callable[[float], None],
               wait_s: float = 60.0, poll_s: float = POLL_S) -> list[PathResult]:
    """Poll every `poll_s` up to `wait_s` until every path has its answer; the results."""
    waited = 0.0
    while not _settled(store, request, waited) and waited < wait_s:
        sleep(poll_s)
        waited += poll_s
    return results(store, request, waited)


def run_test_alarm(store: Store, paths: Sequence[str], now: float,
                   sleep: Callable[[float], None], wait_s: float = 60.0,
                   zone: str = "Asia/Shanghai") -> list[PathResult]:
    """Send the test over each path through the running hub and report what arrived."""
    request = request_test(store, paths, now, zone)
    return watch_test(store, request, sleep, wait_s)


def succeeded(outcome: Sequence[PathResult]) -> bool:
    return bool(outcome) and all(r.ok for r in outcome)
