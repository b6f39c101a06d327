"""The outbox as the uplink sees it: what to send next (the offline backlog folded into
send-ready segments), what the server has, what to drop."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from cloud_sync.contract import wire
from edge.storage.store import ALERT_PRIORITY, TELEMETRY_PRIORITY, Store


@dataclass(frozen=True, slots=True)
class Batch:
    """Events of one priority on their way: seq range, how many, wire texts joined by commas
    (UTF-8); a folded one also as the whole payload it was folded into.

    The seqs are ascending but not always contiguous: the other priority's events and
    evicted ones leave gaps.
    """

    first: int
    last: int
    count: int
    joined: bytes | memoryview
    framed: bytes = b""  # folded: head (head_len bytes), joined, "]}" (wire.framed)
    head_len: int = 0

    def payload(self, head: bytes) -> bytes:
        """The batch's payload under `head` (wire.batch_head): a folded batch as read when
        it was folded under that same head, else framed now."""
        if self.framed and self.head_len == len(head) and self.framed.startswith(head):
            return self.framed
        return wire.framed(head, self.joined)


# The next `limit` undelivered events of one priority after a seq, joined; `bound` may
# stop them short of the next usable segment.
_JOIN_ROWS = (
    "SELECT min(seq), max(seq), count(*), CAST(group_concat(wire, ',') AS BLOB) FROM "
    "(SELECT seq, wire FROM outbox WHERE priority = ? AND delivered_at IS NULL AND seq > ? "
    "{bound} ORDER BY seq LIMIT ?)")
_BEFORE_SEGMENT = (
    "AND seq < coalesce((SELECT min(first_seq) FROM outbox_segments AS s WHERE first_seq > ? "
    "AND count <= ? AND EXISTS (SELECT 1 FROM outbox WHERE seq = s.first_seq AND "
    "delivered_at IS NULL)), 9e18)")
# The segment that starts at the next undelivered telemetry event, if one does and fits.
# Events leave the outbox (acknowledged, evicted) only from the lowest seq up, so a
# segment whose first event is still waiting still holds exactly its events.
_SEGMENT_NEXT = (
    "SELECT first_seq, last_seq, count, head_len, payload FROM outbox_segments WHERE first_seq = "
    "(SELECT min(seq) FROM outbox WHERE priority = ? AND delivered_at IS NULL AND seq > ?) "
    "AND count <= ?")


def _batch(row: Any) -> Batch | None:
    """(first, last, count, joined) as read; None when there was nothing to read."""
    if row is None or row[0] is None:
        return None
    return Batch(int(row[0]), int(row[1]), int(row[2]), bytes(row[3]))


def _segment(row: Any) -> Batch:
    """(first, last, count, head_len, payload) as read from outbox_segments."""
    first, last, count, head_len, payload = row
    return Batch(first, last, count, wire.joined_in(payload, head_len), payload, head_len)


class Outbox:
    """Queries over the outbox for the uplink, on the hub's single writer connection."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def db(self) -> Database:
        """The store's connection now (it moves to memory when the disk fails)."""
        return self.store.db

    def epoch(self) -> str:
        """This database's outbox id: a reinstalled hub starts seq at 1 with a new one."""
        found = self.store.meta("outbox_epoch")
        if not found:
            found = uuid.uuid4().hex
            with self.store.transaction():
                self.store.set_meta("outbox_epoch", found)
        return found

    def batch_after(self, priority: int, after_seq: int, limit: int) -> Batch | None:
        """The next undelivered events of one priority above `after_seq`, joined (None:
        nothing left). Telemetry folded into a segment comes from it in one read."""
        if priority != TELEMETRY_PRIORITY:
            return _batch(self.db.execute(_JOIN_ROWS.format(bound=""),
                                          [priority, after_seq, limit]).fetchone())
        row = self.db.execute(_SEGMENT_NEXT, [priority, after_seq, limit]).fetchone()
        if row is not None:
            return _segment(row)
        return _batch(self.db.execute(  # stops short of the next segment, read whole next
            _JOIN_ROWS.format(bound=_BEFORE_SEGMENT),
            [priority, after_seq, after_seq, limit, limit]).fetchone())

    def fold(self, size: int, most_events: int, head: bytes) -> int:
        """Join undelivered telemetry past the last segment into segments of `size`
        events, framed under `head` (wire.batch_head), at most `most_events` events in all
        (at least one segment); returns how many segments. Runs while the uplink is down,
        a little on every tick."""
        made, most = 0, max(1, most_events // size)
        with self.store.transaction(durable=False):
            last = self.db.execute("SELECT max(last_seq) FROM outbox_segments").fetchone()[0]
            after = int(last or 0)
            while made < most:
                first, last, count, joined = self.db.execute(
                    _JOIN_ROWS.format(bound=""), [TELEMETRY_PRIORITY, after, size]).fetchone()
                if count < size:  # the tail keeps growing: it goes row by row
                    break
                self.db.execute("INSERT INTO outbox_segments (first_seq, last_seq, count, "
                                "head_len, payload) VALUES (?, ?, ?, ?, ?)",
                                [first, last, count, len(head), wire.framed(head, joined)])
                made, after = made + 1, int(last)
        return made

    def segments(self) -> int:
        """How many folded segments are waiting."""
        return int(self.db.execute("SELECT count(*) FROM outbox_segments").fetchone()[0])

    def delivered_up_to(self, seq: int, now: float, after: int = 0) -> int:
        """The server stored every event up to `seq` (all up to `after` were marked
        before): mark them; returns how many."""
        with self.store.transaction(durable=False):
            cursor = self.db.execute(
                "UPDATE outbox SET delivered_at = ? WHERE seq > ? AND seq <= ? "
                "AND delivered_at IS NULL", [now, after, seq])
            self.db.execute("DELETE FROM outbox_segments WHERE first_seq <= ?", [seq])
            self.store.events_left(int(cursor.rowcount))
        return int(cursor.rowcount)

    def prune_delivered(self, before: float) -> int:
        """Forget delivered events older than `before` (kept a while for local records)."""
        with self.store.transaction(durable=False):
            cursor = self.db.execute(
                "DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?", [before])
        return int(cursor.rowcount)

    def outbox_floor(self) -> int:
        """Every event below this seq has been delivered or evicted (while the store runs
        in memory, the events still waiting in the file count too)."""
        floor = self._floor()
        cap = None if self.store.guard is None else self.store.guard.floor_cap
        return floor if cap is None else min(floor, cap)

    def _floor(self) -> int:
        lowest = self.db.execute(
            "SELECT min(seq) FROM (SELECT min(seq) AS seq FROM outbox WHERE priority = ? AND "
            "delivered_at IS NULL UNION ALL SELECT min(seq) FROM outbox WHERE priority = ? "
            "AND delivered_at IS NULL UNION ALL SELECT seq + 1 FROM sqlite_sequence WHERE "
            "name = 'outbox')", [ALERT_PRIORITY, TELEMETRY_PRIORITY]).fetchone()[0]
        return int(lowest) if lowest is not None else 1

    def evict_telemetry(self, cap: int, low_water: int | None = None,
                        now: float = 0.0) -> dict[str, int]:
        """Above `cap` undelivered events, drop the oldest telemetry down to `low_water`
        (default: the cap) in one go, so a full outbox is not trimmed event by event.

        Alerts are never evicted, so the outbox may exceed the cap with alerts alone.
        What was dropped is added to the open drop episode (`drop_episode`), in the same
        transaction. Returns the dropped count by event type (empty: nothing dropped).
        """
        depth = self.store.outbox_depth()
        if depth <= cap:
            return {}
        excess = depth - min(cap, cap if low_water is None else low_water)
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
                self.db.execute("DELETE FROM outbox_segments WHERE first_seq <= ?",
                                [rows[-1][0]])
                self.store.add_meta_count("outbox_dropped", len(rows))
                self.store.events_left(len(rows))
                self._add_to_episode(dropped, now)
        return dropped

    def drop_episode(self) -> dict[str, Any] | None:
        """What was dropped since the outbox last filled up, not yet told to the server:
        {"since", "count", "types"}; None when nothing is waiting to be told."""
        text = self.store.meta(_EPISODE)
        return json.loads(text) if text else None

    def end_drop_episode(self) -> dict[str, Any] | None:
        """Forget the open episode and return it; call inside the transaction of its event."""
        episode = self.drop_episode()
        if episode is not None:
            self.db.execute("DELETE FROM meta WHERE key = ?", [_EPISODE])
        return episode

    def _add_to_episode(self, dropped: dict[str, int], now: float) -> None:
        episode = self.drop_episode() or {"since": now, "count": 0, "types": {}}
        episode["count"] += sum(dropped.values())
        for type_, count in dropped.items():
            episode["types"][type_] = episode["types"].get(type_, 0) + count
        self.store.set_meta(_EPISODE, json.dumps(episode, sort_keys=True))


_EPISODE = "outbox_drop_episode"
