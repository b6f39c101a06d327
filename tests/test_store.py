"""The SQLite store: WAL, full sync, migrations, roster changes that keep counters."""

from __future__ import annotations

import dataclasses
import sqlite3
import stat
import time

import pytest

from edge.domain import AlertState, Contact, Fix, Role, Roster, Watch
from edge.errors import StoreError
from edge.storage.alert_tables import alert_ref
from edge.storage.store import ALERT_PRIORITY, Store
from tests.building import make_roster


def test_database_is_wal_full_sync_private_and_migrated(tmp_path) -> None:
    store = Store.open(tmp_path / "state" / "hub.db")
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert stat.S_IMODE((tmp_path / "state" / "hub.db").stat().st_mode) == 0o600
    names = {"residents", "watches", "watch_counters", "contacts", "fixes", "alerts",
             "alert_changes", "outbox", "outbox_segments"}
    assert names <= set(store.db.table_names())
    applied = store.db.execute("SELECT name FROM _sqlite_migrations").fetchall()
    assert applied == [("0001_roster_alerts_outbox",), ("0002_sms_queue_escalation_inbox",),
                       ("0003_uplink_state",), ("0004_supervision_state",),
                       ("0005_outbox_segments",), ("0006_outbox_segments_framed",),
                       ("0007_watch_frame_history",), ("0008_sms_refusals",),
                       ("0009_alert_declines",), ("0010_server_claims",),
                       ("0011_server_text_now",), ("0012_roster_buildings",),
                       ("0013_ring_calls",), ("0014_sensors_activity_welfare",)]


def test_reopening_applies_no_migration_twice(tmp_path) -> None:
    first = Store.open(tmp_path / "hub.db")
    applied = first.db.execute("SELECT name FROM _sqlite_migrations").fetchall()
    first.close()
    store = Store.open(tmp_path / "hub.db")
    assert store.db.execute("SELECT name FROM _sqlite_migrations").fetchall() == applied
    assert len(applied) == len(set(applied)) >= 13


