"""Telemetry committed in groups: written at the end of the loop's turn (or within 50 ms; a
lone frame after a quiet spell at once), never ahead of an alert, lost at most as a whole
group in a crash, with no seq used twice."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid

from edge.storage.store import Store
from tests.building import SimBuilding, make_building


def committed(b: SimBuilding, sql: str) -> list[tuple[object, ...]]:
    """What another connection (the uplink's reader, a restarted hub) would see."""
    conn = sqlite3.connect(b.path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_frames_that_come_close_together_are_written_in_one_commit_at_the_turns_end(
        tmp_path) -> None:
    b = make_building(tmp_path, count=3)
    now = [100.0]
    b.store.telemetry._monotonic = lambda: now[0]
    seen_during_the_turn: list[object] = []

    async def turn() -> None:
        b.air.battery(b.mac(2), 40)  # the first frame after a quiet spell: written at once
        seen_during_the_turn.extend(committed(b, "SELECT count(*) FROM outbox"))
        now[0] += 0.01
        for percent in (80, 79, 78):
            b.air.battery(b.mac(0), percent)
        b.air.battery(b.mac(1), 50)
        seen_during_the_turn.extend(committed(b, "SELECT count(*) FROM outbox"))
        await asyncio.sleep(0)  # the end of the turn

    asyncio.run(turn())
    assert seen_during_the_turn == [(1,), (1,)]
    events = committed(b, "SELECT seq, type FROM outbox ORDER BY seq")
    assert events == [(n, "watch.battery") for n in range(1, 6)]
    assert committed(b, "SELECT mac, battery FROM watches WHERE battery IS NOT NULL "
                        "ORDER BY mac") == [(b.mac(0), 78), (b.mac(1), 50), (b.mac(2), 40)]
    assert committed(b, "SELECT count(*) FROM watch_frames")[0][0] == 5


def test_a_frame_50_ms_or_more_after_the_one_before_is_written_at_once(tmp_path) -> None:
    b = make_building(tmp_path, count=2)
    now = [100.0]
    b.store.telemetry._monotonic = lambda: now[0]
    seen: list[object] = []

    async def quiet_hub() -> None:
        for n, percent in enumerate((60, 59, 58)):
            b.air.battery(b.mac(n % 2), percent)
            seen.extend(committed(b, "SELECT count(*) FROM outbox"))  # no turn has ended
            now[0] += 0.0625  # a little more than 50 ms, exactly in binary

    asyncio.run(quiet_hub())
    assert seen == [(1,), (2,), (3,)]
    assert b.store.telemetry.pending is False


def test_a_long_turn_writes_its_telemetry_every_50_ms(tmp_path) -> None:
    b = make_building(tmp_path, count=1)
    now = [0.0]
    b.store.telemetry._monotonic = lambda: now[0]

    async def long_turn() -> None:
        b.air.battery(b.mac(0), 91)  # after a quiet spell: written at once
        now[0] += 0.01
        b.air.battery(b.mac(0), 90)  # a group begins
        now[0] += 0.03
        b.air.battery(b.mac(0), 89)
        assert committed(b, "SELECT count(*) FROM outbox") == [(1,)]
        now[0] += 0.03  # 60 ms since the group began
        b.air.battery(b.mac(0), 88)
        assert committed(b, "SELECT count(*) FROM outbox") == [(4,)]

    asyncio.run(long_turn())


def test_a_press_writes_waiting_telemetry_first_then_commits_alone(tmp_path) -> None:
    b = make_building(tmp_path, count=2)

    async def turn() -> None:
        b.air.battery(b.mac(1), 70)
        b.air.press(b.mac(0))  # no await: the SOS does not wait for the turn to end
        assert [t for _, t in committed(b, "SELECT seq, type FROM outbox ORDER BY seq")] == [
            "watch.battery", "alert.raised"]

    asyncio.run(turn())


def test_a_crash_loses_only_the_group_and_no_seq_is_used_twice(tmp_path) -> None:
    b = make_building(tmp_path, count=2)

    async def before_the_crash() -> None:
        b.air.battery(b.mac(0), 60)
        await asyncio.sleep(0)  # written
        b.air.battery(b.mac(0), 59)  # still in the group when the process dies
        b.air.scanners.clear()
        b.store.db.conn.close()  # kill -9: nothing more is written

    asyncio.run(before_the_crash())
    b.boot()
    b.air.battery(b.mac(0), 58)  # no loop: a tool or a test writes at once
    b.air.press(b.mac(1))
    rows = committed(b, "SELECT seq, type, json_extract(wire, '$.seq') FROM outbox ORDER BY seq")
    assert [seq for seq, _, _ in rows] == [1, 2, 3]
    assert all(seq == wire_seq for seq, _, wire_seq in rows)
    assert committed(b, "SELECT battery FROM watches WHERE mac = '%s'" % b.mac(0)) == [(58,)]


def test_the_same_battery_level_again_writes_no_event_and_reads_nothing(tmp_path) -> None:
    b = make_building(tmp_path, count=1)
    b.air.battery(b.mac(0), 77)
    statements: list[str] = []
    b.store.db.conn.set_trace_callback(statements.append)
    b.air.battery(b.mac(0), 77)
    b.store.db.conn.set_trace_callback(None)
    assert b.events("watch.battery") == ["watch.battery"]
    assert not [s for s in statements if s.lstrip().upper().startswith("SELECT")]


def test_the_outbox_seq_goes_on_from_the_highest_ever_used(tmp_path) -> None:
    """Delivered events are pruned: a seq is never given again, even when the rows of the
    highest ones are gone (sqlite_sequence remembers it)."""
    store = Store.open(tmp_path / "hub.db")
    with store.transaction():
        store.append_event("a", 1.0, {}, 0)
        store.append_event("b", 1.0, {}, 0)
    with store.transaction():
        store.db.execute("DELETE FROM outbox")
    with store.transaction():
        store.append_event("c", 1.0, {}, 0)
    assert [(e.seq, e.type) for e in store.all_events()] == [(3, "c")]
    store.close()


def test_an_event_has_a_random_version_4_id_and_its_texts_as_json_writes_them(tmp_path) -> None:
    """The id is made from 16 random bytes without building a UUID object, and the two
    texts by encoders kept for every event: each the same as uuid4() and json.dumps give."""
    store = Store.open(tmp_path / "hub.db")
    body = {"watch": "A4:C1:38:00:00:01", "resident": "张桂兰", "battery": 59, "a": [1.5, None]}
    with store.transaction():
        ids = [store.append_event("watch.battery", 1_796_000_000.25, body, 0)
               for _ in range(2_000)]
    assert len(set(ids)) == len(ids)
    for event_id in ids:
        made = uuid.UUID(hex=event_id)
        assert (made.version, made.variant, made.hex) == (4, uuid.RFC_4122, event_id)
    assert len({event_id[n] for event_id in ids for n in (0, 15, 31)}) == 16  # all of hex
    text, wire = store.db.conn.execute(
        "SELECT body, wire FROM outbox WHERE event_id = ?", (ids[0],)).fetchone()
    assert text == json.dumps(body, ensure_ascii=False, sort_keys=True)
    assert wire == json.dumps(
        {**body, "event_id": ids[0], "seq": 1, "type": "watch.battery",
         "at": "2026-11-30T00:53:20.250Z", "at_epoch": 1_796_000_000.25,
         "clock_synced": store.clock_synced()}, ensure_ascii=False, separators=(",", ":"))
    store.close()
