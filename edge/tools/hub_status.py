"""What `edge-hub status` reads from a hub's database and how it says it.

The running hub writes its live state (modem, uplink, radio) into the store every few
seconds (edge.storage.live); its age tells whether the hub is running. A state older than
STALE_AFTER_S is what the hub last saw, not what is true now, and is printed as such.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.clock import utc_text
from edge.errors import StoreError
from edge.storage.live import LIVE_KEY, STALE_AFTER_S

if TYPE_CHECKING:
    from edge.domain import Roster
    from edge.storage.store import Store



def existing_database(path: Path) -> Path:
    """`path` if a hub database is there; never creates one (a tool reads, the hub writes)."""
    if not path.is_file():
        where = "its folder does not exist" if not path.parent.is_dir() else "no such file"
        raise StoreError(f"no hub database at {path} ({where}). Check --db or [hub] database "
                         f"in hub.toml; the hub creates it on its first start (edge-hub run).")
    return path


def reading(path: Path) -> Store:
    """The hub's database as a tool that only reads opens it (`status`, `alerts list`):
    read-only, so a tool never upgrades, checkpoints or writes it under the running hub,
    and gives that hub nothing to look at again (edge.wakeup). StoreError saying why when
    it cannot be read."""
    import sqlite3

    from edge.storage.schema import MIGRATIONS, database_on
    from edge.storage.store import Store

    path = existing_database(path)
    db = None
    try:
        db = database_on(sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True))
        db.execute("PRAGMA busy_timeout = 5000")
        if next(iter(MIGRATIONS.pending(db)), None) is not None:
            raise StoreError(f"the database {path} is older than this edge-hub: start the hub "
                             "(it brings its database up to date as it starts), then ask again")
        return Store(db)
    except sqlite3.Error as error:
        if db is not None:
            db.close()
        raise StoreError(f"cannot read the database {path}: {error}; check it is a hub's "
                         "database and the hub's user may read it") from error
    except BaseException:
        if db is not None:
            db.close()
        raise


def live_state(store: Store, now: float) -> dict[str, Any]:
    """The hub's last live state, with its age and whether the hub is running."""
    live: dict[str, Any] = json.loads(store.meta(LIVE_KEY, "{}") or "{}")
    age = _age_s(live.get("at"), now)
    live["age_s"] = None if age is None else round(age)
    live["running"] = age is not None and age <= STALE_AFTER_S and not live.get("stopped")
    return live


def _age_s(at: Any, now: float) -> float | None:
    if not isinstance(at, str):
        return None
    try:
        return max(0.0, now - datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def watch_rows(store: Store, now: float, sensors: bool = False) -> list[dict[str, Any]]:
    """Every watch (or, with `sensors`, every activity sensor) of the roster the hub holds,
    with what was last heard of it."""
    rows = store.db.execute(
        "SELECT w.mac, w.resident_id, r.name, w.battery, w.last_heard_at, w.rssi, c.last_counter,"
        " w.insecure, coalesce(c.restarts, 0), c.restarted_at FROM watches w "
        "LEFT JOIN residents r ON r.id = w.resident_id "
        "LEFT JOIN watch_counters c ON c.mac = w.mac WHERE w.active = 1 AND "
        f"w.kind {'!=' if sensors else '='} 'watch' ORDER BY w.mac"
    ).fetchall()
    return [{"mac": mac, "resident": rid, "name": name, "battery": battery,
             "last_heard": utc_text(heard) if heard else None,
             "silent_s": round(now - heard) if heard else None, "rssi": rssi,
             "counter": counter, "insecure": bool(insecure), "counter_restarts": restarts,
             "counter_restarted": utc_text(restarted) if restarted else None}
            for mac, rid, name, battery, heard, rssi, counter, insecure, restarts, restarted
            in rows]


def roster_source(store: Store) -> str:
    """Where the roster in the store came from: the server (with its version), hub.toml,
    or nowhere yet (a hub that has never started on this database)."""
    if store.meta("roster_source") == "server":
        return f"server {store.meta('roster_version')}".strip()
    has_roster = store.db.execute("SELECT count(*) FROM residents").fetchone()[0]
    return "hub.toml" if has_roster else ""


def config_watches(roster: Roster) -> list[dict[str, Any]]:
    """The watches of hub.toml, for a database the hub has not loaded a roster into."""
    names = {r.id: r.name for r in roster.residents}
    return [{"mac": w.mac, "resident": w.resident_id, "name": names.get(w.resident_id),
             "battery": None, "last_heard": None, "silent_s": None, "rssi": None,
             "counter": None, "insecure": w.insecure, "counter_restarts": 0,
             "counter_restarted": None} for w in roster.watches]


def hub_line(live: dict[str, Any]) -> str:
    """Whether the hub is running, from the age of its live state."""
    age = live.get("age_s")
    if age is None:
        return "hub: not running (it has never written its state to this database)"
    if live["running"]:
        return f"hub: running (state written {age} s ago)"
    if live.get("stopped"):
        return (f"hub: NOT RUNNING (it stopped {_ago(age)} ago, at {live['at']}); "
                "start it: sudo systemctl start edge-hub")
    return (f"hub: NOT RUNNING (last state written {_ago(age)} ago, at {live['at']}); "
            "check: systemctl status edge-hub")


def parts_line(live: dict[str, Any], queues: dict[str, int]) -> str:
    """Modem and uplink as the hub last saw them; stale when the hub is not running."""
    mark = "" if live["running"] else " (stale)"
    modem = live.get("modem") or "unknown"
    uplink = live.get("uplink") or "unknown"
    return (f"modem: {modem}{mark}; uplink: {uplink}{mark}; "
            f"queued events {queues['outbox']}, texts {queues['sms']}")


def watches_line(watches: list[dict[str, Any]], source: str, silent_after_s: float) -> str:
    """How many watches the roster has and how many were heard lately."""
    heard = sum(1 for w in watches if w["silent_s"] is not None and w["silent_s"] < silent_after_s)
    never = sum(1 for w in watches if w["silent_s"] is None)
    origin = (f"roster from {source}" if source
              else "roster from hub.toml, not yet loaded by the hub")
    return (f"watches: {len(watches)} in the {origin}; {heard} heard in the last "
            f"{_ago(silent_after_s)}, {never} never heard")


def watch_line(watch: dict[str, Any]) -> str:
    """One watch, every field said in words (never None)."""
    heard = (f"heard {_ago(watch['silent_s'])} ago" if watch["silent_s"] is not None
             else "never heard")
    who = watch["name"] or watch["resident"] or "no resident"
    battery = "battery ?" if watch["battery"] is None else f"battery {watch['battery']}%"
    rssi = "" if watch["rssi"] is None else f"  rssi {watch['rssi']} dBm"
    counter = "" if watch["counter"] is None else f"  counter {watch['counter']}"
    restarted = (f" (restarted {watch['counter_restarted']})" if watch["counter_restarted"]
                 else "")
    return f"  {watch['mac']}  {who:<8} {battery}  {heard}{rssi}{counter}{restarted}"


def _ago(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"
