"""What the receiver's JSON API shows: hubs, alerts and watches, read from the store."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cloud_sync.server.away import away_spells
from cloud_sync.server.db import Db
from cloud_sync.server.faults import open_faults
from cloud_sync.server.logic import (
    OPEN_STATES,
    alert_number,
    decode_object,
    hub_state,
    public_alert_id,
)
from cloud_sync.server.reports import alert_rows, as_csv, monthly


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

    def alerts(self, *, open_only: bool = False, limit: int = 500, community: str | None = None,
               board: bool = False) -> list[dict[str, Any]]:
        """Community alerts, newest first; open_only keeps those still waiting for a person,
        board those the duty desk still has to see through (not yet closed with an
        outcome, nor cancelled by the resident); with community, that community's only."""
        where, params = _of(community)
        wanted = sorted(OPEN_STATES | ({"acknowledged"} if board else set())) \
            if open_only or board else []
        if wanted:
            where += f"{'AND' if where else 'WHERE'} state IN ({', '.join('?' * len(wanted))}) "
            params += wanted
        if board:
            where += "AND closed_at IS NULL " if where else "WHERE closed_at IS NULL "
        with self.db.transaction(write=False) as tx:
            rows = tx.rows("SELECT id, state, resident_id, resident_name, resident_room, watch, location, "
                           "first_at, updated_at, acknowledged_by, acknowledged_at, community, "
                           "claimed_by, claimed_at, closed_by, closed_at, outcome, note, "
                           f"overdue_at, claim_lapsed_at, kind, check_rule, check_detail FROM alerts "
                           f"{where}"
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

    def open_faults(self, community: str) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        """Each hub's open faults and each watch's, as the hubs reported them."""
        return open_faults(self.db, community)

    def away_spells(self, community: str, now: float) -> dict[str, float]:
        """The community's residents away now, with when each spell ends."""
        return away_spells(self.db, community, now)

    def report(self, community: str) -> list[dict[str, Any]]:
        """Per month and building: alerts, outcomes, minutes to claim and to on site."""
        return monthly(alert_rows(self.db, community))

    def alerts_csv(self, community: str) -> str:
        """Every alert of the community as CSV."""
        return as_csv(alert_rows(self.db, community))

    def alert_state(self, alert: str) -> str | None:
        """The state of an alert given by its id (C12), or None."""
        if alert_number(alert) is None:
            return None
        with self.db.transaction(write=False) as tx:
            rows = tx.rows("SELECT state FROM alerts WHERE id = ?", [alert_number(alert)])
        return str(rows[0][0]) if rows else None

    def alert_community(self, alert: str) -> str | None:
        """The community of an alert given by its id (C12), or None."""
        number = alert_number(alert)
        if number is None:
            return None
        with self.db.transaction(write=False) as tx:
            rows = tx.rows("SELECT community FROM alerts WHERE id = ?", [number])
        return str(rows[0][0]) if rows else None

    def timeline(self, alert: str) -> list[dict[str, Any]]:
        """What happened to a community alert (its id, C12), in order: what each hub that
        heard it reported (pressed, texted and called whom, taken, cancelled) and what people did at
        the server (received, claimed, on site, closed)."""
        number = alert_number(alert)
        if number is None:
            return []
        with self.db.transaction(write=False) as tx:
            rows = tx.rows("SELECT first_at, acknowledged_by, acknowledged_at, closed_by, "
                           "closed_at, outcome, note FROM alerts WHERE id = ?", [number])
            copies = tx.rows("SELECT community, hub, uid, first_at FROM alert_hubs "
                             "WHERE alert_id = ?", [number])
            reported = [(hub, uid, tx.rows(
                "SELECT type, at_epoch, body, received_at FROM events WHERE community = ? AND hub = ? AND "
                "type LIKE ? AND at_epoch >= ? ORDER BY at_epoch, seq LIMIT 2000",
                [community, hub, "alert.%", float(first) - 86400.0])) for community, hub, uid, first in copies]
            taken = tx.rows("SELECT at, what, who FROM alert_steps WHERE alert_id = ? "
                            "ORDER BY at, id", [number])
        if not rows:
            return []
        first, on_site_by, on_site_at, closed_by, closed_at, outcome, note = rows[0]
        mine = [(hub, event) for hub, uid, events in reported for event in events
                if _about(event[2], uid)]
        steps = [_step(hub, kind, at, body) for hub, (kind, at, body, _) in mine]
        received = min((float(event[3]) for _, event in mine), default=float(first))
        steps.append({"at": received, "what": "received", "who": None, "hub": None})
        for at, what, who in [*taken, (on_site_at, "on_site", on_site_by),
                              (closed_at, "closed", closed_by)]:
            if at is not None:
                steps.append({"at": at, "what": what, "who": who, "hub": None})
        if closed_at is not None:
            steps[-1].update(outcome=outcome, note=note)
        return sorted(steps, key=lambda step: float(step["at"]))

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


def _about(body: str, uid: str) -> bool:
    alert = (decode_object(body) or {}).get("alert")
    return isinstance(alert, dict) and alert.get("uid") == uid


def _step(hub: str, kind: str, at: float, body: str) -> dict[str, Any]:
    """One hub event as a step of the timeline."""
    event = decode_object(body) or {}
    step: dict[str, Any] = {"at": float(at), "what": kind.removeprefix("alert."), "hub": hub,
                            "who": event.get("by") or None}
    if kind == "alert.raised":
        alert, resident = _part(event, "alert"), _part(event, "resident")
        raised = alert.get("raised_at")
        step.update(what="pressed", who=resident.get("name"),
                    at=float(raised) if isinstance(raised, (int, float)) else float(at))
    elif kind in ("alert.texted", "alert.called"):
        to = _part(event, "to")
        step.update(who=to.get("name") or to.get("contact"), role=to.get("role"),
                    tier=to.get("tier"), kind=event.get("kind"))
        if kind == "alert.called":  # a ring call and how it went: never an acknowledgement
            step["outcome"] = event.get("outcome")
    return step


def _part(event: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = event.get(key)
    return value if isinstance(value, dict) else {}


def _of(community: str | None) -> tuple[str, list[Any]]:
    """A WHERE clause keeping one community's rows, or none."""
    return ("WHERE community = ? ", [community]) if community is not None else ("", [])


def _alert(row: tuple[Any, ...], hubs: list[dict[str, Any]]) -> dict[str, Any]:
    (number, state, rid, name, room, watch, location, first_at, updated_at, by, by_at,
     community, claimed_by, claimed_at, closed_by, closed_at, outcome, note, overdue_at,
     claim_lapsed_at, kind, check_rule, check_detail) = row
    return {"id": public_alert_id(int(number)), "state": state, "community": community,
            "resident": {"id": rid, "name": name, "room": room}, "watch": watch,
            "location": decode_object(location), "hubs": hubs, "first_at": first_at,
            "updated_at": updated_at, "acknowledged_by": by, "acknowledged_at": by_at,
            "claimed_by": claimed_by, "claimed_at": claimed_at, "closed_by": closed_by,
            "closed_at": closed_at, "outcome": outcome, "note": note, "overdue_at": overdue_at,
            "claim_lapsed_at": claim_lapsed_at, "kind": kind or "sos",
            "check": None if kind != "welfare" else {"rule": check_rule, "detail": check_detail}}


def _watch(row: tuple[Any, ...]) -> dict[str, Any]:
    mac, community, rid, name, battery, battery_at, lat, lon, accuracy, fixed_at, seen, hub = row
    fix = None if lat is None else {"lat": lat, "lon": lon, "accuracy_m": accuracy, "fixed_at": fixed_at}
    return {"mac": mac, "community": community, "resident": {"id": rid, "name": name},
            "battery": None if battery is None else int(battery), "battery_at": battery_at,
            "fix": fix, "last_seen": seen, "last_hub": hub}
