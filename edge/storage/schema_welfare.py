"""The welfare migration of the hub database, which edge.storage.schema registers after
its own, and the helper every migration runs its statements with."""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations


def run_statements(db: Database, script: str) -> None:
    """Run each statement on its own: executescript would commit the migration's transaction."""
    body = "\n".join(line for line in script.splitlines() if not line.strip().startswith("--"))
    for statement in body.split(";"):
        if statement.strip():
            db.execute(statement)


def register_welfare(migrations: Migrations) -> None:
    """Add the activity sensors' and welfare checks' migration to `migrations`."""

    @migrations(name="0014_sensors_activity_welfare")
    def _sensors(db: Database) -> None:
        run_statements(
            db,
            """
            -- Activity sensors share the watches' table (gate, counters, frame history and
            -- supervision): kind 'watch', 'motion' or 'door'. What they saw: activity.
            ALTER TABLE watches ADD COLUMN kind TEXT NOT NULL DEFAULT 'watch';
            ALTER TABLE watches ADD COLUMN place TEXT NOT NULL DEFAULT '';
            CREATE TABLE activity (
                id INTEGER PRIMARY KEY,
                resident_id TEXT NOT NULL,
                sensor_mac TEXT NOT NULL,
                kind TEXT NOT NULL,
                at REAL NOT NULL
            );
            CREATE INDEX activity_by_resident ON activity(resident_id, at);
            -- A welfare check is an alert of kind 'welfare': the rule that raised it, and
            -- the key that makes one occurrence one check.
            ALTER TABLE alerts ADD COLUMN kind TEXT NOT NULL DEFAULT 'sos';
            CREATE TABLE welfare_checks (
                alert_id INTEGER PRIMARY KEY REFERENCES alerts(id),
                resident_id TEXT NOT NULL,
                rule TEXT NOT NULL,
                check_key TEXT NOT NULL,
                detail TEXT NOT NULL DEFAULT '',
                UNIQUE (resident_id, check_key)
            );
            -- Since when the rules watch each resident, and away spells.
            CREATE TABLE welfare_residents (
                resident_id TEXT PRIMARY KEY,
                watching_since REAL NOT NULL,
                away_until REAL,
                away_by TEXT NOT NULL DEFAULT ''
            );
            """
        )
