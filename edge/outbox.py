"""The outbox as the uplink sees it: what to send next, what the server has, what to drop."""

from __future__ import annotations

import json
import uuid

from edge.store import TELEMETRY_PRIORITY, OutboxEvent, Store


class Outbox:
    """Queries over the outbox for the uplink, on the hub's single writer connection."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    def epoch(self) -> str:
        """This database's outbox id: a reinstalled hub starts seq at 1 with a new one."""
        found = self.store.meta("outbox_epoch")
        if not found:
            found = uuid.uuid4().hex
            with self.store.transaction():
                self.store.set_meta("outbox_epoch", found)
        return found

    def events_after(self, priority: int, after_seq: int, limit: int) -> list[OutboxEvent]:
        """Undelivered events of one priority with seq above `after_seq`, oldest first."""
        rows = self.db.execute(
            "SELECT seq, event_id, type, at, priority, body FROM outbox WHERE priority = ? "
            "AND delivered_at IS NULL AND seq > ? ORDER BY seq LIMIT ?",
            [priority, after_seq, limit],
        ).fetchall()
        return [OutboxEvent(s, e, t, a, p, json.loads(b)) for s, e, t, a, p, b in rows]

    def delivered_up_to(self, seq: int, now: float) -> int:
        """The server stored every event up to `seq`: mark them; returns how many."""
        with self.store.transaction(durable=False):
            cursor = self.db.execute(
                "UPDATE outbox SET delivered_at = ? WHERE seq <= ? AND delivered_at IS NULL",
                [now, seq])
        return int(cursor.rowcount)

    def prune_delivered(self, before: float) -> int:
        """Forget delivered events older than `before` (kept a while for local records)."""
        with self.store.transaction(durable=False):
            cursor = self.db.execute(
                "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?", [before])
        return int(cursor.rowcount)

    def outbox_floor(self) -> int:
        """Every event below this seq has been delivered or evicted."""
        row = self.db.execute("SELECT min(seq) FROM outbox WHERE delivered_at IS NULL").fetchone()
        if row[0] is not None:
            return int(row[0])
        last = self.db.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
        return int(last[0]) + 1 if last else 1

    def evict_telemetry(self, cap: int) -> dict[str, int]:
        """Keep at most `cap` undelivered events by dropping the oldest telemetry.

        Alerts are never evicted, so the outbox may exceed the cap with alerts alone.
        Returns the dropped count by event type (empty when nothing was dropped).
        """
        excess = self.store.outbox_depth() - cap
        if excess <= 0:
            return {}
        with self.store.transaction(durable=False):
            rows = self.db.execute(
                "SELECT seq, type FROM outbox WHERE priority = ? AND delivered_at IS NULL "
                "ORDER BY seq LIMIT ?", [TELEMETRY_PRIORITY, excess]).fetchall()
            dropped: dict[str, int] = {}
            for _, type_ in rows:
                dropped[type_] = dropped.get(type_, 0) + 1
            if rows:
                self.db.execute("DELETE FROM outbox WHERE priority = ? AND seq <= ? AND "
                                "delivered_at IS NULL", [TELEMETRY_PRIORITY, rows[-1][0]])
                self.store.add_meta_count("outbox_dropped", len(rows))
        return dropped
