"""Each community's roster as the server keeps it: in its database, edited in the console
by an administrator (or loaded from a roster file at start), pushed to that community's
hubs only.

The roster is kept as the tables a roster file has ([[residents]], [[watches]],
[[contacts]], [[sensors]]), checked whole by the wire contract's parse_roster before every save, so
the server never keeps a roster a hub would refuse. Every save makes a new version and a
line in the roster's log (who, when, what); the server names each version (r1, r2, …,
with a file's own version after it), so that no two rosters of a community ever share a
name and a hub that reports one has that very roster. A watch's key is kept for the hubs; the
console is told only whether a watch has one, and a key the server generates is shown
once, in the answer to the change that made it. An activity sensor's key is kept the
same way, and each watch or sensor MAC stays in one community's roster.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cloud_sync.contract.errors import ConfigError
from cloud_sync.contract.ids import is_id, normalise_mac
from cloud_sync.contract.roster_file import parse_roster
from cloud_sync.server.db import Db, Tx
from cloud_sync.server.errors import BatchError, ReceiverStoreError
from cloud_sync.server.roster import CommunityRoster, RosterPush, roster_fields

KINDS = {"residents": "id", "watches": "mac", "contacts": "id", "buildings": "id",
         "sensors": "mac"}  # key of each
_ONE = {"residents": "resident", "watches": "watch", "contacts": "contact", "buildings": "building",
        "sensors": "sensor"}
_KEYED = ("watches", "sensors")  # tables whose entries are devices: a MAC and a key
KEY_ACTIONS = ("keep", "set", "generate")
_LOG_SHOWN = 20
_EMPTY: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}


@dataclass(frozen=True, slots=True)
class Saved:
    """A saved change: the roster's new version, and a generated key (shown only now)."""

    community: str
    version: str
    new_key: str | None = None


@dataclass(frozen=True, slots=True)
class Loaded:
    """A roster file taken at start: its version, and whether it replaced console edits."""

    version: str
    replaced_edits: bool


@dataclass(frozen=True, slots=True)
class _Kept:
    """A community's roster row: its tables, version, revision and the file it came from."""

    tables: dict[str, list[dict[str, Any]]]
    version: str
    rev: int
    file_digest: str | None


