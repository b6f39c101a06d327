"""Stored side of texting: the SMS queue, who was told of which alert, escalations, inbox."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlite_utils import Database

from edge.domain import Alert, CallWhen, Contact, Role, e164
from edge.sms.escalation import Escalation
from edge.storage.alert_tables import OPEN_STATES
from edge.storage.store import ALERT_PRIORITY, Store

SOS_PRIORITY = 0
FOLLOW_UP_PRIORITY = 1
NOTICE_PRIORITY = 2
PRIORITY_OF = {"sos": SOS_PRIORITY, "escalated": SOS_PRIORITY, "unanswered": SOS_PRIORITY,
               "taken": FOLLOW_UP_PRIORITY, "cancelled": FOLLOW_UP_PRIORITY}


@dataclass(frozen=True, slots=True)
class OutgoingSms:
    """A queued text and the parts of it already accepted by the modem."""

    id: int
    alert_id: int | None
    phone: str
    kind: str
    text: str
    attempts: int
    sent_parts: frozenset[int]
    contact_id: str = ""
    refusals: int = 0  # times the network refused it for its number


@dataclass(frozen=True, slots=True)
class Told:
    """An open alert a number was texted about: the alert, who that number is (as the
    contact list names them), and the resident's name."""

    alert: Alert
    name: str
    resident: str


@dataclass(frozen=True, slots=True)
class InboundPdu:
    """A stored inbound PDU not yet fully processed."""

    id: int
    pdu: bytes
    received_at: float
    state: str


