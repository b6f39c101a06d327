"""When the disk cannot take the hub's writes: the reserve, and alerts kept in memory.

A Pi's SD card fills up or turns read-only more often than anything else fails. The
store (edge.storage.store) never lets that silence an SOS:

1. A reserve file of a few MB is kept beside the database. The first write that finds the
   disk full deletes it, and the write is done again: alert rows still commit, durably.
   Telemetry events are no longer written from then on ("low space").
2. When even that fails (or the disk is read-only), the store moves to a database in
   memory: the roster, counters, fixes, open alerts and queued texts are copied there,
   and alerts, escalations and texts go on from it. Telemetry events are dropped and
   counted. The move is logged and reported as a storage fault.
3. Every storage check, the memory's rows are written back to the file; once the disk
   takes them, the store is back on the file and nothing written meanwhile is lost.

What lives only in memory meanwhile is lost if the hub stops before the disk takes it:
an SOS raised then is texted but not kept, and its escalation does not resume.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlite_utils import Database

from edge.storage.memory import MemoryCopy, memory_copy, write_back
from edge.storage.schema import database_on

_log = logging.getLogger("edge.storage.store")
_STORAGE_CODES = {sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR,
                  sqlite3.SQLITE_CANTOPEN}
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EIO, errno.EDQUOT}
MB = 1024 * 1024
CHECKPOINT_FAILURES_FOR_FAULT = 3

def is_storage_fault(error: BaseException) -> bool:
    """True when `error` says the disk cannot take a write: full, read-only, failing."""
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF in _STORAGE_CODES
        text = str(error).lower()
        return any(words in text for words in ("disk is full", "readonly", "disk i/o",
                                               "unable to open"))
    return isinstance(error, OSError) and error.errno in _STORAGE_ERRNOS


def free_bytes(path: Path) -> int | None:
    """Free space for an unprivileged writer where `path` lives; None if it cannot be read."""
    try:
        return shutil.disk_usage(path if path.is_dir() else path.parent).free
    except OSError:
        return None


class Reserve:
    """A preallocated file beside the database, given up so alert rows can still commit."""

    def __init__(self, database: Path, size_bytes: int) -> None:
        self.path = database.with_name(database.name + ".reserve")
        self.size = size_bytes

    @property
    def held(self) -> bool:
        return self.path.exists()

    def ensure(self, low_space_bytes: int) -> bool:
        """Make the reserve if it is missing and the disk has room for it and to spare;
        True when it is there (or none is wanted)."""
        if self.size <= 0:
            return True
        if self.held:
            return True
        free = free_bytes(self.path)
        if free is None or free < self.size + low_space_bytes:
            return False
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600)
            try:
                os.posix_fallocate(fd, 0, self.size)
            finally:
                os.close(fd)
        except OSError as error:
            try:
                self.path.unlink(missing_ok=True)
            except OSError:
                pass  # a read-only disk: there is nothing to take back
            _log.warning("Could not make the storage reserve %s (%s); the hub tries again "
                         "later.", self.path, error)
            return False
        return True

    def release(self) -> bool:
        """Delete the reserve to free its space; False when there was none."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        except OSError as error:
            _log.error("Could not delete the storage reserve %s (%s).", self.path, error)
            return False
        _log.error("The disk is full: gave up the %.1f MB storage reserve so that alerts can "
                   "still be written. Free some space on the hub.", self.size / MB)
        return True


