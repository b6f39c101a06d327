"""The server's database seam: a batch's events in multi-row INSERTs, and the PostgreSQL
connection pool (its size from the URL, side-by-side transactions, lost connections
replaced).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from cloud_sync.server.changes import ListenedChanges
from cloud_sync.server.db import multi_row_inserts, pool_setting
from cloud_sync.server.errors import ReceiverSetupError
from cloud_sync.server.settings import DEFAULT_POOL
from cloud_sync.server.store import SqlReceiverStore, open_store
from cloud_sync.server.wire import parse_batch
from tests.test_receiver_helpers import (
    COMMUNITY,
    PG_BASE,
    T0,
    batch,
    encode,
    event,
    postgres_schema,
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
