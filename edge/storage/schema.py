"""Versioned schema of the hub database; each migration runs once, in order."""

from __future__ import annotations

import sqlite3

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from edge.storage.schema_welfare import register_welfare
from edge.storage.schema_welfare import run_statements as _run_statements

MIGRATIONS = Migrations("edge-hub")


def database_on(conn: sqlite3.Connection) -> Database:
    """sqlite-utils over `conn`, without sqlite-utils plugins.

    With plugins on, the first Database made reads the metadata of every installed package
    to find them (importlib.metadata and its garbage, about 0.7 MB kept for good) and lets
    any of them add functions to the connection; the hub uses none.
    """
    return Database(conn, execute_plugins=False)


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


@MIGRATIONS(name="0002_sms_queue_escalation_inbox")
def _sms(db: Database) -> None:
    _run_statements(
        db,
        """
        -- One row per text to one phone; parts are tracked so a crash resumes mid-message.
        CREATE TABLE sms_out (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            alert_id INTEGER REFERENCES alerts(id),
            contact_id TEXT NOT NULL DEFAULT '',
            phone TEXT NOT NULL,
            kind TEXT NOT NULL,
            priority INTEGER NOT NULL,
            text TEXT NOT NULL,
            created_at REAL NOT NULL,
            state TEXT NOT NULL DEFAULT 'queued',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_try_at REAL NOT NULL,
            last_error TEXT NOT NULL DEFAULT '',
            sent_at REAL
        );
        CREATE INDEX sms_out_queue ON sms_out(priority, id) WHERE state = 'queued';
        CREATE TABLE sms_parts (
            sms_id INTEGER NOT NULL REFERENCES sms_out(id),
            part INTEGER NOT NULL,
            parts INTEGER NOT NULL,
            mr INTEGER NOT NULL,
            sent_at REAL NOT NULL,
            report_status INTEGER,
            reported_at REAL,
            PRIMARY KEY (sms_id, part)
        );
        CREATE INDEX sms_parts_mr ON sms_parts(mr, sent_at);
        CREATE TABLE alert_notified (
            alert_id INTEGER NOT NULL REFERENCES alerts(id),
            phone TEXT NOT NULL,
            contact_id TEXT NOT NULL,
            name TEXT NOT NULL,
            tier INTEGER NOT NULL,
            first_at REAL NOT NULL,
            PRIMARY KEY (alert_id, phone)
        );
        CREATE TABLE escalations (
            alert_id INTEGER PRIMARY KEY REFERENCES alerts(id),
            tier INTEGER NOT NULL,
            resends INTEGER NOT NULL,
            next_at REAL NOT NULL,
            interval_s REAL NOT NULL,
            closed INTEGER NOT NULL DEFAULT 0
        );
        -- Every inbound PDU is stored before it is deleted from the SIM; digest stops
        -- the same PDU being processed twice.
        CREATE TABLE sms_in (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            digest TEXT NOT NULL UNIQUE,
            pdu BLOB NOT NULL,
            received_at REAL NOT NULL,
            state TEXT NOT NULL DEFAULT 'new',
            sender TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL DEFAULT '',
            note TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX sms_in_new ON sms_in(id) WHERE state IN ('new', 'part');
        """
    )


@MIGRATIONS(name="0003_uplink_state")
def _uplink(db: Database) -> None:
    _run_statements(
        db,
        """
        -- 'sms': texting now; 'awaiting': told the server, waiting for its receipt;
        -- 'server': the server confirmed and waits for a worker.
        ALTER TABLE escalations ADD COLUMN mode TEXT NOT NULL DEFAULT 'sms';
        -- The BTHome counter of the press that raised the alert: the same on every hub
        -- that heard it, so the server can tell one press heard twice from two presses.
        ALTER TABLE alerts ADD COLUMN press_counter INTEGER;
        -- The server's "alert received", kept even when it arrives before the alert is
        -- active (the receiver confirms the first event it sees of an alert).
        CREATE TABLE server_receipts (
            alert_id INTEGER PRIMARY KEY REFERENCES alerts(id),
            at REAL NOT NULL
        );
        -- Each event exactly as it travels (see cloud_sync/README.md), written once with
        -- the event so the uplink joins stored text instead of re-encoding every send.
        ALTER TABLE outbox ADD COLUMN wire TEXT;
        -- Small facts the hub keeps across restarts (roster source, dropped counts).
        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """
    )


@MIGRATIONS(name="0004_supervision_state")
def _supervision(db: Database) -> None:
    _run_statements(
        db,
        """
        -- What supervision has already reported (silent watches, low batteries, faults),
        -- so a restart does not report it again.
        CREATE TABLE supervision_state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """
    )


@MIGRATIONS(name="0005_outbox_segments")
def _segments(db: Database) -> None:
    _run_statements(
        db,
        """
        -- A stretch of the offline backlog's telemetry, joined while the uplink was down
        -- so that reconnecting sends it as fast as the network takes it: `count`
        -- undelivered telemetry events with seqs first_seq..last_seq, their wire texts
        -- joined by commas. A copy: the events keep their own rows, and an acknowledgement
        -- or eviction reaching into a segment deletes it (edge/uplink/outbox.py).
        CREATE TABLE outbox_segments (
            first_seq INTEGER PRIMARY KEY,
            last_seq INTEGER NOT NULL,
            count INTEGER NOT NULL,
            joined BLOB NOT NULL
        );
        """
    )


