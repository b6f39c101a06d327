"""Within one stored batch: fold alert events into community alerts, and watch facts into watches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cloud_sync.server.db import Tx
from cloud_sync.server.logic import (
    AlertFacts,
    WatchUpdate,
    dedupe_key,
    merged_state,
    public_alert_id,
    resident_label,
)


@dataclass(frozen=True, slots=True)
class HubAlert:
    """One hub's copy of a community alert: where an alert_received or alert_ack goes."""

    community: str
    hub: str
    uid: str
    ref: str
    via: str
    state: str | None = None


@dataclass(frozen=True, slots=True)
class AlertNotice:
    """A command owed to a hub about an alert: alert_received (by is None) or alert_ack."""

    alert_id: str
    resident: str
    target: HubAlert
    by: str | None = None


@dataclass(frozen=True, slots=True)
class _AlertRow:
    number: int
    state_before: str
    state: str
    resident: str
    acknowledged_by: str | None


class AlertFolder:
    """Maps hub alerts onto community alerts (one per watch press) inside a transaction."""

    def __init__(self, tx: Tx, for_update: str, now: float) -> None:
        self.tx = tx
        self.for_update = for_update
        self.now = now  # when the server received the batch

    def apply(self, target: HubAlert, facts: AlertFacts, at: float) -> list[AlertNotice]:
        """Record one new alert event; return the commands the hubs are owed because of it."""
        tx = self.tx
        found = tx.rows("SELECT alert_id FROM alert_hubs WHERE community = ? AND hub = ? AND uid = ?",
                        [target.community, target.hub, facts.uid])
        joined = not found
        number = int(found[0][0]) if found else self._alert_for(target, facts, at)
        if joined:
            tx.run("INSERT INTO alert_hubs (community, hub, uid, ref, alert_id, first_at) "
                   "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                   [target.community, target.hub, facts.uid, facts.ref, number, at])
        if facts.watch is not None and facts.press_counter is not None:
            tx.run("INSERT INTO alert_keys (key, alert_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                   [dedupe_key(target.community, target.hub, facts), number])
        row = self._update(number, target.hub, facts, at)
        return self._notices(row, target, facts, joined, at)

    def touch(self, community: str, hub: str, alert: object) -> None:
        """Something new about a hub's alert (a text went out): its row moves, so open
        consoles fetch it again."""
        uid = str(alert.get("uid", "")) if isinstance(alert, dict) else ""
        self.tx.run("UPDATE alerts SET updated_at = ? WHERE id IN (SELECT alert_id FROM "
                    "alert_hubs WHERE community = ? AND hub = ? AND uid = ?)",
                    [self.now, community, hub, uid])

    def _alert_for(self, target: HubAlert, facts: AlertFacts, at: float) -> int:
        key = dedupe_key(target.community, target.hub, facts)
        found = self.tx.rows("SELECT alert_id FROM alert_keys WHERE key = ?", [key])
        if found:
            return int(found[0][0])
        self.tx.run("INSERT INTO alerts (dedupe_key, community, state, watch, press_counter, first_at, "
                    "updated_at, received_at) VALUES (?, ?, 'raised', ?, ?, ?, ?, ?) "
                    "ON CONFLICT (dedupe_key) DO NOTHING",
                    [key, target.community, facts.watch, facts.press_counter, at, at, self.now])
        number = int(self.tx.rows("SELECT id FROM alerts WHERE dedupe_key = ?", [key])[0][0])
        self.tx.run("INSERT INTO alert_keys (key, alert_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    [key, number])
        return number

    def _update(self, number: int, hub: str, facts: AlertFacts, at: float) -> _AlertRow:
        (state, rid, name, room, location_at, first_at, by, by_at), = self.tx.rows(
            "SELECT state, resident_id, resident_name, resident_room, location_at, first_at, "
            f"acknowledged_by, acknowledged_at FROM alerts WHERE id = ?{self.for_update}", [number])
        new_state = merged_state(state, facts.state)
        if new_state == "acknowledged" and by is None:
            by, by_at = facts.by or f"hub {hub}", at
        newer_place = facts.location is not None and (location_at is None or at >= location_at)
        resident = facts.resident
        self.tx.run(
            "UPDATE alerts SET state = ?, resident_id = ?, resident_name = ?, resident_room = ?, "
            "watch = COALESCE(watch, ?), location = CASE WHEN ? THEN ? ELSE location END, "
            "location_at = CASE WHEN ? THEN ? ELSE location_at END, first_at = ?, updated_at = ?, "
            "acknowledged_by = ?, acknowledged_at = ?, kind = COALESCE(kind, ?), "
            "check_rule = COALESCE(check_rule, ?), check_detail = COALESCE(check_detail, ?) "
            "WHERE id = ?",
            [new_state, rid or resident.id, name or resident.name, room or resident.room,
             facts.watch, newer_place, facts.location, newer_place, at, min(first_at, at),
             self.now, by, by_at, facts.kind, facts.check_rule, facts.check_detail, number])  # updated_at: server time, so consoles see it move
        label = resident_label(name or resident.name, rid or resident.id)
        return _AlertRow(number, state, new_state, label, by)

    def _notices(self, row: _AlertRow, target: HubAlert, facts: AlertFacts, joined: bool,
                 at: float) -> list[AlertNotice]:
        notices = []
        alert_id = public_alert_id(row.number)
        if facts.confirm and self.tx.run(
                "UPDATE alert_hubs SET confirmed_at = ? WHERE community = ? AND hub = ? AND uid = ? "
                "AND confirmed_at IS NULL", [at, target.community, target.hub, facts.uid]):
            notices.append(AlertNotice(alert_id, row.resident, target))
        taken = row.state == "acknowledged" and row.acknowledged_by is not None
        if taken and joined and row.state_before == "acknowledged" and facts.state != "acknowledged":
            notices.append(AlertNotice(alert_id, row.resident, target, row.acknowledged_by))
        if taken and row.state_before != "acknowledged":
            others = [hub for hub in hub_copies(self.tx, row.number)
                      if (hub.community, hub.hub, hub.uid) != (target.community, target.hub, target.uid)]
            notices.extend(AlertNotice(alert_id, row.resident, hub, row.acknowledged_by) for hub in others)
        return notices


def hub_copies(tx: Tx, number: int) -> list[HubAlert]:
    """Every hub alert mapped to community alert `number`, with how its hub is reached."""
    rows = tx.rows("SELECT a.community, a.hub, a.uid, a.ref, COALESCE(h.via, 'mqtt'), h.state "
                   "FROM alert_hubs a LEFT JOIN hubs h ON h.community = a.community AND h.hub = a.hub "
                   "WHERE a.alert_id = ? ORDER BY a.first_at, a.hub", [number])
    return [HubAlert(str(community), str(hub), str(uid), str(ref), str(via), state)
            for community, hub, uid, ref, via, state in rows]


def apply_watches(tx: Tx, community: str, hub: str, updates: Sequence[WatchUpdate]) -> None:
    """Upsert each watch's last-seen, battery, fix and last charged battery, keeping
    whichever is newest."""
    for update in updates:
        tx.run(
            "INSERT INTO watches (mac, community, resident_id, resident_name, last_seen, last_hub) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (mac) DO UPDATE SET "
            "resident_id = COALESCE(excluded.resident_id, watches.resident_id), "
            "resident_name = COALESCE(excluded.resident_name, watches.resident_name), "
            "last_hub = CASE WHEN excluded.last_seen >= watches.last_seen "
            "THEN excluded.last_hub ELSE watches.last_hub END, "
            "last_seen = CASE WHEN excluded.last_seen > watches.last_seen "
            "THEN excluded.last_seen ELSE watches.last_seen END "
            "WHERE watches.community = excluded.community",  # never another community's watch
            [update.mac, community, update.resident.id, update.resident.name, update.seen_at, hub])
        if update.charged_at is not None:  # ends a "battery low" reported before it; a
            # batch that says so has a battery too: one statement keeps both
            newer = "(battery_at IS NULL OR battery_at <= ?)"
            tx.run(f"UPDATE watches SET battery = CASE WHEN {newer} THEN ? ELSE battery END, "
                   f"battery_at = CASE WHEN {newer} THEN ? ELSE battery_at END, "
                   "charged_at = CASE WHEN charged_at IS NULL OR charged_at < ? THEN ? "
                   "ELSE charged_at END WHERE mac = ? AND community = ?",
                   [update.battery_at, update.battery, update.battery_at, update.battery_at,
                    update.charged_at, update.charged_at, update.mac, community])
        elif update.battery is not None:
            tx.run("UPDATE watches SET battery = ?, battery_at = ? WHERE mac = ? AND community = ? "
                   "AND (battery_at IS NULL OR battery_at <= ?)",
                   [update.battery, update.battery_at, update.mac, community, update.battery_at])
        if update.fix is not None:
            fix = update.fix
            tx.run("UPDATE watches SET lat = ?, lon = ?, accuracy_m = ?, fixed_at = ? WHERE mac = ? "
                   "AND community = ? AND (fixed_at IS NULL OR fixed_at < ?)",
                   [fix.lat, fix.lon, fix.accuracy_m, fix.fixed_at, update.mac, community,
                    fix.fixed_at])