class RosterBook:
    """The communities' rosters in the server's database, with a copy of each ready to push
    (kept while its version stands: every server process sees another's save at once)."""

    def __init__(self, db: Db) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._pushes: dict[str, RosterPush] = {}

    def version_of(self, community: str) -> str | None:
        """The community's roster version, or None when it has no roster."""
        with self.db.transaction(write=False) as tx:
            rows = tx.rows("SELECT version FROM rosters WHERE community = ?", [community])
        return str(rows[0][0]) if rows else None

    def push_of(self, community: str, version: str | None = None) -> RosterPush | None:
        """The roster to send to the community's hubs, or None when it has none. `version`,
        when the caller has just read it, spares reading and checking the roster again
        while the kept copy has that version (no two rosters of a community share one)."""
        with self._lock:
            kept = self._pushes.get(community)
        if kept is not None and version is not None and kept.version == version:
            return kept
        with self.db.transaction(write=False) as tx:
            found = _read(tx, community, lock="")
        if found is None:
            return None
        roster = parse_roster(found.tables, source=f"roster of {community}", default_address="")
        push = RosterPush.of(roster, found.version)
        with self._lock:
            self._pushes[community] = push
        return push

    def name_buildings(self, alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each alert with its `building`: the name the roster gives the resident's building,
        or else the building of the first hub that heard it ("" when the roster has none)."""
        homes = {community: self._homes(community)
                 for community in {alert["community"] for alert in alerts}}
        for alert in alerts:
            lives, names = homes[alert["community"]]
            heard = [hub["hub"] for hub in alert["hubs"]]
            home = lives.get(alert["resident"]["id"] or "") or (heard[0] if heard else "")
            alert["building"] = names.get(home, "")
        return alerts

    def _homes(self, community: str) -> tuple[dict[str, str], dict[str, str]]:
        """Each resident's building (hub id) and each building's name, as the roster says."""
        push = self.push_of(community, self.version_of(community))
        if push is None:
            return {}, {}
        return ({entry["id"]: entry["building"] for entry in push.fields["residents"]
                 if "building" in entry},
                {entry["id"]: entry["name"] for entry in push.fields.get("buildings", [])})

    def view(self, community: str) -> dict[str, Any]:
        """The roster as the console shows it: every table, watches with `key_set` in place of
        their key, the version and the latest changes."""
        with self.db.transaction(write=False) as tx:
            found = _read(tx, community, lock="")
            log = tx.rows("SELECT at, by_name, what FROM roster_log WHERE community = ? "
                          "ORDER BY at DESC, id DESC LIMIT ?", [community, _LOG_SHOWN])
        tables = found.tables if found is not None else _EMPTY
        watches, sensors = ([{**{k: v for k, v in device.items() if k != "key"},
                              "key_set": "key" in device} for device in tables[kind]]
                            for kind in _KEYED)
        return {"community": community, "version": found.version if found else None,
                "residents": tables["residents"], "watches": watches,
                "contacts": tables["contacts"], "buildings": tables["buildings"],
                "sensors": sensors,
                "log": [{"at": at, "by": by, "what": what} for at, by, what in log]}

    def put(self, community: str, kind: str, entry: Mapping[str, Any], *, by: str, now: float,
            key: str = "keep", key_hex: str = "") -> Saved:
        """Add an entry to one of the roster's tables, or replace the one with its id (a
        watch: its MAC). A watch keeps its key unless `key` is "set" (to key_hex) or
        "generate". Raises BatchError naming the field when the roster would be refused."""
        table, name = _kind(kind), _entry_id(kind, entry)
        if key not in KEY_ACTIONS:
            raise BatchError(f"key: expected one of {', '.join(KEY_ACTIONS)}, not {key[:20]!r}")
        written = {field: value for field, value in entry.items()
                   if field != "key" and value not in (None, "")}
        if kind in _KEYED:
            written["mac"] = name
            if kind == "watches" and key != "keep" and written.get("insecure"):
                raise BatchError(f"watches: {name} is insecure (a plaintext-only button); "
                                 "expected no key for it, or insecure off to give it one")
        new_key = secrets.token_hex(16) if key == "generate" else None

        def change(tables: dict[str, list[dict[str, Any]]]) -> str:
            rows = tables[table]
            old = next((row for row in rows if _id_of(kind, row) == name), None)
            if kind in _KEYED:
                chosen = new_key or (key_hex.strip().lower() if key == "set" else
                                     (old or {}).get("key"))
                if chosen and not written.get("insecure"):
                    written["key"] = chosen
            rows[:] = [written if row is old else row for row in rows] if old else \
                [*rows, written]
            how = {"set": ", key set", "generate": ", key generated"}.get(key, "")
            return f"{'changed' if old else 'added'} {_ONE[kind]} {name}{how}"

        version = self._save(community, change, by=by, now=now)
        return Saved(community, version, new_key)

    def remove(self, community: str, kind: str, name: str, *, by: str, now: float) -> Saved:
        """Take an entry out of the roster; BatchError when something still refers to it."""
        table = _kind(kind)

        def change(tables: dict[str, list[dict[str, Any]]]) -> str:
            kept = [row for row in tables[table] if _id_of(kind, row) != _key_of(kind, name)]
            if len(kept) == len(tables[table]):
                raise BatchError(f"{kind}: no entry {name[:40]!r} in the roster of {community}")
            tables[table] = kept
            return f"removed {_ONE[kind]} {_key_of(kind, name)}"

        return Saved(community, self._save(community, change, by=by, now=now))

    def load_file(self, entry: CommunityRoster, *, now: float) -> Loaded | None:
        """Take a roster file given at start as the community's roster, unless this same
        content was loaded before (then the console's changes since stand: a server started
        with an older copy of the file does not undo them). What was loaded, or None."""
        tables = {kind: fields for kind, fields in roster_fields(entry.roster, "").items()
                  if kind in KINDS}
        digest = hashlib.sha256(json.dumps(tables, sort_keys=True).encode()).hexdigest()
        with self.db.transaction(write=True) as tx:
            found = _locked(tx, entry.community, self.db.for_update)
            if tx.rows("SELECT 1 FROM roster_files WHERE community = ? AND digest = ?",
                       [entry.community, digest]):
                return None
            version = _version(found.rev + 1, entry.version)
            edited = found.rev > 0 and found.file_digest is None
            _write(tx, entry.community, tables, version=version, rev=found.rev + 1,
                   by=f"file {entry.source}", now=now, digest=digest)
            _refuse_shared_devices(tx, entry.community, tables)
            tx.run("INSERT INTO roster_files (community, digest, loaded_at) VALUES (?, ?, ?)",
                   [entry.community, digest, now])
            tx.run("INSERT INTO roster_log (community, at, by_name, what) VALUES (?, ?, ?, ?)",
                   [entry.community, now, f"file {entry.source}"[:200],
                    f"loaded the file as version {version}"])
        return Loaded(version, replaced_edits=edited)

    def _save(self, community: str, change: Any, *, by: str, now: float) -> str:
        """Apply `change` to the community's tables in one transaction, check the result
        whole, and keep it as a new version; returns the version."""
        if not is_id(community):
            raise BatchError(f"community {community[:70]!r}: expected the community's id")
        with self.db.transaction(write=True) as tx:
            found = _locked(tx, community, self.db.for_update)
            tables = {kind: [dict(row) for row in rows] for kind, rows in found.tables.items()}
            what = change(tables)
            try:
                parse_roster(tables, source="roster", default_address="")
            except ConfigError as error:
                raise BatchError(str(error).removeprefix("roster: ")) from None
            version = _version(found.rev + 1)
            _write(tx, community, tables, version=version, rev=found.rev + 1, by=by, now=now,
                   digest=None)
            _refuse_shared_devices(tx, community, tables)
            tx.run("INSERT INTO roster_log (community, at, by_name, what) VALUES (?, ?, ?, ?)",
                   [community, now, by[:200], what[:300]])
        return version


def _version(rev: int, label: str = "") -> str:
    """A roster's version: its revision, unique in the community, and a file's own label."""
    return f"r{rev}-{label}" if label else f"r{rev}"


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise BatchError(f"unknown roster table {kind[:20]!r}; expected residents, watches, "
                         "contacts, buildings or sensors")
    return kind


def _entry_id(kind: str, entry: Mapping[str, Any]) -> str:
    """The entry's id (a watch: its MAC, normalised), or BatchError naming the field."""
    field = KINDS[kind]
    value = entry.get(field)
    if not isinstance(value, str) or not value.strip():
        raise BatchError(f"{kind}: {field} is missing; expected "
                         f"{'a MAC address like A4:C1:38:12:34:56' if field == 'mac' else 'an id'}")
    return _key_of(kind, value)