class SmsStore:
    """Queries over the SMS tables, on the hub's single writer connection."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def db(self) -> Database:
        """The store's connection now (it moves to memory when the disk fails)."""
        return self.store.db

    # -- queue ---------------------------------------------------------------

    def enqueue(self, phone: str, kind: str, text: str, now: float, *,
                alert_id: int | None = None, contact_id: str = "") -> int:
        """Queue one text; call inside the transaction that decided it."""
        cursor = self.db.execute(
            "INSERT INTO sms_out (alert_id, contact_id, phone, kind, priority, text, "
            "created_at, next_try_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [alert_id, contact_id, phone, kind, PRIORITY_OF.get(kind, NOTICE_PRIORITY), text,
             now, now],
        )
        return int(cursor.lastrowid or 0)

    def next_due(self, now: float) -> OutgoingSms | None:
        """The most urgent queued text whose time has come: SOS before anything else."""
        row = self.db.execute(
            "SELECT id, alert_id, phone, kind, text, attempts, contact_id, refusals FROM sms_out "
            "WHERE state = 'queued' AND next_try_at <= ? ORDER BY priority, id LIMIT 1", [now]
        ).fetchone()
        if row is None:
            return None
        parts = self.db.execute("SELECT part FROM sms_parts WHERE sms_id = ?", [row[0]]).fetchall()
        sms_id, alert_id, phone, kind, text, attempts, contact_id, refusals = row
        return OutgoingSms(sms_id, alert_id, phone, kind, text, attempts,
                           frozenset(p[0] for p in parts), contact_id, refusals)

    def contact_name(self, contact_id: str, phone: str) -> str:
        """Who a number belongs to, for messages about it; the number when unknown."""
        row = self.db.execute("SELECT name FROM contacts WHERE id = ?", [contact_id]).fetchone()
        return str(row[0]) if row else phone

    def next_wake(self) -> float | None:
        row = self.db.execute(
            "SELECT min(next_try_at) FROM sms_out WHERE state = 'queued'").fetchone()
        return None if row[0] is None else float(row[0])

    def part_sent(self, sms_id: int, part: int, parts: int, mr: int, now: float) -> None:
        self._write("INSERT OR REPLACE INTO sms_parts (sms_id, part, parts, mr, sent_at) "
                    "VALUES (?, ?, ?, ?, ?)", [sms_id, part, parts, mr, now])

    def sent(self, sms_id: int, now: float) -> None:
        """Mark a text sent; a text about an alert is also an event for the server, so the
        duty desk sees who was told and when ("alert.texted")."""
        def write() -> None:
            self.db.execute("UPDATE sms_out SET state = 'sent', sent_at = ? WHERE id = ?",
                            [now, sms_id])
            told = self.db.execute(
                "SELECT a.uid, a.ref, s.kind, s.contact_id, c.name, c.role, c.tier FROM sms_out s "
                "JOIN alerts a ON a.id = s.alert_id LEFT JOIN contacts c ON c.id = s.contact_id "
                "WHERE s.id = ?", [sms_id]).fetchall()
            if told:
                uid, ref, kind, contact, name, role, tier = told[0]
                self.store.append_event("alert.texted", now, {
                    "alert": {"uid": uid, "ref": ref}, "kind": kind,
                    "to": {"contact": contact, "name": name, "role": role, "tier": tier}},
                    ALERT_PRIORITY)
        self.store.write(write)

    def retry_later(self, sms_id: int, at: float, error: str, *, refused: bool = False) -> None:
        """Try again at `at`; `refused` when the network refused it for its number."""
        self._write("UPDATE sms_out SET attempts = attempts + 1, refusals = refusals + ?, "
                    "next_try_at = ?, last_error = ? WHERE id = ?",
                    [int(refused), at, error, sms_id])

    def failed(self, sms_id: int, error: str) -> None:
        self._write("UPDATE sms_out SET state = 'failed', attempts = attempts + 1, "
                    "last_error = ? WHERE id = ?", [error, sms_id])

    def _write(self, statement: str, params: list[object]) -> None:
        """One statement in its own transaction, done again if the store had to move."""
        self.store.write(lambda: self.db.execute(statement, params))

    def outgoing(self, state: str | None = None) -> list[tuple[int, str, str, str, str]]:
        """(id, phone, kind, state, text) of texts, oldest first."""
        where, params = ("WHERE state = ?", [state]) if state else ("", [])
        rows = self.db.execute(
            f"SELECT id, phone, kind, state, text FROM sms_out {where} ORDER BY id", params)
        return [tuple(row) for row in rows.fetchall()]

    def queue_depth(self) -> int:
        return int(self.db.execute(
            "SELECT count(*) FROM sms_out WHERE state = 'queued'").fetchone()[0])

    def status_report(self, mr: int, status: int, now: float) -> int | None:
        """Record a delivery report on the latest part with this reference; its sms id."""
        row = self.db.execute(
            "SELECT sms_id, part FROM sms_parts WHERE mr = ? ORDER BY sent_at DESC LIMIT 1", [mr]
        ).fetchone()
        if row is None:
            return None
        with self.store.transaction():
            self.db.execute(
                "UPDATE sms_parts SET report_status = ?, reported_at = ? "
                "WHERE sms_id = ? AND part = ?", [status, now, row[0], row[1]])
        return int(row[0])

    # -- who was told ---------------------------------------------------------

    def note_notified(self, alert_id: int, contact: Contact, now: float) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO alert_notified (alert_id, phone, contact_id, name, tier, "
            "first_at) VALUES (?, ?, ?, ?, ?, ?)",
            [alert_id, contact.phone, contact.id, contact.name, contact.tier, now])

    def notified(self, alert_id: int) -> list[Contact]:
        rows = self.db.execute(
            "SELECT n.contact_id, n.name, n.phone, coalesce(c.role, 'duty_desk'), n.tier, "
            "c.resident_id, coalesce(c.always_sms, 0), coalesce(c.call, 'never') "
            "FROM alert_notified n LEFT JOIN contacts c ON c.id = n.contact_id "
            "WHERE n.alert_id = ? ORDER BY n.first_at", [alert_id]).fetchall()
        return [Contact(cid, name, phone, Role(role), tier, rid, bool(always),
                        call=CallWhen(call))
                for cid, name, phone, role, tier, rid, always, call in rows]

    def first_notified_at(self, alert_id: int) -> float | None:
        row = self.db.execute(
            "SELECT min(first_at) FROM alert_notified WHERE alert_id = ?", [alert_id]).fetchone()
        return None if row[0] is None else float(row[0])

    def told(self, phone: str, country_code: str) -> list[Told]:
        """The open alerts `phone` (international form) was texted about, the one waiting
        longest first; numbers compare whole, in international form."""
        rows = self.db.execute(
            "SELECT n.alert_id, n.phone, n.name, coalesce(r.name, a.resident_id) "
            "FROM alert_notified n JOIN alerts a ON a.id = n.alert_id "
            "LEFT JOIN residents r ON r.id = a.resident_id "
            f"WHERE a.state IN {OPEN_STATES} ORDER BY a.raised_at, a.id").fetchall()
        found: list[Told] = []
        for alert_id, number, name, resident in rows:
            alert = self.store.alert_by_id(alert_id)
            if alert is not None and e164(number, country_code) == phone:
                found.append(Told(alert, name, resident))
        return found

    def note_decline(self, alert_id: int, phone: str, name: str, now: float) -> None:
        """Someone who was texted cannot go; call inside a transaction."""
        self.db.execute("INSERT OR REPLACE INTO alert_declines (alert_id, phone, name, at) "
                        "VALUES (?, ?, ?, ?)", [alert_id, phone, name, now])

    def declined(self, alert_id: int) -> set[str]:
        """The numbers (international form) that declined the alert."""
        rows = self.db.execute("SELECT phone FROM alert_declines WHERE alert_id = ?",
                               [alert_id]).fetchall()
        return {row[0] for row in rows}

    # -- the server's receipts --------------------------------------------------------

    def note_receipt(self, alert_id: int, now: float) -> None:
        self.db.execute("INSERT OR IGNORE INTO server_receipts (alert_id, at) VALUES (?, ?)",
                        [alert_id, now])

    def note_claim(self, alert_id: int, by: str, until: float) -> None:
        """A person at the server is going until `until`; call inside a transaction."""
        self.db.execute("INSERT OR REPLACE INTO server_claims (alert_id, by, until) "
                        "VALUES (?, ?, ?)", [alert_id, by, until])

    def claim(self, alert_id: int) -> tuple[str, float] | None:
        """(who, until) of the person at the server going to the alert, if any."""
        row = self.db.execute("SELECT by, until FROM server_claims WHERE alert_id = ?",
                              [alert_id]).fetchone()
        return None if row is None else (str(row[0]), float(row[1]))

    def drop_hold(self, alert_id: int, now: float) -> None:
        """The server's receipt and any claim stop holding the alert's SMS back; call inside
        a transaction."""
        self.db.execute("DELETE FROM server_receipts WHERE alert_id = ?", [alert_id])
        self.db.execute("UPDATE server_claims SET until = ? WHERE alert_id = ? AND until > ?",
                        [now, alert_id, now])

    def ask_text_now(self, alert_id: int, by: str, now: float) -> None:
        """Texts start without waiting for the server once the alert is active; call inside
        a transaction."""
        self.db.execute("INSERT OR REPLACE INTO server_text_now (alert_id, by, at) "
                        "VALUES (?, ?, ?)", [alert_id, by, now])

    def text_now_asked(self, alert_id: int) -> bool:
        row = self.db.execute("SELECT 1 FROM server_text_now WHERE alert_id = ?",
                              [alert_id]).fetchone()
        return row is not None

    def has_receipt(self, alert_id: int) -> bool:
        row = self.db.execute("SELECT 1 FROM server_receipts WHERE alert_id = ?",
                              [alert_id]).fetchone()
        return row is not None

    # -- escalations ----------------------------------------------------------------

    def save_escalation(self, state: Escalation) -> None:
        self.db.execute(
            "INSERT INTO escalations (alert_id, tier, resends, next_at, interval_s, mode) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(alert_id) DO UPDATE SET tier = excluded.tier, "
            "resends = excluded.resends, next_at = excluded.next_at, "
            "interval_s = excluded.interval_s, mode = excluded.mode",
            [state.alert_id, state.tier, state.resends, state.next_at, state.interval_s,
             state.mode])

    def escalation(self, alert_id: int) -> Escalation | None:
        row = self.db.execute(
            "SELECT alert_id, tier, resends, next_at, interval_s, mode FROM escalations "
            "WHERE alert_id = ?", [alert_id]).fetchone()
        return Escalation(*row) if row else None

    def active_without_escalation(self) -> list[Alert]:
        """Active alerts that have no escalation yet (their start was never stored)."""
        rows = self.db.execute(
            "SELECT a.id FROM alerts a LEFT JOIN escalations e ON e.alert_id = a.id "
            "WHERE a.state = 'active' AND e.alert_id IS NULL ORDER BY a.id").fetchall()
        found = (self.store.alert_by_id(row[0]) for row in rows)
        return [alert for alert in found if alert is not None]

    def open_escalations(self) -> list[Escalation]:
        rows = self.db.execute(
            "SELECT alert_id, tier, resends, next_at, interval_s, mode FROM escalations "
            "WHERE closed = 0 ORDER BY alert_id").fetchall()
        return [Escalation(*row) for row in rows]

    def close_escalation(self, alert_id: int) -> bool:
        """Mark it closed; False if it was already closed or never started."""
        cursor = self.db.execute(
            "UPDATE escalations SET closed = 1 WHERE alert_id = ? AND closed = 0", [alert_id])
        return cursor.rowcount > 0

    # -- inbox ---------------------------------------------------------------------

    def save_inbound(self, pdu: bytes, now: float) -> bool:
        """Keep an inbound PDU before it leaves the SIM; False if it was already kept."""
        digest = hashlib.sha256(pdu).hexdigest()
        cursor = self.store.write(lambda: self.db.execute(
            "INSERT OR IGNORE INTO sms_in (digest, pdu, received_at) VALUES (?, ?, ?)",
            [digest, pdu, now]))
        return cursor.rowcount > 0

    def inbound_pending(self) -> list[InboundPdu]:
        rows = self.db.execute(
            "SELECT id, pdu, received_at, state FROM sms_in WHERE state IN ('new', 'part') "
            "ORDER BY id").fetchall()
        return [InboundPdu(i, bytes(p), at, state) for i, p, at, state in rows]

    def inbound_state(self, ids: list[int], state: str, *, sender: str = "", text: str = "",
                      note: str = "") -> None:
        for row_id in ids:
            self.db.execute(
                "UPDATE sms_in SET state = ?, sender = ?, text = ?, note = ? WHERE id = ?",
                [state, sender, text, note, row_id])
