"""The roster and what watches report, as the store keeps them (a part of edge.storage.store.Store):
residents, watches, contacts, counters and the frame history, batteries and fixes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlite_utils import Database

from edge.domain import (
    CallWhen,
    Contact,
    Fix,
    Resident,
    Role,
    Roster,
    Sensor,
    SensorKind,
    Watch,
)

T = TypeVar("T")


TELEMETRY_FRAMES_KEPT = 256  # per watch, besides every button frame
# A battery change starts a watch's counter again from a low value: a lower counter from
# here up is not taken for a restart at once (edge.alerts.gate).
RESTART_BELOW = 1024

_UPSERT_RESIDENT = (
    "INSERT INTO residents (id, name, room, address, phone, building, active) "
    "VALUES (?, ?, ?, ?, ?, ?, 1) ON CONFLICT(id) DO UPDATE SET name = excluded.name, "
    "room = excluded.room, address = excluded.address, phone = excluded.phone, "
    "building = excluded.building, active = 1")
_UPSERT_WATCH = (
    "INSERT INTO watches (mac, resident_id, key_hex, insecure, label, kind, place, active) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT(mac) DO UPDATE SET "
    "resident_id = excluded.resident_id, key_hex = excluded.key_hex, "
    "insecure = excluded.insecure, label = excluded.label, kind = excluded.kind, "
    "place = excluded.place, active = 1")
WATCH_KIND = "watch"  # the watches table's kind of a watch; a sensor has its SensorKind
_INSERT_CONTACT = (
    "INSERT INTO contacts (id, name, phone, role, tier, resident_id, always_sms, building, "
    "call) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
_HOME_BUILDING = "home_building"  # meta: this hub's id, the building of a resident without one


@dataclass(frozen=True, slots=True)
class WatchRecord:
    """A registered watch as the gate needs it: who wears it, its key, its last counter,
    and the highest counter it reached before its counter last restarted. An activity
    sensor is gated the same way: `watch` then stands for it and `sensor` says what it is."""

    watch: Watch
    last_counter: int | None
    old_high: int | None = None
    sensor: Sensor | None = None

    @property
    def device(self) -> str:
        """What to call the device in a text: 手表, or the sensor's place."""
        return "手表" if self.sensor is None else f"{self.sensor.place}传感器"


class _Writer(Protocol):
    db: Database

    def write(self, action: Callable[[], T], *, durable: bool = True) -> T: ...