@MIGRATIONS(name="0006_outbox_segments_framed")
def _segments_framed(db: Database) -> None:
    _run_statements(
        db,
        """
        -- A segment now holds its whole batch payload as framed when it was folded: the
        -- head (hub, epoch, the floor of that time; head_len bytes), the joined wire
        -- texts, then "]}". While the head is still the same it is sent as read, with no
        -- copy (edge/uplink/outbox.py). Segments of 0005 are dropped: they are a copy, and the
        -- next offline ticks fold their events again.
        DROP TABLE outbox_segments;
        CREATE TABLE outbox_segments (
            first_seq INTEGER PRIMARY KEY,
            last_seq INTEGER NOT NULL,
            count INTEGER NOT NULL,
            head_len INTEGER NOT NULL,
            payload BLOB NOT NULL
        );
        """
    )


@MIGRATIONS(name="0007_watch_frame_history")
def _frame_history(db: Database) -> None:
    _run_statements(
        db,
        """
        -- A watch whose battery is changed starts its counter again. old_high is the highest
        -- counter it reached before its last restart; restarts counts them.
        ALTER TABLE watch_counters ADD COLUMN old_high INTEGER;
        ALTER TABLE watch_counters ADD COLUMN restarts INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE watch_counters ADD COLUMN restarted_at REAL;
        -- The frames accepted from each watch, by counter and MIC: a frame whose counter
        -- does not count upwards is a replay when it is here, a counter restart when it is
        -- not. Button frames (press = 1) are kept for good, telemetry frames only the latest
        -- few hundred per watch (edge/storage/store.py). Never deleted with the watch, like counters.
        CREATE TABLE watch_frames (
            mac TEXT NOT NULL,
            counter INTEGER NOT NULL,
            mic INTEGER NOT NULL,
            press INTEGER NOT NULL,
            at REAL NOT NULL,
            PRIMARY KEY (mac, counter, mic)
        ) WITHOUT ROWID;
        """
    )


@MIGRATIONS(name="0008_sms_refusals")
def _refusals(db: Database) -> None:
    _run_statements(
        db,
        """
        -- How often the network refused this text for its number (a phone that is off):
        -- its own back-off, apart from the modem's faults counted in attempts.
        ALTER TABLE sms_out ADD COLUMN refusals INTEGER NOT NULL DEFAULT 0;
        """
    )


@MIGRATIONS(name="0009_alert_declines")
def _declines(db: Database) -> None:
    _run_statements(
        db,
        """
        -- Responders who replied that they cannot go (phone in international form): kept so
        -- that a tier in which everyone declined escalates at once.
        CREATE TABLE alert_declines (
            alert_id INTEGER NOT NULL REFERENCES alerts(id),
            phone TEXT NOT NULL,
            name TEXT NOT NULL,
            at REAL NOT NULL,
            PRIMARY KEY (alert_id, phone)
        );
        """
    )


@MIGRATIONS(name="0010_server_claims")
def _claims(db: Database) -> None:
    _run_statements(
        db,
        """
        -- A person at the community server said they are going (alert_claimed): SMS waits
        -- for them until `until`, then goes out unless the alert was acknowledged.
        CREATE TABLE server_claims (
            alert_id INTEGER PRIMARY KEY REFERENCES alerts(id),
            by TEXT NOT NULL,
            until REAL NOT NULL
        );
        """
    )


@MIGRATIONS(name="0011_server_text_now")
def _text_now(db: Database) -> None:
    _run_statements(
        db,
        """
        -- A person at the community server asked for texts now (alert_text_now) while the
        -- alert was still in its cancel window: its texts start without waiting for the
        -- server once it is active.
        CREATE TABLE server_text_now (
            alert_id INTEGER PRIMARY KEY REFERENCES alerts(id),
            by TEXT NOT NULL,
            at REAL NOT NULL
        );
        """
    )


@MIGRATIONS(name="0012_roster_buildings")
def _roster_buildings(db: Database) -> None:
    _run_statements(
        db,
        """
        -- A server's roster names each resident's building (its hub id; NULL: this hub's)
        -- and the building whose residents a contact serves (NULL: everyone's).
        ALTER TABLE residents ADD COLUMN building TEXT;
        ALTER TABLE contacts ADD COLUMN building TEXT;
        """
    )


@MIGRATIONS(name="0013_ring_calls")
def _ring_calls(db: Database) -> None:
    _run_statements(
        db,
        """
        -- When a contact also gets a ring call after an SOS text: never, night or always.
        ALTER TABLE contacts ADD COLUMN call TEXT NOT NULL DEFAULT 'never';
        -- Ring calls, queued like texts: one rings at a time, after its text (sms_id) went
        -- out; a call ringing when the hub stopped is not placed again ('interrupted').
        -- Ids are never given twice (AUTOINCREMENT), as texts' are: a memory copy of a full
        -- disk counts on from the file's ids (edge/storage/memory.py), so calls queued in
        -- memory never overwrite a call kept in the file when written back.
        CREATE TABLE calls_out (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            alert_id INTEGER NOT NULL REFERENCES alerts(id),
            contact_id TEXT NOT NULL,
            phone TEXT NOT NULL,
            sms_id INTEGER,
            state TEXT NOT NULL DEFAULT 'queued',
            outcome TEXT,
            detail TEXT,
            created_at REAL NOT NULL,
            started_at REAL,
            ended_at REAL
        );
        CREATE INDEX calls_out_state ON calls_out (state, id);
        CREATE INDEX calls_out_alert ON calls_out (alert_id, phone);
        """
    )


register_welfare(MIGRATIONS)  # 0014, after the migrations above
