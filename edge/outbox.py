"""The outbox as the uplink sees it: what to send next, what the server has, what to drop."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from edge.store import ALERT_PRIORITY, TELEMETRY_PRIORITY, Store


@dataclass(frozen=True, slots=True)
class Batch:
    """Events of one priority on their way: seq range, how many, wire texts joined by commas.

    The seqs are ascending but not always contiguous: the other priority's events and
    evicted ones leave gaps.
    """

    first: int
    last: int
    count: int
    joined: str


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

    def wire_after(self, priority: int, after_seq: int, limit: int) -> list[tuple[int, str]]:
        """(seq, wire JSON) of undelivered events of one priority above `after_seq`."""
        rows = self.db.execute(
            "SELECT seq, wire FROM outbox WHERE priority = ? AND delivered_at IS NULL "
            "AND seq > ? ORDER BY seq LIMIT ?", [priority, after_seq, limit]).fetchall()
        return [(int(seq), str(text)) for seq, text in rows]

    def batch_after(self, priority: int, after_seq: int, limit: int) -> Batch | None:
        """Like wire_after, but SQLite joins the texts into one batch (None: nothing left)."""
        row = self.db.execute(
            "SELECT min(seq), max(seq), count(*), group_concat(wire, ',') FROM (SELECT seq, "
            "wire FROM outbox WHERE priority = ? AND delivered_at IS NULL AND seq > ? "
            "ORDER BY seq LIMIT ?)", [priority, after_seq, limit]).fetchone()
        if row[0] is None:
            return None
        return Batch(int(row[0]), int(row[1]), int(row[2]), str(row[3]))

    def delivered_up_to(self, seq: int, now: float, after: int = 0) -> int:
        """The server stored every event up to `seq` (all up to `after` were marked
        before): mark them; returns how many."""
        with self.store.transaction(durable=False):
            cursor = self.db.execute(
                "UPDATE outbox SET delivered_at = ? WHERE seq > ? AND seq <= ? "
                "AND delivered_at IS NULL", [now, after, seq])
        return int(cursor.rowcount)

    def prune_delivered(self, before: float) -> int:
        """Forget delivered events older than `before` (kept a while for local records)."""
        with self.store.transaction(durable=False):
            cursor = self.db.execute(
                "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?", [before])
        return int(cursor.rowcount)

    def outbox_floor(self) -> int:
        """Every event below this seq has been delivered or evicted."""
        lowest = [self.db.execute(
            "SELECT min(seq) FROM outbox WHERE priority = ? AND delivered_at IS NULL",
            [priority]).fetchone()[0] for priority in (ALERT_PRIORITY, TELEMETRY_PRIORITY)]
        found = [seq for seq in lowest if seq is not None]
        if found:
            return int(min(found))
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
