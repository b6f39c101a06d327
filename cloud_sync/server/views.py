"""What the receiver's JSON API shows: hubs, alerts and watches, read from the store."""

from __future__ import annotations

from typing import Any

from cloud_sync.server.db import Db
from cloud_sync.server.logic import (
    OPEN_STATES,
    decode_object,
    hub_state,
    public_alert_id,
)


class StoreViews:
    """Read-only queries shared by both databases."""

    def __init__(self, db: Db) -> None:
        self.db = db

    def hubs(self, *, now: float, community: str | None = None) -> list[dict[str, Any]]:
        """Every hub heard from: state, last seen, queue depth, acknowledged seq of its epoch.

        roster_version is the roster last sent to the hub; roster_in_use the one its last
        status reported (None before any status). With community, that community's only.
        """
        where, params = _of(community)
        with self.db.transaction(write=False) as tx:
            rows = tx.rows("SELECT community, hub, state, last_seen, queue_depth, epoch, acked_seq, "
                           f"floor, via, roster_version, status FROM hubs {where}"
                           "ORDER BY community, hub", params)
        hubs = []
        for community, hub, state, seen, depth, epoch, acked, floor, via, roster, status in rows:
            reported = decode_object(status) or {}
            hubs.append({"hub": hub, "community": community, "state": hub_state(state, seen, now),
                         "last_seen": seen, "queue_depth": depth, "epoch": epoch,
                         "acked_seq": int(acked), "floor": int(floor), "via": via,
                         "version": reported.get("version"), "roster_version": roster,
                         "roster_in_use": _roster_in_use(status, reported)})
        return hubs

    def alerts(self, *, open_only: bool = False, limit: int = 500,
               community: str | None = None) -> list[dict[str, Any]]:
        """Community alerts, newest first; open_only keeps those still waiting for a person;
        with community, that community's only."""
        where, params = _of(community)
        if open_only:
            where += f"{'AND' if where else 'WHERE'} state IN ({', '.join('?' * len(OPEN_STATES))}) "
            params += sorted(OPEN_STATES)
        with self.db.transaction(write=False) as tx:
            rows = tx.rows("SELECT id, state, resident_id, resident_name, resident_room, watch, location, "
                           "first_at, updated_at, acknowledged_by, acknowledged_at, community, "
                           f"claimed_by, claimed_at FROM alerts {where}"
                           "ORDER BY first_at DESC, id DESC LIMIT ?", [*params, limit])
            copies = self._copies(tx, [int(row[0]) for row in rows])
        return [_alert(row, copies.get(int(row[0]), [])) for row in rows]

    @staticmethod
    def _copies(tx: Any, numbers: list[int]) -> dict[int, list[dict[str, Any]]]:
        found: dict[int, list[dict[str, Any]]] = {}
        for start in range(0, len(numbers), 500):
            chunk = numbers[start:start + 500]
            rows = tx.rows("SELECT alert_id, community, hub, uid, ref, confirmed_at FROM alert_hubs "
                           f"WHERE alert_id IN ({', '.join('?' * len(chunk))}) ORDER BY first_at, hub",
                           chunk)
            for number, community, hub, uid, ref, confirmed in rows:
                found.setdefault(int(number), []).append(
                    {"hub": hub, "community": community, "uid": uid, "ref": ref,
                     "confirmed": confirmed is not None})
        return found

    def alert_community(self, alert: str) -> str | None:
        """The community of an alert given by its id (C12), or None."""
        if not (alert[:1] == "C" and alert[1:].isascii() and alert[1:].isdigit()
                and len(alert) <= 19):
            return None
        with self.db.transaction(write=False) as tx:
            rows = tx.rows("SELECT community FROM alerts WHERE id = ?", [int(alert[1:])])
        return str(rows[0][0]) if rows else None

    def alerts_version(self, community: str) -> tuple[int, float]:
        """How many alerts a community has and when one last changed: a console asks again
        when this moves."""
        with self.db.transaction(write=False) as tx:
            (count, latest), = tx.rows("SELECT COUNT(*), MAX(updated_at) FROM alerts "
                                       "WHERE community = ?", [community])
        return int(count), float(latest or 0.0)

    def watches(self, *, community: str | None = None) -> list[dict[str, Any]]:
        """Every watch heard of (of one community, if given): battery, last GPS fix, when and
        by which hub it was last heard."""
        where, params = _of(community)
        with self.db.transaction(write=False) as tx:
            rows = tx.rows("SELECT mac, community, resident_id, resident_name, battery, battery_at, lat, "
                           f"lon, accuracy_m, fixed_at, last_seen, last_hub FROM watches {where}"
                           "ORDER BY mac", params)
        return [_watch(row) for row in rows]

    def event_seqs(self, community: str, hub: str, epoch: str | None = None) -> list[int]:
        """The seqs stored for one hub (of one epoch, if given), ascending (for tests and tools)."""
        where, params = ("AND epoch = ? ", [community, hub, epoch]) if epoch is not None \
            else ("", [community, hub])
        with self.db.transaction(write=False) as tx:
            rows = tx.rows(f"SELECT seq FROM events WHERE community = ? AND hub = ? {where}"
                           "ORDER BY seq", params)
        return [int(row[0]) for row in rows]

    def event_count(self) -> int:
        """How many events are stored in all."""
        with self.db.transaction(write=False) as tx:
            return int(tx.rows("SELECT count(*) FROM events")[0][0])


def _roster_in_use(status: str | None, reported: Any) -> str | None:
    """The roster version the hub's last status reported ("" for its own), None before any."""
    if not status:
        return None
    version = reported.get("roster_version")
    return version if isinstance(version, str) else ""


def _of(community: str | None) -> tuple[str, list[Any]]:
    """A WHERE clause keeping one community's rows, or none."""
    return ("WHERE community = ? ", [community]) if community is not None else ("", [])


def _alert(row: tuple[Any, ...], hubs: list[dict[str, Any]]) -> dict[str, Any]:
    (number, state, rid, name, room, watch, location, first_at, updated_at, by, by_at,
     community, claimed_by, claimed_at) = row
    return {"id": public_alert_id(int(number)), "state": state, "community": community,
            "resident": {"id": rid, "name": name, "room": room}, "watch": watch,
            "location": decode_object(location), "hubs": hubs, "first_at": first_at,
            "updated_at": updated_at, "acknowledged_by": by, "acknowledged_at": by_at,
            "claimed_by": claimed_by, "claimed_at": claimed_at}


def _watch(row: tuple[Any, ...]) -> dict[str, Any]:
    mac, community, rid, name, battery, battery_at, lat, lon, accuracy, fixed_at, seen, hub = row
    fix = None if lat is None else {"lat": lat, "lon": lon, "accuracy_m": accuracy, "fixed_at": fixed_at}
    return {"mac": mac, "community": community, "resident": {"id": rid, "name": name},
            "battery": None if battery is None else int(battery), "battery_at": battery_at,
            "fix": fix, "last_seen": seen, "last_hub": hub}
