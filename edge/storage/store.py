"""The hub's SQLite store: opening, transactions, full disks and the outbox; its roster and
watch tables (edge.storage.roster) and alert tables (edge.storage.alert_tables) are mixed in."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlite_utils import Database

from edge.domain import Roster
from edge.errors import StorageFault, StoreError
from edge.storage.alert_tables import AlertTables
from edge.storage.checkpoints import Checkpointer, checkpoint_pragmas, start_checkpoints
from edge.storage.disk import (
    MB,
    DiskGuard,
    StorageLimits,
    is_storage_fault,
    open_file,
    storage_fault,
)
from edge.storage.roster import RosterTables
from edge.storage.schema import MIGRATIONS, database_on
from edge.storage.telemetry import TelemetryGroup, outbox_row
from edge.storage.welfare_tables import WelfareTables

ALERT_PRIORITY = 0
TELEMETRY_PRIORITY = 1
T = TypeVar("T")
_log = logging.getLogger("edge.storage.store")


@dataclass(frozen=True, slots=True)
class OutboxEvent:
    """One event waiting for the uplink, in the order it was written."""

    seq: int
    event_id: str
    type: str
    at: float
    priority: int
    body: dict[str, Any]


# The writer's page cache: the hub's hot pages (the outbox's tail, the watches, open
# alerts) fit well within it, and a Pi has little memory to spare (SQLite's own default
# is 2 MiB per connection).
CACHE_KIB = 512


class Store(RosterTables, AlertTables, WelfareTables):
    """The only writer of the hub database; every write happens in a transaction."""

    def __init__(self, db: Database, checkpointer: Checkpointer | None = None,
                 guard: DiskGuard | None = None) -> None:
        self.db, self.checkpointer, self.guard = db, checkpointer, guard
        self.file: Path | None = None  # the database file, when it was opened from one
        self.clock_synced: Callable[[], bool] = lambda: False  # the composition sets a probe
        # The roster the hub was configured with: loaded into memory when a move to memory
        # could not read the file (edge.storage.disk); the composition sets it.
        self.fallback_roster: Callable[[], Roster | None] = lambda: None
        self._depth: int | None = None  # undelivered events, counted once then kept
        self._seq: int | None = None  # the outbox's last seq, within one transaction
        # Called after a commit that added outbox events, True when only telemetry (the
        # composition: the uplink sends them soon); the store runs on the loop, so this does too.
        self.on_events: Callable[[bool], object] = lambda telemetry: None
        # Called after every commit of ours (edge.wakeup: the write was ours, not news).
        self.committed: Callable[[], object] = lambda: None
        self._appended = False
        self._data_version: tuple[object, int] | None = None
        self._sync_mode: tuple[object, str] | None = None  # the connection's, as last set
        self.telemetry = TelemetryGroup(self.flush_telemetry)
        self._roster_loaded_into: object = None
        self._prepare(db)

    def _prepare(self, db: Database) -> None:
        """The writer connection's settings, and the schema brought up to date."""
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA synchronous = FULL")
        self._sync_mode = (db, "FULL")
        db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        if self.checkpointer is not None:
            checkpoint_pragmas(db)
        if self.guard is not None and self.guard.page_limit is not None:
            db.execute(f"PRAGMA max_page_count = {int(self.guard.page_limit)}")
        MIGRATIONS.apply(db)

    @classmethod
    def open(cls, path: Path | str, checkpoint_s: float = 5.0, *,
             limits: StorageLimits | None = None) -> Store:
        """Open (or create, mode 0600) the database file in WAL mode and migrate it.

        With `limits` (the running hub) the store keeps a reserve and, when the disk is
        full or read-only even at start, carries on in memory (edge.storage.disk) instead of
        failing; tools pass none and get a StoreError saying what is wrong.
        """
        path = Path(path)
        guard = None if limits is None else limits.guard(path)
        store: Store | None = None
        failure: BaseException | None = None
        for attempt in range(2):  # a second time once the reserve has made room
            try:
                store = cls._on_file(path, guard)
                break
            except (OSError, sqlite3.Error) as error:
                if guard is None or not is_storage_fault(error):
                    raise StoreError(
                        f"cannot open the database {path}: {error}; check the folder exists "
                        "and the hub's user may write to it") from error
                failure = error
                if attempt or not guard.make_room(error):
                    break
        if store is None:
            assert guard is not None and failure is not None
            store = cls(database_on(sqlite3.connect(":memory:")), None, guard)
            guard.start_in_memory(store, failure)
        else:
            store.checkpointer = start_checkpoints(store.db, path, checkpoint_s, guard)
        store.file = path
        if guard is not None:
            guard.reconnect = lambda: store._reopen(path, checkpoint_s)  # type: ignore[union-attr]
            guard.reserve.ensure(guard.low_space_bytes)
        return store

    @classmethod
    def _on_file(cls, path: Path, guard: DiskGuard | None) -> Store:
        db = open_file(path)
        try:
            return cls(db, None, guard)
        except BaseException:
            db.close()
            raise

    def _reopen(self, path: Path, checkpoint_s: float) -> Database:
        """A fresh writer connection on the file, for a store coming back from memory."""
        db = open_file(path)
        try:
            self._prepare(db)
            if self.checkpointer is None:
                self.checkpointer = start_checkpoints(db, path, checkpoint_s, self.guard)
            else:
                checkpoint_pragmas(db)
        except BaseException:
            db.close()
            raise
        return db

    @classmethod
    def memory(cls) -> Store:
        """An in-memory store, for tools that must not touch the real database."""
        return cls(database_on(sqlite3.connect(":memory:")))

    @property
    def degraded(self) -> bool:
        """True while the disk is short of space or the store runs in memory."""
        return self.guard is not None and self.guard.degraded

    def storage_health(self) -> dict[str, Any]:
        """Where the store writes, free space, checkpoints, telemetry dropped, and the
        fault in plain words (None when there is none)."""
        guard, checkpoints = self.guard, self.checkpointer
        free = None if guard is None else guard.room()
        failures = 0 if checkpoints is None else checkpoints.failures
        error = "" if checkpoints is None else checkpoints.last_error
        mode = "disk" if guard is None else guard.mode
        low = 0 if guard is None else guard.low_space_bytes
        return {"mode": mode, "free_mb": None if free is None else free // MB,
                "reserve": guard is not None and guard.reserve.held,
                "checkpoint_failures": failures,
                "telemetry_dropped": 0 if guard is None else guard.telemetry_dropped,
                "fault": storage_fault(mode, free, low, failures, error)}

    def recover_storage(self) -> bool:
        """Write back what was kept in memory and remake the reserve when the disk allows;
        True when the store is on the disk as usual."""
        if self.guard is None:
            return True
        was = self.guard.mode
        back = self.guard.recover(self)
        if self.guard.mode != was:
            self._depth = None
        return back

    def close(self) -> None:
        """Write the telemetry group, stop the checkpointer, write back what is only in
        memory, fold the WAL, close."""
        self.flush_telemetry()
        if self.guard is not None and self.guard.mode == "memory":
            self.guard.recover(self, last_chance=True)
            if self.guard.mode == "memory":
                _log.error("The hub stops while the disk still refuses writes: what it kept "
                           "in memory (%s) is lost.", self.guard.reason)
                file_db = self.guard.file_database()
                if file_db is not None:
                    file_db.close()
        if self.checkpointer is not None:
            self.checkpointer.stop()
            try:
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as error:
                _log.warning("Final checkpoint failed (%s); the WAL is kept and replayed "
                             "on the next start.", error)
        self.db.close()

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[None]:
        """One atomic commit; nested calls become savepoints.

        durable (the default) syncs the commit to disk (synchronous=FULL) before
        returning: every alert write uses it. Telemetry (heartbeats, battery, fixes)
        passes durable=False: in WAL mode it still survives a crash of the hub, and the
        next durable commit syncs it too; only a power cut can lose the last few.
        Telemetry waiting in the group (edge.storage.telemetry) is written first, in a
        commit of its own, so that nothing committed after it comes before it.
        """
        if self.telemetry.pending and not self.db.conn.in_transaction:
            self.flush_telemetry()
        db = self.db
        outermost = not db.conn.in_transaction
        if outermost:
            self._seq = None
        try:
            if outermost:
                self._synchronous(db, "FULL" if durable else "NORMAL")
            with db.atomic():
                yield
        except BaseException as error:
            self._depth = self._seq = None  # rolled back: read again when next needed
            self._batteries = None
            self._appended = False
            if outermost and self.guard is not None and is_storage_fault(error):
                retry = self.guard.after_fault(self, error)
                self._load_fallback_roster()
                raise StorageFault(f"the disk would not take a write ({error})",
                                   retry) from error
            raise
        finally:
            if outermost:
                self._seq = None  # outside a transaction another process may add events
        if outermost:
            if self.checkpointer is not None:
                self.checkpointer.written()
            try:
                self.committed()
            except Exception:  # noqa: BLE001 - the write is done: it did not fail
                _log.exception("After a commit, telling the loop it was ours failed.")
        if outermost and self._appended:
            self._appended = False
            self.on_events(False)

    def _synchronous(self, db: Database, mode: str) -> None:
        """FULL before a durable commit, NORMAL before telemetry; said to SQLite only when
        it changes, as telemetry commits mostly follow one another."""
        if self._sync_mode != (db, mode):
            self._sync_mode = None  # unknown until SQLite has taken it
            db.execute(f"PRAGMA synchronous = {mode}")
            self._sync_mode = (db, mode)

    def _load_fallback_roster(self) -> None:
        """In memory without the file's rows: the configured roster, so an SOS still finds
        its resident and contacts."""
        copy = None if self.guard is None else self.guard.copy
        if copy is None or copy.complete or self._roster_loaded_into is copy:
            return
        roster = self.fallback_roster()
        if roster is not None:
            with self.db.atomic():
                self._replace_roster(roster)
            self._roster_loaded_into = copy

    def write(self, action: Callable[[], T], *, durable: bool = True) -> T:
        """`action()` in one transaction, done again when a full or read-only disk made
        the store give up its reserve or move to memory (edge.storage.disk)."""
        for _ in range(3):
            try:
                with self.transaction(durable=durable):
                    return action()
            except StorageFault as fault:
                if not fault.retry:
                    raise
        raise StorageFault("the disk would not take a write, even from memory")

    # -- outbox ----------------------------------------------------------------

    def append_event(self, type_: str, at: float, body: dict[str, Any], priority: int) -> str:
        """Append an event with a new stable id; call inside the transaction of its cause.

        The event's wire form (body plus id, seq, type, UTC time and whether the clock was
        synchronised when it happened) is written in the same INSERT.
        """
        if priority != ALERT_PRIORITY and self.guard is not None and self.guard.degraded:
            self.guard.telemetry_dropped += 1  # no room for telemetry: alerts need it
            return ""
        row = outbox_row(self.next_seq(), type_, at, body, self.clock_synced(), priority)
        self.db.conn.execute("INSERT INTO outbox (seq, event_id, type, at, priority, body, "
                             "wire) VALUES (?, ?, ?, ?, ?, ?, ?)", row)
        if self._depth is not None:
            self._depth += 1
        self._appended = True
        return str(row[1])

    def next_seq(self) -> int:
        """The next outbox seq; call inside the transaction that writes it. The last one
        given is read once a transaction (another process, like `alerts ack`, may have
        added an event, and a full disk may move the store) and counted on in memory;
        sqlite_sequence keeps the highest ever used, so a seq is never used twice."""
        if self._seq is None:
            row = self.db.conn.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
            self._seq = int(row[0]) if row else 0
        self._seq += 1
        return self._seq

    def flush_telemetry(self) -> int:
        """Write the telemetry group (edge.storage.telemetry) in one transaction of its
        own; returns the events written. A group the disk will not take is logged and lost
        (telemetry only: an alert never waits in a group)."""
        if not self.telemetry.pending:
            return 0
        group = self.telemetry.take()
        try:
            written = self.write(lambda: group.write_into(self, TELEMETRY_PRIORITY,
                                                          not self.degraded), durable=False)
        except (sqlite3.Error, OSError, StoreError) as error:
            _log.error("Could not store the telemetry of %d watches (%s): it is lost; alerts "
                       "are not affected. Check the disk.", len(group.state), error)
            written = 0
        if not written and group.events and self.guard is not None:
            self.guard.telemetry_dropped += len(group.events)  # no room: alerts need it
        if self._depth is not None:
            self._depth += written
        if written:
            self.on_events(True)
        return written

    def frame_seen(self, mac: str, counter: int, mic: int) -> bool:
        """RosterTables.frame_seen, with the telemetry group written first: the gate asks
        only about frames that do not count upwards, and its answer must see them all."""
        self.flush_telemetry()
        return super().frame_seen(mac, counter, mic)

    def pending_events(self, limit: int = 1000, after_seq: int = 0) -> list[OutboxEvent]:
        """Undelivered events in the order they were written."""
        rows = self.db.execute(
            "SELECT seq, event_id, type, at, priority, body FROM outbox "
            "WHERE delivered_at IS NULL AND seq > ? ORDER BY seq LIMIT ?",
            [after_seq, limit],
        ).fetchall()
        return [OutboxEvent(s, e, t, a, p, json.loads(b)) for s, e, t, a, p, b in rows]

    def meta(self, key: str, default: str = "") -> str:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return str(row[0]) if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO "
                        "UPDATE SET value = excluded.value", [key, value])

    def add_meta_count(self, key: str, count: int) -> None:
        self.set_meta(key, str(int(self.meta(key, "0")) + count))

    def all_events(self) -> list[OutboxEvent]:
        """Every event still kept, delivered or not, in seq order (for records and demos)."""
        rows = self.db.execute(
            "SELECT seq, event_id, type, at, priority, body FROM outbox ORDER BY seq").fetchall()
        return [OutboxEvent(s, e, t, a, p, json.loads(b)) for s, e, t, a, p, b in rows]

    def outbox_depth(self) -> int:
        """Undelivered events: counted once, then kept up to date by every write."""
        if self._depth is None:
            self.recount_depth()
        assert self._depth is not None
        return self._depth

    def changed_elsewhere(self) -> bool:
        """True when another process (a command like `edge-hub test-alarm` or `alerts ack`)
        committed to the database since the last call: SQLite's data_version, a cheap
        read that touches no table."""
        version = int(self.db.conn.execute("PRAGMA data_version").fetchone()[0])
        seen, self._data_version = self._data_version, (self.db, version)
        return seen is not None and seen != (self.db, version)

    def recount_depth(self) -> int:
        """Count undelivered events again (another process, like `alerts ack`, may add one)."""
        row = self.db.execute("SELECT count(*) FROM outbox WHERE delivered_at IS NULL").fetchone()
        self._depth = int(row[0])
        return self._depth

    def events_left(self, count: int) -> None:
        """`count` undelivered events were delivered or dropped; call inside the transaction."""
        if self._depth is not None:
            self._depth -= count