def test_unwritable_location_gives_clear_error(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot open the database .*hub.db"):
        Store.open(blocker / "hub.db")


def test_roster_change_keeps_counters_and_deactivates_removed_watch(tmp_path) -> None:
    store = Store.open(tmp_path / "hub.db")
    store.apply_roster(make_roster(3))
    with store.transaction():
        store.save_counter("A4:C1:38:00:00:03", 77, 1.0)
    store.apply_roster(make_roster(2))
    assert [r.watch.mac for r in store.watch_records()] == ["A4:C1:38:00:00:01",
                                                            "A4:C1:38:00:00:02"]
    store.apply_roster(make_roster(3))
    record = [r for r in store.watch_records() if r.watch.mac.endswith("03")][0]
    assert record.last_counter == 77
    assert record.watch.key is not None


def test_a_changed_roster_is_stored_as_it_now_is(tmp_path) -> None:
    store = Store.open(tmp_path / "hub.db")
    store.apply_roster(make_roster(3))
    first = make_roster(3)
    moved = dataclasses.replace(first.residents[0], name="王秀英", room="502",
                                address="幸福里 3号楼 502", phone="+8613905710502")
    button = Watch(first.watches[1].mac, "r1", None, True, "bedside pull cord")
    family = Contact("son", "王磊", "+8613800138030", Role.FAMILY, 2, "r1", True)
    store.apply_roster(Roster((moved, first.residents[1]), (first.watches[0], button),
                              (family,)))
    assert store.residents() == [moved, first.residents[1]]
    assert store.resident("r3") == first.residents[2]  # kept for old alerts, inactive
    assert [r.watch for r in store.watch_records()] == [first.watches[0], button]
    assert store.contacts_for("r1") == [family] and store.contacts_for("r2") == []


def test_one_open_alert_per_resident_is_enforced_by_the_schema(tmp_path) -> None:
    store = Store.open(tmp_path / "hub.db")
    store.apply_roster(make_roster(1))
    with store.transaction():
        store.insert_alert("r1", "A4:C1:38:00:00:01", 1.0, 31.0, AlertState.RAISED)
    with pytest.raises(sqlite3.IntegrityError), store.transaction():
        store.insert_alert("r1", "A4:C1:38:00:00:01", 2.0, 32.0, AlertState.RAISED)
    assert len(store.open_alerts()) == 1


def test_failed_transaction_leaves_nothing_behind(tmp_path) -> None:
    store = Store.open(tmp_path / "hub.db")
    store.apply_roster(make_roster(1))
    with pytest.raises(RuntimeError), store.transaction():
        store.insert_alert("r1", "A4:C1:38:00:00:01", 1.0, 31.0, AlertState.RAISED)
        store.append_event("alert.raised", 1.0, {}, ALERT_PRIORITY)
        raise RuntimeError("power cut")
    assert store.alerts() == [] and store.outbox_depth() == 0


def test_fix_cache_keeps_the_last_fix_per_watch(tmp_path) -> None:
    store = Store.open(tmp_path / "hub.db")
    store.apply_roster(make_roster(1))
    with store.transaction():
        store.save_fix(Fix("A4:C1:38:00:00:01", 31.0, 121.0, 10, 100.0, 101.0))
        store.save_fix(Fix("A4:C1:38:00:00:01", 31.5, 121.5, 5, 200.0, 201.0))
    assert store.last_fix("A4:C1:38:00:00:01") == Fix("A4:C1:38:00:00:01", 31.5, 121.5, 5,
                                                      200.0, 201.0)
    assert store.last_fix("A4:C1:38:00:00:09") is None


def test_alert_refs_are_short_and_distinct() -> None:
    refs = [alert_ref(n) for n in range(1, 5000)]
    assert len(set(refs)) == len(refs)
    assert alert_ref(1) == "A001" and alert_ref(32) == "A010"
    assert all(len(r) <= 5 for r in refs)


def test_alert_found_by_ref_or_uid(tmp_path) -> None:
    store = Store.open(tmp_path / "hub.db")
    store.apply_roster(make_roster(1))
    with store.transaction():
        alert = store.insert_alert("r1", "A4:C1:38:00:00:01", 1.0, 31.0, AlertState.RAISED)
    assert store.alert(alert.ref.lower()) == alert
    assert store.alert(alert.uid) == alert


def test_telemetry_commits_relax_sync_and_alerts_stay_fully_synced(tmp_path) -> None:
    store = Store.open(tmp_path / "hub.db")
    store.apply_roster(make_roster(1))
    seen = []

    def synchronous() -> None:
        seen.append(store.db.execute("PRAGMA synchronous").fetchone()[0])

    with store.transaction(durable=False):
        synchronous()
        with store.transaction():  # nested: still part of the outer commit
            store.save_counter("A4:C1:38:00:00:01", 5, 1.0)
    with store.transaction():  # an alert's commit
        synchronous()
    with store.transaction(durable=False):
        synchronous()
    assert seen == [1, 2, 1]  # NORMAL for telemetry, FULL for the alert, NORMAL again
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    for counter in range(6, 9):  # telemetry commits one after another: said once
        with store.transaction(durable=False):
            store.save_counter("A4:C1:38:00:00:01", counter, 1.0)
    assert not [s for s in statements if "synchronous" in s]


def test_checkpoints_run_beside_the_writer_not_inside_its_commits(tmp_path) -> None:
    store = Store.open(tmp_path / "hub.db", checkpoint_s=0.05)
    assert store.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    store.apply_roster(make_roster(3))
    for n in range(50):
        with store.transaction(durable=False):
            store.save_counter("A4:C1:38:00:00:01", n, float(n))
    deadline = time.monotonic() + 5
    while not (store.checkpointer and store.checkpointer.last
               and store.checkpointer.last[1] > 0
               and store.checkpointer.last[1] == store.checkpointer.last[2]):
        assert time.monotonic() < deadline, "no checkpoint happened"
        time.sleep(0.02)
    store.close()
    assert not (tmp_path / "hub.db-wal").exists() or (tmp_path / "hub.db-wal").stat().st_size == 0


def test_a_hub_that_keeps_restarting_does_not_grow_its_wal_without_end(tmp_path) -> None:
    """Killed before its first periodic checkpoint (a crash loop), a hub's next start
    checkpoints at once, so the WAL is copied in and can shrink again."""
    crashed = Store.open(tmp_path / "hub.db", checkpoint_s=3600)
    crashed.apply_roster(make_roster(3))
    for n in range(400):
        with crashed.transaction(durable=False):
            crashed.save_counter("A4:C1:38:00:00:01", n, float(n))
    assert crashed.checkpointer is not None
    crashed.checkpointer.stop()  # the process dies: no checkpoint, no close
    restarted = Store.open(tmp_path / "hub.db", checkpoint_s=3600)
    deadline = time.monotonic() + 5
    while not (restarted.checkpointer and restarted.checkpointer.last):
        assert time.monotonic() < deadline, "no checkpoint at start"
        time.sleep(0.02)
    busy, log, done = restarted.checkpointer.last
    assert log > 0 and done == log
    restarted.close()
