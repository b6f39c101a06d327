"""The receiver's two databases behind one small seam: SQLite (default) and PostgreSQL."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from cloud_sync.server.errors import ReceiverSetupError, ReceiverStoreError

T = TypeVar("T")
from cloud_sync.server.settings import DEFAULT_DB

_log = logging.getLogger("cloud_sync.server.receiver")
Params = Sequence[Any]


class Tx(Protocol):
    """One open transaction; SQL is written with `?` placeholders for both databases."""

    def rows(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]: ...

    def run(self, sql: str, params: Params = ()) -> int: ...

    def run_many(self, sql: str, rows: Sequence[Params]) -> None: ...


class Db(Protocol):
    """A connection that hands out transactions and translates driver errors."""

    dialect: str
    for_update: str

    def transaction(self, *, write: bool) -> AbstractContextManager[Tx]: ...

    def close(self) -> None: ...


class SqliteTx:
    """A transaction on a sqlite3 connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def rows(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        return list(self.conn.execute(sql, params).fetchall())

    def run(self, sql: str, params: Params = ()) -> int:
        return int(self.conn.execute(sql, params).rowcount)

    def run_many(self, sql: str, rows: Sequence[Params]) -> None:
        self.conn.executemany(sql, rows)


class SqliteDb:
    """One SQLite file in WAL mode (synchronous=FULL: an acked event survives a power cut)."""

    dialect = "sqlite"
    for_update = ""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.RLock()
        try:
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                if not Path(path).exists():  # residents' names and places: owner only
                    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                        timeout=30.0)
            self.conn.execute("PRAGMA busy_timeout = 30000")
            if path != ":memory:":
                self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = FULL")
            self.conn.execute("PRAGMA cache_size = -65536")  # 64 MiB: the event_id index stays hot
        except (OSError, sqlite3.Error) as error:
            raise ReceiverStoreError(f"cannot open the receiver database {path}: {error}; check "
                                     "the folder exists and this user may write to it") from error

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Tx]:
        """BEGIN IMMEDIATE for writes, so two receivers on one file queue instead of deadlocking."""
        with self._lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield SqliteTx(self.conn)
                except BaseException:
                    self.conn.execute("ROLLBACK")
                    raise
                self.conn.execute("COMMIT")
            except sqlite3.Error as error:
                raise _store_error(self.path, error, retry=isinstance(error, sqlite3.OperationalError))

    def close(self) -> None:
        with self._lock:
            self.conn.close()


class PostgresTx:
    """A transaction on a psycopg 3 connection; `?` becomes `%s`."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def rows(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        return list(self.conn.execute(sql.replace("?", "%s"), params).fetchall())

    def run(self, sql: str, params: Params = ()) -> int:
        return int(self.conn.execute(sql.replace("?", "%s"), params).rowcount)

    def run_many(self, sql: str, rows: Sequence[Params]) -> None:
        if rows:
            with self.conn.cursor() as cursor:
                cursor.executemany(sql.replace("?", "%s"), rows)


class PostgresDb:
    """A PostgreSQL database shared by several receivers; reconnects after a lost connection."""

    dialect = "postgresql"
    for_update = " FOR UPDATE"

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError:
            raise ReceiverStoreError("PostgreSQL needs psycopg 3; run: pip install 'psycopg[binary]'"
                                     ) from None
        self._psycopg = psycopg
        self.url = url
        self._lock = threading.RLock()
        self.conn = self._connect()

    def _connect(self) -> Any:
        try:
            return self._psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except self._psycopg.Error as error:
            raise _store_error(redacted(self.url), error, retry=True) from None

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Tx]:
        with self._lock:
            if self.conn.closed or self.conn.broken:
                _log.warning("Lost the connection to PostgreSQL; connecting again.")
                self.conn = self._connect()
            try:
                with self.conn.transaction():
                    yield PostgresTx(self.conn)
            except self._psycopg.Error as error:
                retry = isinstance(error, (self._psycopg.errors.DeadlockDetected,
                                           self._psycopg.errors.SerializationFailure,
                                           self._psycopg.OperationalError))
                raise _store_error(redacted(self.url), error, retry=retry) from error

    def close(self) -> None:
        with self._lock:
            self.conn.close()


def _store_error(where: str, error: Exception, *, retry: bool) -> ReceiverStoreError:
    return ReceiverStoreError(f"the receiver database {where} failed: {error}".strip(), retry=retry)


def redacted(url: str) -> str:
    """A database URL with any login left out, for logs and errors."""
    head, at, tail = url.rpartition("@")
    return f"{head.split('//')[0]}//…@{tail}" if at else url


def connect(url: str | None) -> Db:
    """Open the database a --db value names: sqlite:///file, a plain path, or postgresql://…."""
    url = url or DEFAULT_DB
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresDb(url)
    if url.startswith("sqlite://"):
        path = url[len("sqlite://"):]
        path = path.removeprefix("/")
        return SqliteDb(path or ":memory:")
    if "://" in url:
        raise ReceiverSetupError(f"unknown database URL {url!r}; expected sqlite:///receiver.db, "
                                 "a file path, or postgresql://user@host:5432/db")
    return SqliteDb(url)


def retrying(work: Callable[[], T], attempts: int = 3) -> T:
    """Run a transaction again after a deadlock, a busy database or a dropped connection."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except ReceiverStoreError as error:
            if not error.retry or attempt == attempts:
                raise
            time.sleep(0.05 * attempt)
    raise ReceiverStoreError("unreachable")
