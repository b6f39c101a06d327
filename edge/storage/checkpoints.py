"""Checkpoints of the hub database's write-ahead log, in a thread of their own."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from sqlite_utils import Database

from edge.storage.disk import DiskGuard, is_storage_fault

_log = logging.getLogger("edge.storage.store")
WAL_KEPT_BYTES = 4 * 1024 * 1024  # a WAL grown while the disk was full shrinks to this


class Checkpointer:
    """Copies the WAL into the database from its own thread and connection.

    SQLite would otherwise checkpoint inside whichever commit crosses the threshold,
    and an SOS commit that does so waits for the whole database to be synced.
    A PASSIVE checkpoint never blocks the writer. A checkpoint that fails (a full disk)
    is counted; storage supervision reports it as a fault. The thread sleeps until the
    store says it wrote (`written`), then gathers interval_s of writes into one checkpoint:
    a hub that writes nothing wakes for nothing.
    """

    def __init__(self, path: Path, interval_s: float = 5.0) -> None:
        self.path = path
        self.interval_s = interval_s
        self.checkpoints = 0
        self.failures = 0  # in a row
        self.last_error = ""
        self.last: tuple[int, int, int] | None = None
        # Called with the error when the disk is too full to checkpoint; True when it made
        # room (the store gives up its reserve), and the checkpoint is tried again at once.
        self.on_full: Callable[[BaseException], bool] = lambda error: False
        self._stop = threading.Event()
        self._written = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 1000")
            conn.execute("PRAGMA cache_size = -64")  # it copies the log's pages, reads none twice
        except sqlite3.Error as error:
            self.failures, self.last_error = 1, str(error)
            _log.error("Cannot open %s for checkpoints (%s).", self.path, error)
            return
        try:
            if not self._copied_all(conn):  # at once: a restarted hub may have left a long WAL
                self._written.set()
            while self._written.wait() and not self._stop.wait(self.interval_s):
                self._written.clear()
                if not self._copied_all(conn):
                    self._written.set()  # tried again interval_s later
        finally:
            conn.close()

    def _copied_all(self, conn: sqlite3.Connection) -> bool:
        """A checkpoint that copied the whole log (one a reader held back did not)."""
        if not self.checkpoint(conn):
            return False
        assert self.last is not None
        busy, logged, copied = self.last
        return not busy and copied >= logged

    def checkpoint(self, conn: sqlite3.Connection) -> bool:
        """One PASSIVE checkpoint; False (counted, logged once per run of failures) if
        the disk would not take it even after the store gave up its reserve."""
        try:
            try:
                row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.Error as error:
                if not (is_storage_fault(error) and self.on_full(error)):
                    raise
                row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as error:
            self.failures += 1
            self.last_error = str(error)
            if self.failures == 1:
                _log.error("Copying the database's write-ahead log into it failed (%s); the "
                           "hub goes on and tries again every %.0f s.", error, self.interval_s)
            return False
        if self.failures:
            _log.warning("Database checkpoints work again (after %d failures).", self.failures)
        self.failures, self.last_error = 0, ""
        self.last = (int(row[0]), int(row[1]), int(row[2]))
        self.checkpoints += 1
        return True

    def written(self) -> None:
        """The store committed: there is log to copy (within interval_s). Said once: the
        thread clears it before it copies, so a commit while it is still set is copied
        too, and most commits take no lock."""
        if not self._written.is_set():
            self._written.set()

    def stop(self) -> None:
        self._stop.set()
        self._written.set()
        self._thread.join(timeout=5)


def start_checkpoints(db: Database, path: Path, interval_s: float,
                      guard: DiskGuard | None) -> Checkpointer:
    """The checkpoint thread for the file, and the writer settings that go with it."""
    checkpoint_pragmas(db)
    checkpointer = Checkpointer(path, interval_s)
    if guard is not None:
        checkpointer.on_full = guard.make_room
    return checkpointer


def checkpoint_pragmas(db: Database) -> None:
    """Checkpoints happen in their own thread, and a WAL that grew shrinks back after one."""
    db.execute("PRAGMA wal_autocheckpoint = 0")
    db.execute(f"PRAGMA journal_size_limit = {WAL_KEPT_BYTES}")
