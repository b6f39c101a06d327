"""The hub's database in memory, for when the disk will not take a write (edge.storage.disk):
what is copied in from the file, and how it is written back once the disk allows."""

from __future__ import annotations

import logging
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from edge.storage.alert_tables import OPEN_STATES

_log = logging.getLogger("edge.storage.store")

# What the memory store starts from: every row of the small tables, and of the others
# what an open alert or a queued text needs.
_OPEN = f"(SELECT id FROM {{src}}.alerts WHERE state IN {OPEN_STATES})"
_KEPT_TEXTS = f"(SELECT id FROM {{src}}.sms_out WHERE state = 'queued' OR alert_id IN {_OPEN})"
# Every table the migrations make is in COPY_IN or here, with the reason it is not copied.
NOT_COPIED = {
    "_sqlite_migrations": "the memory database is made by the same migrations",
    "outbox_segments": "a copy of undelivered telemetry; the next offline ticks fold it again",
}
COPY_IN = {
    "residents": "", "watches": "", "contacts": "", "watch_counters": "", "fixes": "",
    "meta": "", "supervision_state": "", "escalations": "", "watch_frames": "",
    "alerts": "",
    "alert_changes": f"WHERE alert_id IN {_OPEN}",
    "alert_notified": f"WHERE alert_id IN {_OPEN}",
    "alert_declines": f"WHERE alert_id IN {_OPEN}",
    "server_receipts": f"WHERE alert_id IN {_OPEN}",
    "server_claims": f"WHERE alert_id IN {_OPEN}",
    "server_text_now": f"WHERE alert_id IN {_OPEN}",
    "sms_out": f"WHERE id IN {_KEPT_TEXTS}",
    "sms_parts": f"WHERE sms_id IN {_KEPT_TEXTS}",
    "sms_in": "WHERE state IN ('new', 'part')",
    # the welfare rules look two days back at most; the newest row keeps new ids above the file's
    "welfare_checks": "", "welfare_residents": "",
    "activity": "WHERE at >= (SELECT max(at) FROM {src}.activity) - 172800",
    # a call not yet done is carried on even for a closed alert: it ends as not_needed
    "calls_out": f"WHERE state != 'done' OR alert_id IN {_OPEN}",
    "outbox": "WHERE delivered_at IS NULL AND priority = 0",
}
# Written back whole (rows may have been deleted in memory); the others row by row.
REPLACED_WHOLE = ("contacts", "meta", "supervision_state")


# A memory database that could not be filled from the file numbers its rows from here,
# far above any id the file can have, so writing it back never overwrites a file's row.
FRESH_IDS_FROM = 1 << 40
AUTOINCREMENT = ("alerts", "alert_changes", "sms_out", "sms_in", "outbox", "calls_out")


@dataclass(frozen=True, slots=True)
class MemoryCopy:
    """A memory database in the hub's schema; `complete` when it holds COPY_IN of the
    file, `floor` the lowest seq still waiting in the file's outbox (1 when unknown)."""

    db: Database
    complete: bool
    floor: int


def memory_copy(path: Path, file_db: Database | None) -> MemoryCopy:
    """The hub's database in memory, filled from the file: through the connection the store
    already has, else from the file opened apart; empty (fresh ids) if neither can read."""
    from edge.storage.schema import MIGRATIONS, database_on

    name = f"file:edge-hub-memory-{uuid.uuid4().hex}?mode=memory&cache=shared"
    memory = database_on(sqlite3.connect(name, uri=True, check_same_thread=False))
    MIGRATIONS.apply(memory)
    floor = None
    if file_db is not None:
        floor = _copy(file_db, "main", memory, "mem", name, into_attached=True)
    for mode in ("ro", "ro&immutable=1"):  # immutable: a read-only disk without the WAL's
        if floor is None and path.exists():  # -shm file; what that WAL held is missed
            floor = _copy(memory, "disk", memory, "main", f"{path.resolve().as_uri()}?mode={mode}")
    if floor is None:
        for table in AUTOINCREMENT:
            memory.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)",
                           [table, FRESH_IDS_FROM])
    memory.execute("PRAGMA foreign_keys = ON")
    return MemoryCopy(memory, floor is not None, 1 if floor is None else floor)


def _copy(via: Database, source: str, memory: Database, target: str, uri: str, *,
          into_attached: bool = False) -> int | None:
    """COPY_IN from schema `source` into `target`, with `uri` attached to `via` under the
    name of the side that is not its main; the file's outbox floor, or None on failure."""
    attached = target if into_attached else source
    try:
        via.conn.execute(f"ATTACH DATABASE ? AS {attached}", [uri])
    except sqlite3.Error as error:
        _log.error("Could not open %s to carry on in memory (%s).", uri, error)
        return None
    try:
        with via.atomic():
            for table, where in COPY_IN.items():
                via.execute(f"INSERT INTO {target}.{table} SELECT * FROM {source}.{table} "
                            + where.format(src=source))
            # Copying a table into an AUTOINCREMENT one leaves a sequence row of its own
            # (0, or the highest id copied); SQLite would count on from that first row and
            # give again the ids of rows left in the file. The file's rows replace them.
            via.execute(f"DELETE FROM {target}.sqlite_sequence")
            via.execute(f"INSERT INTO {target}.sqlite_sequence SELECT * FROM "
                        f"{source}.sqlite_sequence")
            row = via.execute(
                f"SELECT coalesce((SELECT min(seq) FROM {source}.outbox WHERE delivered_at "
                f"IS NULL), (SELECT seq + 1 FROM {source}.sqlite_sequence WHERE name = "
                f"'outbox'), 1)").fetchone()
        return int(row[0])
    except sqlite3.Error as error:
        _log.error("Could not read the database to carry on in memory (%s).", error)
        return None
    finally:
        try:
            via.conn.execute(f"DETACH DATABASE {attached}")
        except sqlite3.Error:
            pass


def write_back(copy: MemoryCopy, path: Path, page_limit: int | None) -> None:
    """Write every row kept in memory into the file, in one transaction; raises the
    storage error when the disk still cannot take it (nothing is then written). Tables
    copied whole are replaced whole, unless the copy could not read them."""
    conn = copy.db.conn
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("ATTACH DATABASE ? AS disk", [f"{path.resolve().as_uri()}?mode=rw"])
    try:
        conn.execute("PRAGMA disk.busy_timeout = 5000")
        conn.execute("PRAGMA disk.synchronous = FULL")
        if page_limit is not None:
            conn.execute(f"PRAGMA disk.max_page_count = {int(page_limit)}")
        with copy.db.atomic():
            for table in COPY_IN:
                if table in REPLACED_WHOLE and copy.complete:
                    conn.execute(f"DELETE FROM disk.{table}")
                conn.execute(f"INSERT OR REPLACE INTO disk.{table} SELECT * FROM main.{table}")
    finally:
        _detach(copy.db)
        conn.execute("PRAGMA foreign_keys = ON")


def _detach(memory: Database) -> None:
    try:
        memory.conn.execute("DETACH DATABASE disk")
    except sqlite3.Error:
        pass
