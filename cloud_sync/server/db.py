"""The receiver's two databases behind one small seam: SQLite (default) and PostgreSQL.

SQLite is one connection behind a lock. PostgreSQL is a pool of connections (psycopg_pool):
each transaction borrows one, so the MQTT handler, the HTTP threads and the duty timer
do not queue behind each other. Its size is the URL's `pool` parameter
(postgresql://rx@db/eldercare?pool=8; default 4), which is taken out of the URL before
psycopg sees it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, TypeVar

from cloud_sync.server.errors import ReceiverSetupError, ReceiverStoreError
from cloud_sync.server.settings import DEFAULT_DB, DEFAULT_POOL

T = TypeVar("T")
_log = logging.getLogger("cloud_sync.server.receiver")
Params = Sequence[Any]

ROWS_PER_INSERT = 500
_PG_MAX_PARAMS = 65535  # the wire protocol counts a statement's parameters in 16 bits
_MAX_POOL = 100
_WAIT_S = 10.0  # for a connection: to be made, or to be free in the pool


class Tx(Protocol):
    """One open transaction; SQL is written with `?` placeholders for both databases."""

    def rows(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]: ...

    def run(self, sql: str, params: Params = ()) -> int: ...

    def run_many(self, sql: str, rows: Sequence[Params]) -> None: ...

    def insert_rows(self, table: str, columns: tuple[str, ...], rows: Sequence[Params], *,
                    skip_duplicates: bool = False) -> int: ...


class Db(Protocol):
    """A connection that hands out transactions and translates driver errors."""

    dialect: str
    for_update: str

    def transaction(self, *, write: bool) -> AbstractContextManager[Tx]: ...

    def close(self) -> None: ...


def multi_row_inserts(table: str, columns: tuple[str, ...], rows: Sequence[Params], *,
                      max_params: int, skip_duplicates: bool,
                      numbered: bool = False) -> Iterator[tuple[str, list[Any]]]:
    """INSERT … VALUES (…), (…), … statements for `rows`, at most ROWS_PER_INSERT rows and
    `max_params` parameters each, with their flattened parameters; `numbered` writes
    PostgreSQL's own $1, $2, … placeholders instead of `?`."""
    per_insert = max(1, min(ROWS_PER_INSERT, max_params // len(columns)))
    for start in range(0, len(rows), per_insert):
        chunk = rows[start:start + per_insert]
        yield (_insert_sql(table, columns, len(chunk), skip_duplicates, numbered),
               [value for row in chunk for value in row])


@lru_cache(maxsize=64)
def _insert_sql(table: str, columns: tuple[str, ...], count: int, skip_duplicates: bool,
                numbered: bool) -> str:
    """The INSERT of `count` rows (kept: batches come in a few sizes)."""
    width = len(columns)
    if numbered:
        marks = [", ".join(f"${row * width + n}" for n in range(1, width + 1))
                 for row in range(count)]
    else:
        marks = [", ".join("?" * width)] * count
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({'), ('.join(marks)})"
            + (" ON CONFLICT DO NOTHING" if skip_duplicates else ""))


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

    def insert_rows(self, table: str, columns: tuple[str, ...], rows: Sequence[Params], *,
                    skip_duplicates: bool = False) -> int:
        """Insert rows with multi-row INSERTs; return how many were inserted."""
        limit = self.conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        return sum(self.run(sql, params) for sql, params in multi_row_inserts(
            table, columns, rows, max_params=limit, skip_duplicates=skip_duplicates))


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

    def insert_rows(self, table: str, columns: tuple[str, ...], rows: Sequence[Params], *,
                    skip_duplicates: bool = False) -> int:
        """Insert rows with multi-row INSERTs; return how many were inserted.

        Written with $n placeholders for a raw cursor: psycopg would parse the %s of a
        statement with more than 50 parameters on every call, costing more CPU than the
        single statement saves.
        """
        from psycopg import RawCursor

        with RawCursor(self.conn) as cursor:
            return sum(int(cursor.execute(sql, params).rowcount) for sql, params in
                       multi_row_inserts(table, columns, rows, max_params=_PG_MAX_PARAMS,
                                         skip_duplicates=skip_duplicates, numbered=True))


class PostgresDb:
    """A PostgreSQL database shared by several receivers, through a pool of `size` connections.

    A connection found lost (the database restarted, a proxy dropped it) is replaced, and
    the others waiting idle in the pool are checked at once, so the retry gets a live one.
    """

    dialect = "postgresql"
    for_update = " FOR UPDATE"

    def __init__(self, url: str) -> None:
        try:
            import psycopg
            import psycopg_pool
        except ImportError:
            raise ReceiverStoreError("PostgreSQL needs psycopg 3 and its pool; run: pip install "
                                     "'psycopg[binary]' psycopg-pool") from None
        self._psycopg = psycopg
        self.url = url
        self.conninfo, self.size = pool_setting(url)
        options = {"autocommit": True, "connect_timeout": int(_WAIT_S)}
        self._check_reachable(options)  # the pool would only say that it timed out
        self.pool = psycopg_pool.ConnectionPool(
            self.conninfo, kwargs=options, min_size=1, max_size=self.size, open=True,
            timeout=_WAIT_S, name="edge-hub")

    def _check_reachable(self, options: dict[str, Any]) -> None:
        try:
            self._psycopg.connect(self.conninfo, **options).close()
        except self._psycopg.Error as error:
            raise _store_error(redacted(self.url), error, retry=True) from None

    @contextmanager
    def transaction(self, *, write: bool) -> Iterator[Tx]:
        """Borrow a connection for one transaction; give it back whatever happens."""
        try:
            conn = self.pool.getconn()
        except self._psycopg.Error as error:
            raise self._translated(error) from error
        try:
            with conn.transaction():
                yield PostgresTx(conn)
        except self._psycopg.Error as error:
            raise self._translated(error, lost=bool(conn.broken or conn.closed)) from error
        finally:
            self.pool.putconn(conn)

    def _translated(self, error: Exception, *, lost: bool = False) -> ReceiverStoreError:
        """The error as the store reports it; after a lost connection, check the idle ones."""
        if lost:
            _log.warning("Lost a connection to PostgreSQL (%s); checking the others and "
                         "connecting again.", str(error).strip())
            self.pool.check()
        retry = isinstance(error, (self._psycopg.errors.DeadlockDetected,
                                   self._psycopg.errors.SerializationFailure,
                                   self._psycopg.OperationalError))
        return _store_error(redacted(self.url), error, retry=retry)

    def close(self) -> None:
        self.pool.close()


def pool_setting(url: str) -> tuple[str, int]:
    """The URL psycopg gets (without `pool`) and the pool size its `pool` parameter asks for."""
    base, _, query = url.partition("?")
    kept, size = [], DEFAULT_POOL
    for part in query.split("&") if query else []:
        key, _, value = part.partition("=")
        if key != "pool":
            kept.append(part)
        elif not value.isdigit() or not 1 <= int(value) <= _MAX_POOL:
            raise ReceiverSetupError(f"pool={value!r} in the database URL: expected the number "
                                     f"of connections, 1 to {_MAX_POOL} (default {DEFAULT_POOL})")
        else:
            size = int(value)
    return (f"{base}?{'&'.join(kept)}" if kept else base), size


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
                                 "a file path, or postgresql://user@host:5432/db[?pool=N]")
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
