"""The server's database seam: a batch's events in multi-row INSERTs, the PostgreSQL
connection pool (its size from the URL, side-by-side transactions, lost connections
replaced), the events' type index, and an older PostgreSQL database upgraded while in use.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from cloud_sync.server.changes import ListenedChanges
from cloud_sync.server.db import multi_row_inserts, pool_setting
from cloud_sync.server.errors import ReceiverSetupError
from cloud_sync.server.schema import SCHEMA_VERSION
from cloud_sync.server.settings import DEFAULT_POOL
from cloud_sync.server.store import SqlReceiverStore, open_store
from cloud_sync.server.wire import parse_batch
from tests.test_receiver_epochs import a_v1_database
from tests.test_receiver_helpers import (
    COMMUNITY,
    PG_BASE,
    T0,
    alert_event,
    batch,
    encode,
    event,
    postgres_schema,
    until,
)

CARE = "postgresql://rx@db/eldercare"


@pytest.fixture
def store(db_url: str) -> Iterator[SqlReceiverStore]:
    opened = open_store(db_url)
    yield opened
    opened.close()


def stored(store: SqlReceiverStore, events: list[dict[str, Any]]) -> tuple[int, int, int]:
    """(new, duplicates, ack) after hub-3 sends these events in one batch."""
    result = store.store_batch(parse_batch(encode(batch(events))), via="mqtt", now=T0)
    return result.new, result.duplicates, result.ack_seq


def test_the_pool_size_is_the_urls_pool_parameter_which_psycopg_never_sees() -> None:
    assert pool_setting(CARE) == (CARE, DEFAULT_POOL)
    assert pool_setting(f"{CARE}?pool=8") == (CARE, 8)
    assert pool_setting(f"{CARE}?sslmode=require&pool=2&application_name=rx") == \
        (f"{CARE}?sslmode=require&application_name=rx", 2)
    assert ListenedChanges(f"{CARE}?pool=8").url == CARE, "the LISTEN connection is its own"
    for wrong in ("0", "101", "four", ""):
        with pytest.raises(ReceiverSetupError, match="expected the number of connections"):
            pool_setting(f"{CARE}?pool={wrong}")


def test_rows_are_inserted_500_at_a_time_within_the_parameter_limit() -> None:
    rows = [(n, f"e{n}") for n in range(1201)]
    inserts = list(multi_row_inserts("events", ("seq", "event_id"), rows, max_params=65535,
                                     skip_duplicates=True))
    assert [len(params) // 2 for _, params in inserts] == [500, 500, 201]
    assert inserts[2][0] == ("INSERT INTO events (seq, event_id) VALUES "
                             + ", ".join(["(?, ?)"] * 201) + " ON CONFLICT DO NOTHING")
    assert [value for _, params in inserts for value in params] == [v for row in rows for v in row]
    small = list(multi_row_inserts("events", ("seq", "event_id"), rows, max_params=999,
                                   skip_duplicates=False, numbered=True))
    assert [len(params) // 2 for _, params in small] == [499, 499, 203]
    assert small[2][0].startswith("INSERT INTO events (seq, event_id) VALUES ($1, $2), ($3, $4)")
    assert small[2][0].endswith(", ($405, $406)")


def test_insert_rows_counts_the_rows_it_inserted_and_skips_duplicates(
        store: SqlReceiverStore) -> None:
    with store.db.transaction(write=True) as tx:
        tx.run("CREATE TABLE marks (mark TEXT PRIMARY KEY, n BIGINT)")
        assert tx.insert_rows("marks", ("mark", "n"), [("a", 1), ("b", 2)]) == 2
        assert tx.insert_rows("marks", ("mark", "n"), [("b", 3), ("c", 4), ("a", 5)],
                              skip_duplicates=True) == 1
        assert tx.insert_rows("marks", ("mark", "n"), []) == 0
        assert tx.rows("SELECT mark, n FROM marks ORDER BY mark") == [("a", 1), ("b", 2), ("c", 4)]


def test_a_batch_longer_than_one_insert_stores_each_event_once(store: SqlReceiverStore) -> None:
    events = [event(seq) for seq in range(1, 1201)]
    assert stored(store, events[:700]) == (700, 0, 700)
    assert stored(store, events + events[:5]) == (500, 705, 1200), "resent ones counted as before"
    assert store.event_count() == 1200
    assert store.event_seqs(COMMUNITY, "hub-3") == list(range(1, 1201))


def test_the_open_faults_are_read_through_the_type_index(tmp_path: Any) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'faults.db'}")
    try:
        stored(store, [event(1, "hub.mains_lost"), event(2)])
        statements: list[str] = []
        store.db.conn.set_trace_callback(statements.append)  # type: ignore[attr-defined]
        assert store.open_faults(COMMUNITY)[0] == {"hub-3": ["mains"]}
        store.db.conn.set_trace_callback(None)  # type: ignore[attr-defined]
        (query,) = [sql for sql in statements if "type IN" in sql]
        with store.db.transaction(write=False) as tx:
            plan = " ".join(str(row[-1]) for row in tx.rows(f"EXPLAIN QUERY PLAN {query}"))
        assert "events_by_community_type" in plan, plan
    finally:
        store.close()


def test_postgresql_transactions_do_not_wait_for_each_other() -> None:
    with postgres_schema() as url:
        store = open_store(f"{url}&pool=2")
        holding, release = threading.Event(), threading.Event()

        def hold() -> None:
            with store.db.transaction(write=True) as tx:
                tx.rows("SELECT 1")
                holding.set()
                release.wait(10)

        holder = threading.Thread(target=hold)
        holder.start()
        try:
            assert holding.wait(5)
            assert store.hubs(now=T0) == []
            assert holder.is_alive(), "the read ran while the other transaction was open"
        finally:
            release.set()
            holder.join(10)
            store.close()


def test_the_store_carries_on_after_postgresql_dropped_every_connection(
        caplog: pytest.LogCaptureFixture) -> None:
    psycopg = pytest.importorskip("psycopg")
    with postgres_schema() as url:
        name = f"edge_hub_{uuid.uuid4().hex[:8]}"
        store = open_store(f"{url}&application_name={name}&pool=3")
        try:
            ready = threading.Barrier(3)

            def borrow() -> None:  # three at once: the pool holds three connections
                with store.db.transaction(write=False) as tx:
                    tx.rows("SELECT 1")
                    ready.wait(5)

            borrowers = [threading.Thread(target=borrow) for _ in range(3)]
            for borrower in borrowers:
                borrower.start()
            for borrower in borrowers:
                borrower.join(10)
            with psycopg.connect(PG_BASE, autocommit=True) as admin:  # as a restart would
                ended = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                      "WHERE application_name = %s", [name]).fetchall()
            assert len(ended) == 3
            with caplog.at_level(logging.WARNING, "cloud_sync.server.receiver"):
                assert stored(store, [event(1)]) == (1, 0, 1)
            assert "Lost a connection to PostgreSQL" in caplog.text
        finally:
            store.close()


@dataclass(frozen=True)
class OldDatabase:
    """A database as an older server left it, what a reader of it reads, and what the
    upgraded store must still find in it."""

    make: Callable[[str], None]
    read: str
    check: Callable[[SqlReceiverStore], None]


def _version_1(url: str) -> None:
    a_v1_database(url, [event(seq) for seq in (1, 2, 3, 5)])


def _version_1_kept(store: SqlReceiverStore) -> None:
    assert store.event_seqs(COMMUNITY, "hub-3", "") == [1, 2, 3, 5]
    assert {hub["hub"]: hub["acked_seq"] for hub in store.hubs(now=T0)} == {"hub-3": 3, "hub-7": 0}
    assert [c["seq"] for c in store.commands_after(COMMUNITY, "hub-7", 0).commands] == [1, 2]


def _version_3(url: str) -> None:
    store = open_store(url)
    try:
        stored(store, [alert_event(1, "u-1")])
        with store.db.transaction(write=True) as tx:
            for column in ("claimed_by", "claimed_at", "closed_by", "closed_at", "outcome", "note",
                           "claim_until", "claim_lapsed_at", "lapse_told_at"):
                tx.run(f"ALTER TABLE alerts DROP COLUMN {column}")
            for table in ("rosters", "roster_watches", "roster_log"):
                tx.run(f"DROP TABLE {table}")
            tx.run("UPDATE receiver_schema SET version = 3")
    finally:
        store.close()


def _version_3_kept(store: SqlReceiverStore) -> None:
    (alert,) = store.alerts()
    assert (alert["id"], alert["resident"]["name"], alert["claimed_by"]) == ("C1", "张桂兰", None)
    store.record_claim("C1", "王主任", now=T0, until=T0 + 60)
    assert store.alerts()[0]["claimed_by"] == "王主任"


OLD = {"version-1": OldDatabase(_version_1, "SELECT event_id FROM events ORDER BY seq",
                                _version_1_kept),
       "version-3": OldDatabase(_version_3, "SELECT id, resident_name FROM alerts",
                                _version_3_kept)}


@pytest.mark.parametrize("old", OLD.values(), ids=OLD.keys())
def test_a_live_postgresql_database_is_upgraded_in_place_keeping_its_rows(
        old: OldDatabase) -> None:
    psycopg = pytest.importorskip("psycopg")
    with postgres_schema() as url:
        old.make(url)
        opened: list[SqlReceiverStore] = []
        with psycopg.connect(url) as reader, psycopg.connect(url, autocommit=True) as watcher:
            before = reader.execute(old.read).fetchall()  # its transaction stays open
            upgrade = threading.Thread(target=lambda: opened.append(open_store(url)))
            upgrade.start()
            until(lambda: watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                [reader.info.backend_pid]).fetchone() == (1,), 10)
            assert upgrade.is_alive(), "the upgrade waits for the reader"
            assert reader.execute(old.read).fetchall() == before, "who reads sees the same rows"
            reader.commit()
            upgrade.join(10)
        (store,) = opened
        try:
            with store.db.transaction(write=False) as tx:
                assert tx.rows("SELECT version FROM receiver_schema") == [(SCHEMA_VERSION,)]
            old.check(store)
        finally:
            store.close()
