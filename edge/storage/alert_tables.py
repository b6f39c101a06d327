"""Alerts as the store keeps them (a part of edge.storage.store.Store): each alert's row,
its short reference, and the history of its state changes."""

from __future__ import annotations

import uuid
from typing import Any

from sqlite_utils import Database

from edge.domain import Alert, AlertState

_REF_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
OPEN_STATES = "('raised', 'active')"  # an open alert's states, as an SQL list


def alert_ref(alert_id: int) -> str:
    """Short reference read out on the phone and carried in each SMS, e.g. 'A0K3'."""
    digits = ""
    value = alert_id
    while value or len(digits) < 3:
        digits = _REF_ALPHABET[value % 32] + digits
        value //= 32
    return "A" + digits


class AlertTables:
    """Queries over the alert tables, on the store's one writer connection."""

    db: Database

    def insert_alert(
        self, resident_id: str, watch_mac: str, at: float, cancel_until: float,
        state: AlertState, press_counter: int | None = None, kind: str = "sos",
    ) -> Alert:
        """Create an alert and its first state change; call inside a transaction."""
        uid = uuid.uuid4().hex
        cursor = self.db.execute(
            "INSERT INTO alerts (uid, ref, resident_id, watch_mac, state, raised_at, "
            "cancel_until, updated_at, press_counter, kind) VALUES (?, '', ?, ?, ?, ?, ?, ?, ?, ?)",
            [uid, resident_id, watch_mac, state.value, at, cancel_until, at, press_counter, kind],
        )
        alert_id = int(cursor.lastrowid or 0)
        ref = alert_ref(alert_id)
        self.db.execute("UPDATE alerts SET ref = ? WHERE id = ?", [ref, alert_id])
        self._record_change(alert_id, state, at, "", "press" if kind == "sos" else kind)
        return Alert(alert_id, uid, ref, resident_id, watch_mac, state, at, cancel_until, 1, at,
                     "", press_counter, kind)

    def save_alert(self, alert: Alert, *, by: str = "", reason: str = "") -> None:
        """Store the alert's new state and the change; call inside a transaction."""
        previous = self.db.execute("SELECT state FROM alerts WHERE id = ?", [alert.id]).fetchone()
        self.db.execute(
            "UPDATE alerts SET state = ?, press_count = ?, updated_at = ?, closed_by = ? "
            "WHERE id = ?",
            [alert.state.value, alert.press_count, alert.updated_at, alert.closed_by, alert.id],
        )
        if previous and previous[0] != alert.state.value:
            self._record_change(alert.id, alert.state, alert.updated_at, by, reason)

    def _record_change(self, alert_id: int, state: AlertState, at: float, by: str, reason: str) -> None:
        self.db.execute(
            "INSERT INTO alert_changes (alert_id, state, at, by, reason) VALUES (?, ?, ?, ?, ?)",
            [alert_id, state.value, at, by, reason],
        )

    def open_alerts(self) -> list[Alert]:
        return self._alerts(f"WHERE state IN {OPEN_STATES} ORDER BY id")

    def open_alert_for(self, resident_id: str) -> Alert | None:
        found = self._alerts(
            f"WHERE resident_id = ? AND state IN {OPEN_STATES}", [resident_id]
        )
        return found[0] if found else None

    def alert_open(self, alert_id: int | None) -> bool:
        """True when alert `alert_id` is still open (raised or active)."""
        return alert_id is not None and self.db.execute(
            f"SELECT 1 FROM alerts WHERE id = ? AND state IN {OPEN_STATES}",
            [alert_id]).fetchone() is not None

    def alert(self, uid_or_ref: str) -> Alert | None:
        found = self._alerts("WHERE uid = ? OR ref = ?", [uid_or_ref, uid_or_ref.upper()])
        return found[0] if found else None

    def alert_by_id(self, alert_id: int) -> Alert | None:
        found = self._alerts("WHERE id = ?", [alert_id])
        return found[0] if found else None

    def alerts(self, limit: int = 100) -> list[Alert]:
        return self._alerts("ORDER BY id DESC LIMIT ?", [limit])

    def alert_changes(self, alert_id: int) -> list[tuple[str, float, str, str]]:
        rows = self.db.execute(
            "SELECT state, at, by, reason FROM alert_changes WHERE alert_id = ? ORDER BY id",
            [alert_id],
        ).fetchall()
        return [tuple(row) for row in rows]

    def _alerts(self, where: str, params: list[Any] | None = None) -> list[Alert]:
        rows = self.db.execute(
            "SELECT id, uid, ref, resident_id, watch_mac, state, raised_at, cancel_until, "
            f"press_count, updated_at, closed_by, press_counter, kind FROM alerts {where}",
            params or []).fetchall()
        return [
            Alert(r[0], r[1], r[2], r[3], r[4], AlertState(r[5]), r[6], r[7], r[8], r[9], r[10],
                  r[11], r[12])
            for r in rows
        ]

    # -- welfare checks (edge.alerts.welfare) ------------------------------------------

    def save_welfare_check(self, alert_id: int, resident_id: str, rule: str, key: str,
                           detail: str) -> None:
        self.db.execute(
            "INSERT INTO welfare_checks (alert_id, resident_id, rule, check_key, detail) "
            "VALUES (?, ?, ?, ?, ?)", [alert_id, resident_id, rule, key, detail])

    def welfare_check(self, alert_id: int) -> tuple[str, str] | None:
        """The rule and detail of a welfare check, or None for an SOS."""
        row = self.db.execute("SELECT rule, detail FROM welfare_checks WHERE alert_id = ?",
                              [alert_id]).fetchone()
        return None if row is None else (row[0], row[1])

    def welfare_checked(self, resident_id: str, key: str) -> bool:
        """True when this occurrence (key) already raised a check for the resident."""
        return self.db.execute(
            "SELECT 1 FROM welfare_checks WHERE resident_id = ? AND check_key = ?",
            [resident_id, key]).fetchone() is not None
