"""The store's move to memory and back, as values: what is copied, what is written back."""

from __future__ import annotations

from pathlib import Path

from edge.storage.memory import FRESH_IDS_FROM, memory_copy, write_back
from edge.storage.store import Store
from tests.building import make_roster


def filled(path: Path) -> Store:
    store = Store.open(path)
    store.apply_roster(make_roster(3))
    with store.transaction():
        store.set_meta("outbox_epoch", "e1")
    return store


def test_a_copy_holds_the_roster_and_counts_on_from_the_files_ids(tmp_path) -> None:
    store = filled(tmp_path / "a#b" / "hub.db")  # a path that needs quoting as a URI
    copy = memory_copy(tmp_path / "a#b" / "hub.db", store.db)
    store.close()
    assert copy.complete
    assert copy.db.execute("SELECT count(*) FROM residents").fetchone()[0] == 3
    assert copy.db.execute("SELECT value FROM meta WHERE key = 'outbox_epoch'").fetchone()[0] \
        == "e1"


def test_a_copy_that_cannot_read_the_file_starts_far_from_the_files_ids(tmp_path) -> None:
    copy = memory_copy(tmp_path / "missing" / "hub.db", None)
    assert not copy.complete and copy.floor == 1
    copy.db.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')")
    cursor = copy.db.execute("INSERT INTO outbox (event_id, type, at, priority, body) "
                             "VALUES ('x', 't', 0, 0, '{}')")
    assert cursor.lastrowid == FRESH_IDS_FROM + 1


def test_writing_back_an_empty_copy_keeps_what_only_the_file_knew(tmp_path) -> None:
    path = tmp_path / "hub.db"
    filled(path).close()
    copy = memory_copy(tmp_path / "elsewhere.db", None)  # could not read the file
    copy.db.execute("INSERT INTO meta (key, value) VALUES ('written', 'in memory')")
    write_back(copy, path, None)
    store = Store.open(path)
    try:
        assert len(store.contacts_for("r1")) == 1  # not wiped
        assert store.meta("outbox_epoch") == "e1" and store.meta("written") == "in memory"
    finally:
        store.close()


def test_a_file_opened_apart_is_found_whatever_its_path_holds(tmp_path) -> None:
    path = tmp_path / "50% #3 ?x" / "hub.db"
    filled(path).close()
    copy = memory_copy(path, None)
    assert copy.complete and copy.db.execute("SELECT count(*) FROM watches").fetchone()[0] == 3
    assert not (tmp_path / "50% ").exists()  # nothing made at a cut-off path


def test_a_copy_counts_on_from_the_files_highest_seq_and_ids(tmp_path) -> None:
    """Only undelivered alert events (and open alerts' rows) are copied: the seqs and ids of
    the rows left in the file must not be given again, or writing back would overwrite
    them and the server would take a new alert for a duplicate."""
    store = filled(tmp_path / "hub.db")
    with store.transaction():
        for number in range(5):
            store.append_event("watch.battery", 1.0, {"n": number}, 1)  # telemetry: not copied
        store.db.execute("INSERT INTO sms_out (phone, kind, priority, text, created_at, state, "
                         "next_try_at) VALUES ('+86', 'sos', 0, 'x', 0, 'sent', 0)")
    copy = memory_copy(tmp_path / "hub.db", store.db)
    store.close()
    assert copy.complete and copy.floor == 1
    seq = copy.db.execute("INSERT INTO outbox (event_id, type, at, priority, body) "
                          "VALUES ('x', 't', 0, 0, '{}')").lastrowid
    sms = copy.db.execute("INSERT INTO sms_out (phone, kind, priority, text, created_at, "
                          "next_try_at) VALUES ('+86', 'sos', 0, 'y', 0, 0)").lastrowid
    assert (seq, sms) == (6, 2)
    assert copy.db.execute("SELECT count(*) FROM sqlite_sequence WHERE name = 'outbox'"
                           ).fetchone()[0] == 1


def test_every_table_of_the_hub_is_copied_to_memory_or_left_out_on_purpose(tmp_path) -> None:
    """A new table must say whether a full disk carries it into memory: forgetting it
    would lose its rows while the hub runs from memory."""
    from edge.storage.memory import COPY_IN, NOT_COPIED

    store = Store.open(tmp_path / "hub.db")
    tables = {name for (name,) in store.db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()}
    store.close()
    assert not set(COPY_IN) & set(NOT_COPIED)
    assert tables == set(COPY_IN) | set(NOT_COPIED)


def test_a_copy_gives_new_calls_ids_above_the_files_even_of_calls_it_left(tmp_path) -> None:
    """Calls queued in memory must never overwrite a call kept in the file when written back."""
    path = tmp_path / "hub.db"
    store = Store.open(path)
    with store.transaction():
        db = store.db
        db.execute("INSERT INTO residents (id, name, room, address) VALUES ('r1', 'a', '1', 'x')")
        for ref, state in (("A001", "closed"), ("A002", "active")):
            db.execute("INSERT INTO alerts (uid, ref, resident_id, watch_mac, state, raised_at, "
                       "cancel_until, updated_at) VALUES (?, ?, 'r1', 'm', ?, 0, 0, 0)",
                       [ref, ref, state])
        for alert_id, state in ((2, "queued"), (1, "done")):
            db.execute("INSERT INTO calls_out (alert_id, contact_id, phone, state, created_at) "
                       "VALUES (?, 'desk', '+86', ?, 0)", [alert_id, state])
    assert store.db.execute("SELECT id, state FROM calls_out ORDER BY id").fetchall() == [
        (1, "queued"), (2, "done")]
    copy = memory_copy(path, store.db)
    store.close()
    assert copy.db.execute("SELECT id FROM calls_out").fetchall() == [(1,)]
    new = copy.db.execute("INSERT INTO calls_out (alert_id, contact_id, phone, created_at) "
                          "VALUES (2, 'desk', '+86', 1)").lastrowid
    assert new == 3  # not 2: writing back would have overwritten the file's call 2