class DiskGuard:
    """Where the store writes: "disk", "low_space" (the reserve was given up; telemetry
    events are not written) or "memory" (the file cannot be written; see the module).

    The checkpoint thread may give up the reserve too (make_room): every change of mode
    holds the guard's lock.
    """

    def __init__(self, path: Path, reserve: Reserve, *, page_limit: int | None = None,
                 low_space_bytes: int = 50 * MB) -> None:
        self.path = path
        self.reserve = reserve
        self.page_limit = page_limit
        self.low_space_bytes = low_space_bytes
        self.mode = "disk"
        self.reason = ""
        self.since: float | None = None  # wall time the store left the disk
        self.telemetry_dropped = 0
        self.floor_cap: int | None = None  # the file's outbox floor when it was left
        self.reconnect: Callable[[], Database] | None = None  # a fresh writer on the file
        self.copy: MemoryCopy | None = None  # while in memory
        self._file: Database | None = None
        self._lock = threading.RLock()

    @property
    def degraded(self) -> bool:
        return self.mode != "disk"

    def make_room(self, error: BaseException) -> bool:
        """Give up the reserve (once); True when that freed space."""
        with self._lock:
            if self.mode == "disk" and self.reserve.release():
                self._leave_disk("low_space", f"the disk was full ({error})")
                return True
            return False

    def after_fault(self, store: HasDatabase, error: BaseException) -> bool:
        """A write failed for lack of disk: make room, or move to memory. True when the
        same write may now succeed and should be done again."""
        with self._lock:
            if self.make_room(error):
                return True
            if self.mode != "memory":
                self._to_memory(store, error, file_db=store.db)
                return True
            return False

    def start_in_memory(self, store: HasDatabase, error: BaseException) -> None:
        """The file could not even be opened: start from a copy of what can be read."""
        with self._lock:
            store.db.close()
            self._to_memory(store, error, file_db=None)

    def _leave_disk(self, mode: str, reason: str) -> None:
        if self.since is None:
            self.since = time.time()
        self.mode, self.reason = mode, reason

    def _to_memory(self, store: HasDatabase, error: BaseException,
                   file_db: Database | None) -> None:
        self.copy = memory_copy(self.path, file_db)
        store.db, self._file, self.floor_cap = self.copy.db, file_db, self.copy.floor
        self._leave_disk("memory", f"the disk would not take a write ({error})")
        _log.error(
            "The database %s cannot be written (%s). The hub goes on from memory%s: alerts "
            "are raised and texted, telemetry is not kept, and everything is written back as "
            "soon as the disk takes it. If the hub stops before that, what happened meanwhile "
            "is lost. Free space on the hub or replace its SD card.", self.path, error,
            "" if self.copy.complete else " (the database could not be read either: it "
            "starts from the configured roster, without the watches' counters)")

    def room(self) -> int | None:
        """Bytes the database can still grow by: free disk space, or less when the
        database has a size limit; None when it cannot be measured."""
        free = free_bytes(self.path)
        if self.page_limit is None:
            return free
        used = _pages_used(self.path)
        if used is None:
            return free
        pages = max(0, self.page_limit - used) * 4096
        return pages if free is None else min(free, pages)

    def recover(self, store: HasDatabase, *, last_chance: bool = False) -> bool:
        """Back towards the disk once it has room for the reserve and to spare (so the
        store does not flap between memory and a disk that is still all but full): write
        memory back, then remake the reserve. True once on the disk with its reserve.
        `last_chance` (the hub is stopping) writes back whatever the room."""
        with self._lock:
            if self.mode == "disk":
                return True
            room = self.room()
            short = room is not None and room < self.low_space_bytes + self.reserve.size
            if short and not last_chance:
                return False
            if self.mode == "memory" and not self._write_back(store):
                return False
            if self.mode == "low_space" and not short and \
                    self.reserve.ensure(self.low_space_bytes):
                _log.warning("The hub's storage has room again: the reserve is back and "
                             "telemetry is kept again.")
                self.mode, self.reason, self.since = "disk", "", None
            return self.mode == "disk"

    def _write_back(self, store: HasDatabase) -> bool:
        """Memory into the file, then a fresh writer connection on it (the old one may
        have been opened read-only)."""
        if self.copy is None:
            return False
        try:
            if not self.path.exists() and self.reconnect is not None:
                self.reconnect().close()  # the file was never made: make it, with its schema
            write_back(self.copy, self.path, self.page_limit)
            file_db = self.reconnect() if self.reconnect is not None else self._file
        except (sqlite3.Error, OSError) as error:
            if not is_storage_fault(error):
                _log.exception("Writing the hub's memory back to %s failed.", self.path)
            return False
        if file_db is None:
            return False
        store.db = file_db
        self.copy.db.close()
        if self._file is not None and self._file is not file_db:
            self._file.close()
        self._file, self.floor_cap, self.copy = None, None, None
        self.mode = "low_space"
        _log.warning("The disk takes writes again: everything the hub kept in memory is now "
                     "in %s.", self.path)
        return True

    def file_database(self) -> Database | None:
        """The file's connection while the store is in memory (to close it at the end)."""
        return self._file


class HasDatabase(Protocol):
    db: Database


def _pages_used(path: Path) -> int | None:
    """Pages of the database file in use (not on its free list), read on its own."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        count = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        return int(count) - int(free)
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def storage_fault(mode: str, free: int | None, low_space_bytes: int,
                  checkpoint_failures: int, checkpoint_error: str = "") -> str | None:
    """What is wrong with the hub's storage in plain words, or None when nothing is."""
    if mode == "memory":
        return "the disk cannot be written; alerts are kept in memory until it can"
    if checkpoint_failures >= CHECKPOINT_FAILURES_FOR_FAULT:
        return f"the database's write-ahead log cannot be copied into it ({checkpoint_error})"
    if mode == "low_space":
        return "the disk filled up and the storage reserve was used"
    if free is not None and free < low_space_bytes:
        return f"only {free // MB} MB free"
    return None


@dataclass(frozen=True, slots=True)
class StorageLimits:
    """How the running hub guards its disk ([hub] in the configuration)."""

    reserve_mb: float = 8.0
    low_space_mb: float = 50.0
    max_database_mb: float | None = None

    def guard(self, path: Path) -> DiskGuard:
        page_limit = None if self.max_database_mb is None else \
            max(16, int(self.max_database_mb * MB) // 4096)
        return DiskGuard(path, Reserve(path, int(self.reserve_mb * MB)), page_limit=page_limit,
                         low_space_bytes=int(self.low_space_mb * MB))


def open_file(path: Path) -> Database:
    """The database file (created mode 0600 if new), in WAL mode; opened as a URI so that
    the store can attach a database in memory to it (edge.storage.disk)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    db = database_on(sqlite3.connect(path.resolve().as_uri(), uri=True))
    try:
        db.execute("PRAGMA busy_timeout = 5000")
        db.enable_wal()
    except BaseException:
        db.close()
        raise
    return db
