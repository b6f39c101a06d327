"""What the welfare rules read and keep (a part of edge.storage.store.Store): the
residents' activity, since when each is watched, and away spells."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlite_utils import Database

DOOR_KINDS = ("door_open", "door_closed")
# What sensors saw is kept whole for two days (the console's recent activity; a memory copy
# keeps as much), then only each sensor's latest of each kind, all the rules read: a
# building's sensors see thousands of movements a day, and a hub runs for years.
ACTIVITY_KEPT_S = 2 * 86_400.0
ACTIVITY_FORGOTTEN = 20_000  # rows deleted in one go: the loop waits for it


@dataclass(frozen=True, slots=True)
class ActivityFacts:
    """A resident's latest activity of each sort, as epoch seconds."""

    last_any: float | None
    last_check_in: float | None
    doors: tuple[tuple[str, str, float], ...]  # each door sensor's last (mac, kind, at)


@dataclass(frozen=True, slots=True)
class Watched:
    """Since when the rules watch a resident, and until when they are away (or None)."""

    since: float
    away_until: float | None = None
    away_by: str = ""


class WelfareTables:
    """Queries over the activity and welfare tables, on the store's one writer connection."""

    db: Database

    def save_activity(self, resident_id: str, sensor_mac: str, kind: str, at: float) -> None:
        """What an activity sensor saw (see edge.alerts.activity)."""
        self.db.execute(
            "INSERT INTO activity (resident_id, sensor_mac, kind, at) VALUES (?, ?, ?, ?)",
            [resident_id, sensor_mac, kind, at])

    def forget_activity(self, before: float) -> int:
        """Delete activity from before `before` but each sensor's latest of each kind (the
        welfare rules read only those: activity_facts), at most ACTIVITY_FORGOTTEN rows,
        oldest first; call inside a transaction. Returns the rows deleted."""
        cursor = self.db.execute(
            "DELETE FROM activity WHERE id IN (SELECT id FROM activity AS old WHERE at < ?1 "
            "AND id < coalesce((SELECT min(id) FROM activity WHERE at >= ?1), "
            "(SELECT max(id) + 1 FROM activity)) AND EXISTS (SELECT 1 FROM activity AS later "
            "WHERE later.resident_id = old.resident_id AND later.sensor_mac = old.sensor_mac "
            "AND later.kind = old.kind AND (later.at > old.at OR (later.at = old.at AND "
            "later.id > old.id))) ORDER BY id LIMIT ?2)", [before, ACTIVITY_FORGOTTEN])
        return int(cursor.rowcount)

    def activity_since(self, resident_id: str, since: float) -> list[tuple[str, str, float]]:
        """The resident's activity (sensor, kind, at) from `since` on, oldest first."""
        rows = self.db.execute(
            "SELECT sensor_mac, kind, at FROM activity WHERE resident_id = ? AND at >= ? "
            "ORDER BY at, id", [resident_id, since]).fetchall()
        return [(mac, kind, at) for mac, kind, at in rows]

    def recent_activity(self, limit: int) -> list[tuple[str, str, str, float]]:
        """The latest activity of anyone, newest first: (resident, sensor, kind, at)."""
        rows = self.db.execute("SELECT resident_id, sensor_mac, kind, at FROM activity "
                               "ORDER BY id DESC LIMIT ?", [limit]).fetchall()
        return [(rid, mac, kind, at) for rid, mac, kind, at in rows]

    def activity_facts(self, resident_id: str) -> ActivityFacts:
        """The latest activity, check-in and door event of the resident."""
        last_any, last_check_in = self.db.execute(
            "SELECT max(at), max(iif(kind = 'check_in', at, NULL)) FROM activity "
            "WHERE resident_id = ?", [resident_id]).fetchone()
        doors = self.db.execute(  # each door's latest event; of two at once, the later row
            "SELECT sensor_mac, kind, at FROM (SELECT sensor_mac, kind, at, row_number() OVER "
            "(PARTITION BY sensor_mac ORDER BY at DESC, id DESC) AS n FROM activity WHERE "
            "resident_id = ? AND kind IN (?, ?)) WHERE n = 1 ORDER BY sensor_mac",
            [resident_id, *DOOR_KINDS]).fetchall()
        return ActivityFacts(last_any, last_check_in,
                             tuple((mac, kind, at) for mac, kind, at in doors))

    def watched(self, resident_id: str, now: float) -> Watched:
        """Since when the rules watch the resident (from now, the first time asked)."""
        return self.watched_all([resident_id], now)[resident_id]

    def watched_all(self, resident_ids: Iterable[str], now: float) -> dict[str, Watched]:
        """`watched` for each resident, in one read; only residents new to the rules are
        written (watched from now)."""
        known = {rid: Watched(since, until, by) for rid, since, until, by in self.db.execute(
            "SELECT resident_id, watching_since, away_until, away_by FROM welfare_residents")}
        wanted = list(resident_ids)
        new = [rid for rid in wanted if rid not in known]
        if new:
            self.db.conn.executemany(
                "INSERT INTO welfare_residents (resident_id, watching_since) VALUES (?, ?) "
                "ON CONFLICT DO NOTHING", [(rid, now) for rid in new])
            known.update((rid, Watched(now)) for rid in new)
        return {rid: known[rid] for rid in wanted}

    def set_away(self, resident_id: str, until: float, by: str, now: float) -> None:
        """The resident is away until `until`: the welfare rules pause."""
        self.db.execute(
            "INSERT INTO welfare_residents (resident_id, watching_since, away_until, away_by) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(resident_id) DO UPDATE SET "
            "away_until = excluded.away_until, away_by = excluded.away_by",
            [resident_id, now, until, by])

    def end_away(self, resident_id: str, at: float) -> None:
        """The resident is back (or the away spell ran out): the rules watch from `at`. For
        a resident who was not away nothing changes (a "back" must not restart the day's
        rules, or a stray text would put off the day's checks)."""
        self.db.execute(
            "UPDATE welfare_residents SET away_until = NULL, away_by = '', watching_since = ? "
            "WHERE resident_id = ? AND away_until IS NOT NULL", [at, resident_id])