def _key_of(kind: str, value: str) -> str:
    if kind not in _KEYED:
        return value.strip()
    try:
        return normalise_mac(value)
    except ValueError:
        raise BatchError(f"{kind}: mac {value[:40]!r}: expected a MAC address like "
                         "A4:C1:38:12:34:56") from None


def _id_of(kind: str, row: Mapping[str, Any]) -> str:
    value = str(row.get(KINDS[kind], ""))
    if kind not in _KEYED:
        return value
    try:
        return normalise_mac(value)
    except ValueError:
        return value


def _read(tx: Tx, community: str, *, lock: str) -> _Kept | None:
    rows = tx.rows("SELECT body, version, rev, file_digest FROM rosters WHERE community = ?"
                   + lock, [community])
    if not rows:
        return None
    body, version, rev, digest = rows[0]
    tables = json.loads(str(body))
    return _Kept({kind: list(tables.get(kind, [])) for kind in KINDS}, str(version), int(rev),
                 None if digest is None else str(digest))


def _locked(tx: Tx, community: str, for_update: str) -> _Kept:
    """The community's roster row, locked for this transaction (made empty if missing)."""
    tx.run("INSERT INTO rosters (community, body, version, rev, changed_by, changed_at) "
           "VALUES (?, ?, '', 0, '', 0) ON CONFLICT DO NOTHING",
           [community, json.dumps(_EMPTY)])
    found = _read(tx, community, lock=for_update)
    if found is None:
        raise ReceiverStoreError(f"the roster of {community} could not be read back")
    return found


def _write(tx: Tx, community: str, tables: Mapping[str, Any], *, version: str, rev: int,
           by: str, now: float, digest: str | None) -> None:
    tx.run("UPDATE rosters SET body = ?, version = ?, rev = ?, changed_by = ?, changed_at = ?, "
           "file_digest = ? WHERE community = ?",
           [json.dumps(tables, ensure_ascii=False), version, rev, by[:200], now, digest,
            community])


def _refuse_shared_devices(tx: Tx, community: str, tables: Mapping[str, Any]) -> None:
    """Keep each watch and sensor in one community's roster: its key must not reach another's
    hubs, and a MAC is one device (a watch here and a sensor there would be two). The
    roster_watches table holds every device's MAC, a watch's or a sensor's."""
    macs = sorted((_id_of(kind, row), kind) for kind in _KEYED for row in tables.get(kind, ()))
    tx.run("DELETE FROM roster_watches WHERE community = ?", [community])
    for mac, kind in macs:  # one by one: a device another server registers meanwhile is refused
        if not tx.run("INSERT INTO roster_watches (mac, community) VALUES (?, ?) "
                      "ON CONFLICT DO NOTHING", [mac, community]):
            raise BatchError(f"{kind}: {mac} is registered to another community; expected "
                             f"each {_ONE[kind]} in one community's roster (it must be removed "
                             "there first)")
