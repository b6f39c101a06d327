"""Versioned schema of the hub database; each migration runs once, in order."""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

MIGRATIONS = Migrations("edge-hub")


@MIGRATIONS(name="0001_roster_alerts_outbox")
def _initial(db: Database) -> None:
    _run_statements(
        db,
        """
        CREATE TABLE residents (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            room TEXT NOT NULL,
            address TEXT NOT NULL,
            phone TEXT NOT NULL DEFAULT '',
            active INTEGER NOT NULL DEFAULT 1
        );
        CREATE TABLE watches (
            mac TEXT PRIMARY KEY,
            resident_id TEXT NOT NULL REFERENCES residents(id),
            key_hex TEXT,
            insecure INTEGER NOT NULL DEFAULT 0,
            label TEXT NOT NULL DEFAULT '',
            active INTEGER NOT NULL DEFAULT 1,
            battery INTEGER,
            battery_at REAL,
            last_heard_at REAL,
            rssi INTEGER
        );
        -- Kept apart from watches and never deleted: removing and re-adding a
        -- watch must not reopen replay of its old frames.
        CREATE TABLE watch_counters (
            mac TEXT PRIMARY KEY,
            last_counter INTEGER NOT NULL,
            accepted_at REAL NOT NULL
        );
        CREATE TABLE contacts (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            phone TEXT NOT NULL,
            role TEXT NOT NULL,
            tier INTEGER NOT NULL,
            resident_id TEXT REFERENCES residents(id),
            always_sms INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE fixes (
            watch_mac TEXT PRIMARY KEY,
            lat REAL NOT NULL,
            lon REAL NOT NULL,
            accuracy_m REAL NOT NULL,
            fixed_at REAL NOT NULL,
            received_at REAL NOT NULL
        );
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            uid TEXT NOT NULL UNIQUE,
            ref TEXT NOT NULL,
            resident_id TEXT NOT NULL REFERENCES residents(id),
            watch_mac TEXT NOT NULL,
            state TEXT NOT NULL,
            raised_at REAL NOT NULL,
            cancel_until REAL NOT NULL,
            press_count INTEGER NOT NULL DEFAULT 1,
            updated_at REAL NOT NULL,
            closed_by TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX alerts_open ON alerts(state) WHERE state IN ('raised', 'active');
        CREATE UNIQUE INDEX alerts_one_open_per_resident
            ON alerts(resident_id) WHERE state IN ('raised', 'active');
        CREATE TABLE alert_changes (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            alert_id INTEGER NOT NULL REFERENCES alerts(id),
            state TEXT NOT NULL,
            at REAL NOT NULL,
            by TEXT NOT NULL DEFAULT '',
            reason TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE outbox (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            event_id TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            at REAL NOT NULL,
            priority INTEGER NOT NULL,
            body TEXT NOT NULL,
            delivered_at REAL
        );
        CREATE INDEX outbox_pending ON outbox(priority, seq) WHERE delivered_at IS NULL;
        """
    )


def _run_statements(db: Database, script: str) -> None:
    """Run each statement on its own: executescript would commit the migration's transaction."""
    body = "\n".join(line for line in script.splitlines() if not line.strip().startswith("--"))
    for statement in body.split(";"):
        if statement.strip():
            db.execute(statement)