class RosterTables:
    """Queries over the roster and watch tables, on the store's one writer connection."""

    db: Database
    _batteries: dict[str, int | None] | None = None  # each watch's last battery level

    def apply_roster(self: _Writer, roster: Roster) -> None:
        """Make the stored roster equal to `roster` in one transaction; counters stay."""
        self.write(lambda: RosterTables._replace_roster(self, roster))  # type: ignore[arg-type]

    def set_home_building(self: _Writer, building: str) -> None:
        """This hub's id, kept for every process that reads the database (tools too): the
        building of a resident the roster gives none, and of the hub's own faults."""
        self.write(lambda: self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
            "value = excluded.value", [_HOME_BUILDING, building]))

    def _replace_roster(self, roster: Roster) -> None:
        """Mark everyone inactive, then upsert the roster back: one statement a table,
        run over every row (executemany), however many watches the building has."""
        self.db.execute("UPDATE residents SET active = 0")
        self.db.execute("UPDATE watches SET active = 0")
        self.db.execute("DELETE FROM contacts")
        conn = self.db.conn
        conn.executemany(_UPSERT_RESIDENT, [
            (r.id, r.name, r.room, r.address, r.phone, r.building or None)
            for r in roster.residents])
        conn.executemany(_UPSERT_WATCH, [
            (w.mac, w.resident_id, w.key.hex() if w.key else None, int(w.insecure), w.label,
             WATCH_KIND, "") for w in roster.watches])
        conn.executemany(_UPSERT_WATCH, [
            (s.mac, s.resident_id, s.key.hex() if s.key else None, 0, "", s.kind.value,
             s.place) for s in roster.sensors])
        conn.executemany(_INSERT_CONTACT, [
            (c.id, c.name, c.phone, c.role.value, c.tier, c.resident_id, int(c.always_sms),
             c.building or None, c.call.value) for c in roster.contacts])

    def watch_records(self) -> list[WatchRecord]:
        """Every active watch and sensor with its key and last accepted counter."""
        rows = self.db.execute(
            "SELECT w.mac, w.resident_id, w.key_hex, w.insecure, w.label, w.kind, w.place, "
            "c.last_counter, c.old_high FROM watches w "
            "LEFT JOIN watch_counters c ON c.mac = w.mac WHERE w.active = 1"
        ).fetchall()
        return [_record(*row) for row in rows]

    def sensors(self) -> list[Sensor]:
        """Every active activity sensor."""
        return [r.sensor for r in self.watch_records() if r.sensor is not None]

    def resident(self, resident_id: str) -> Resident | None:
        row = self.db.execute(
            "SELECT id, name, room, address, phone FROM residents WHERE id = ?", [resident_id]
        ).fetchone()
        return Resident(*row) if row else None

    def residents(self) -> list[Resident]:
        rows = self.db.execute(
            "SELECT id, name, room, address, phone FROM residents WHERE active = 1 ORDER BY id"
        ).fetchall()
        return [Resident(*row) for row in rows]

    def served_here(self) -> set[str]:
        """The active residents of this hub's building: those the roster places in it or in
        no building. A community's roster names every building's residents (one may press
        while visiting), but day to day only their own building's hub hears their watch and
        sensors, so only it judges their silence and their welfare."""
        rows = self.db.execute(
            "SELECT id FROM residents WHERE active = 1 AND (building IS NULL OR building = "
            "coalesce((SELECT value FROM meta WHERE key = ?), building))", [_HOME_BUILDING])
        return {row[0] for row in rows}

    def served_records(self) -> list[WatchRecord]:
        """watch_records of the residents this hub's building serves (served_here)."""
        served = self.served_here()
        return [record for record in self.watch_records() if record.watch.resident_id in served]

    def contacts_for(self, resident_id: str) -> list[Contact]:
        """The resident's own contacts, those of the resident's building (this hub's, for
        a resident the roster gives no building, or for "": the hub itself) and those who
        serve everyone, by tier."""
        rows = self.db.execute(
            "SELECT id, name, phone, role, tier, resident_id, always_sms, building, call "
            "FROM contacts WHERE resident_id = ? OR (resident_id IS NULL AND (building IS NULL "
            "OR building = coalesce((SELECT building FROM residents WHERE id = ?), "
            "(SELECT value FROM meta WHERE key = ?)))) ORDER BY tier, id",
            [resident_id, resident_id, _HOME_BUILDING],
        ).fetchall()
        return [
            Contact(cid, name, phone, Role(role), tier, rid, bool(always), building or "",
                    CallWhen(call))
            for cid, name, phone, role, tier, rid, always, building, call in rows
        ]

    # -- what watches report -------------------------------------------------

    def save_counter(self, mac: str, counter: int, at: float) -> None:
        self.db.execute(
            "INSERT INTO watch_counters (mac, last_counter, accepted_at) VALUES (?, ?, ?) "
            "ON CONFLICT(mac) DO UPDATE SET last_counter = excluded.last_counter, "
            "accepted_at = excluded.accepted_at",
            [mac, counter, at],
        )

    def save_restart(self, mac: str, counter: int, previous: int, at: float) -> None:
        """The watch started counting again at `counter` (its battery was changed)."""
        self.db.execute(
            "UPDATE watch_counters SET last_counter = ?, accepted_at = ?, "
            "old_high = max(coalesce(old_high, 0), ?), restarts = restarts + 1, "
            "restarted_at = ? WHERE mac = ?", [counter, at, previous, at, mac])

    def record_frame(self, mac: str, counter: int, mic: int, press: bool, at: float) -> None:
        """Keep an accepted frame in the watch's history (see edge.alerts.gate)."""
        self.db.execute(
            "INSERT INTO watch_frames (mac, counter, mic, press, at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT DO UPDATE SET press = max(press, excluded.press)",
            [mac, counter, mic, int(press), at])

    def frame_seen(self, mac: str, counter: int, mic: int) -> bool:
        """True when this exact frame (counter and MIC) was accepted from the watch before."""
        row = self.db.execute(
            "SELECT 1 FROM watch_frames WHERE mac = ? AND counter = ? AND mic = ?",
            [mac, counter, mic]).fetchone()
        return row is not None

    def prune_frame_history(self: _Writer, keep: int = TELEMETRY_FRAMES_KEPT) -> int:
        """Forget all but the latest `keep` telemetry frames of each watch; button frames stay."""
        cursor = self.write(lambda: self.db.execute(
            "DELETE FROM watch_frames WHERE press = 0 AND (mac, counter, mic) IN ("
            "SELECT mac, counter, mic FROM (SELECT mac, counter, mic, row_number() OVER "
            "(PARTITION BY mac ORDER BY at DESC, counter DESC) AS n FROM watch_frames "
            "WHERE press = 0) WHERE n > ?)", [keep]), durable=False)
        return int(cursor.rowcount)

    def note_heard(self, mac: str, at: float, rssi: int | None) -> None:
        self.db.execute(
            "UPDATE watches SET last_heard_at = ?, rssi = ? WHERE mac = ?", [at, rssi, mac]
        )

    def save_battery(self, mac: str, percent: int, at: float) -> bool:
        """Store the battery level; True when it differs from the stored one."""
        changed = self.battery_changed(mac, percent)
        self.db.execute(
            "UPDATE watches SET battery = ?, battery_at = ? WHERE mac = ?", [percent, at, mac]
        )
        return changed

    def battery_changed(self, mac: str, percent: int) -> bool:
        """True when `percent` differs from the watch's last level, which it then becomes;
        compared in memory (the stored levels are read once, and again after a rollback)."""
        if self._batteries is None:
            self._batteries = dict(self.db.execute("SELECT mac, battery FROM watches").fetchall())
        changed = self._batteries.get(mac) != percent
        self._batteries[mac] = percent
        return changed

    def watch_status(self, mac: str) -> dict[str, Any] | None:
        rows = list(self.db.query("SELECT * FROM watches WHERE mac = ?", [mac]))
        return rows[0] if rows else None

    def watch_statuses(self) -> dict[str, dict[str, Any]]:
        """Every watch's row by MAC, in one query (supervision looks at them all)."""
        return {row["mac"]: row for row in self.db.query("SELECT * FROM watches")}

    def save_fix(self, fix: Fix) -> None:
        self.db.execute(
            "INSERT INTO fixes (watch_mac, lat, lon, accuracy_m, fixed_at, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(watch_mac) DO UPDATE SET lat = excluded.lat, "
            "lon = excluded.lon, accuracy_m = excluded.accuracy_m, fixed_at = excluded.fixed_at, "
            "received_at = excluded.received_at",
            [fix.watch_mac, fix.lat, fix.lon, fix.accuracy_m, fix.fixed_at, fix.received_at],
        )

    def last_fix(self, mac: str) -> Fix | None:
        row = self.db.execute(
            "SELECT watch_mac, lat, lon, accuracy_m, fixed_at, received_at FROM fixes "
            "WHERE watch_mac = ?", [mac]
        ).fetchone()
        return Fix(*row) if row else None


def _record(mac: str, resident_id: str, key_hex: str | None, insecure: int, label: str,
            kind: str, place: str, last_counter: int | None,
            old_high: int | None) -> WatchRecord:
    key = bytes.fromhex(key_hex) if key_hex else None
    sensor = None if kind == WATCH_KIND else Sensor(mac, resident_id, SensorKind(kind), place, key)
    return WatchRecord(Watch(mac, resident_id, key, bool(insecure), label or place),
                       last_counter, old_high, sensor)
