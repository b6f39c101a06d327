"""Stored side of ring calls: the durable call queue and what each call came to.

A call is queued in the transaction that queues its SOS text, and placed only once that
text has left the queue (sent, or given up), so a text always goes first. How it ended
is an event for the server ("alert.called"), shown on the alert's timeline.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from edge.calls.policy import ANSWERED
from edge.domain import Contact
from edge.storage.alert_tables import OPEN_STATES
from edge.storage.store import ALERT_PRIORITY, Store


@dataclass(frozen=True, slots=True)
class QueuedCall:
    """A ring call waiting for its turn: the alert (open or not) and whom to call."""

    id: int
    alert_id: int
    phone: str
    alert_open: bool
    ref: str = ""
    name: str = ""


class CallStore:
    """Queries over calls_out, on the hub's single writer connection."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def db(self) -> Database:
        return self.store.db

    def enqueue(self, alert_id: int, contact: Contact, sms_id: int | None, now: float) -> bool:
        """Queue a call to `contact` after text `sms_id`, unless one to that phone is
        already waiting or ringing, or one was answered for this alert; call inside the
        transaction that queued the text. True when queued."""
        row = self.db.execute(
            "SELECT 1 FROM calls_out WHERE alert_id = ? AND phone = ? AND "
            "(state IN ('queued', 'ringing') OR outcome = ?) LIMIT 1",
            [alert_id, contact.phone, ANSWERED]).fetchone()
        if row is not None:
            return False
        self.db.execute(
            "INSERT INTO calls_out (alert_id, contact_id, phone, sms_id, created_at) "
            "VALUES (?, ?, ?, ?, ?)", [alert_id, contact.id, contact.phone, sms_id, now])
        return True

    def next_due(self) -> QueuedCall | None:
        """The oldest queued call whose text is no longer waiting to go out."""
        row = self.db.execute(
            f"SELECT c.id, c.alert_id, c.phone, a.state IN {OPEN_STATES}, "
            "a.ref, coalesce(k.name, c.phone) FROM calls_out c "
            "JOIN alerts a ON a.id = c.alert_id LEFT JOIN contacts k ON k.id = c.contact_id "
            "LEFT JOIN sms_out s ON s.id = c.sms_id WHERE c.state = 'queued' AND "
            "(s.id IS NULL OR s.state != 'queued') ORDER BY c.id LIMIT 1").fetchone()
        if row is None:
            return None
        call_id, alert_id, phone, open_, ref, name = row
        return QueuedCall(call_id, alert_id, phone, bool(open_), ref, name)

    def started(self, call_id: int, now: float) -> None:
        self.store.write(lambda: self.db.execute(
            "UPDATE calls_out SET state = 'ringing', started_at = ? WHERE id = ?",
            [now, call_id]))

    def finished(self, call_id: int, outcome: str, now: float, detail: str = "") -> None:
        """Record how the call ended, and tell the server ("alert.called")."""
        def write() -> None:
            self.db.execute("UPDATE calls_out SET state = 'done', outcome = ?, detail = ?, "
                            "ended_at = ? WHERE id = ?", [outcome, detail, now, call_id])
            self._event(call_id, outcome, now)
        self.store.write(write)

    def _event(self, call_id: int, outcome: str, now: float) -> None:
        row = self.db.execute(
            "SELECT a.uid, a.ref, c.contact_id, k.name, k.role, k.tier FROM calls_out c "
            "JOIN alerts a ON a.id = c.alert_id LEFT JOIN contacts k ON k.id = c.contact_id "
            "WHERE c.id = ?", [call_id]).fetchone()
        if row is None:
            return
        uid, ref, contact, name, role, tier = row
        self.store.append_event("alert.called", now, {
            "alert": {"uid": uid, "ref": ref}, "outcome": outcome,
            "to": {"contact": contact, "name": name, "role": role, "tier": tier}},
            ALERT_PRIORITY)

    def interrupted(self, now: float) -> int:
        """Calls that were ringing when the hub stopped: ended, not placed again (the next
        round calls again if the alert is still open). Returns how many."""
        rows = self.db.execute(
            "SELECT id FROM calls_out WHERE state = 'ringing'").fetchall()
        for (call_id,) in rows:
            self.finished(call_id, "interrupted", now)
        return len(rows)
