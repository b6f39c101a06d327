"""The sleeping hub is woken by the kernel, not by looking twice a second: when another
process commits to its database (inotify on the database's write-ahead log) and when the
wall clock is set (a timerfd cancelled on a set). The production hub on the real clock, with
the virtual air and an emulated modem."""

from __future__ import annotations

import asyncio
import ctypes
import errno
import os
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from edge import kernel_events
from edge.clock import SystemClock
from edge.kernel_events import ClockSets, LogWrites
from edge.sms.texts import SmsStore
from edge.storage.store import Store
from edge.wakeup import CHECK_S, Wakeup
from tests.sms_building import DESK, SmsBuilding, run_scenario, until
from tests.test_app_timers import RealTimeBuilding


def statements_of(store: Store) -> list[str]:
    """Every SQL statement the hub's connection runs from now on (sqlite3's own trace)."""
    seen: list[str] = []
    store.db.conn.set_trace_callback(seen.append)
    return seen


def test_a_sleeping_hub_does_not_look_at_its_database(tmp_path: Path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        assert b.app is not None
        await asyncio.sleep(0.5)  # start-up: the first turns, the modem's first checks
        seen = statements_of(b.app.store)
        await asyncio.sleep(3.0)
        b.app.store.db.conn.set_trace_callback(None)
        # the loop that looked every 0.5 s read data_version 6 times in 3 s
        assert [s for s in seen if "data_version" in s] == []

    run_scenario(RealTimeBuilding(tmp_path), scenario)


class Beside:
    """What `edge-hub sms send` does in its own process, on a thread of its own: its own
    connection to the hub's file, kept open until told (its closing would tell the hub
    too), its text synced before it shows (synchronous=FULL)."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.pool = ThreadPoolExecutor(max_workers=1)  # one thread: the store's own
        self.store: Store | None = None

    def _queue(self) -> float:
        store = self.store = Store.open(self.database)
        store.write(lambda: SmsStore(store).enqueue(DESK, "test", "测试", time.time()))
        return time.monotonic()

    async def queue(self) -> float:
        """Queue the text; when it was committed (monotonic)."""
        return await asyncio.get_running_loop().run_in_executor(self.pool, self._queue)

    def close(self) -> None:
        if self.store is not None:
            self.pool.submit(self.store.close).result()
        self.pool.shutdown()


def test_another_process_queueing_a_text_wakes_the_hub_at_once(tmp_path: Path) -> None:
    took: list[float] = []

    async def scenario(b: SmsBuilding) -> None:
        assert b.app is not None
        await asyncio.sleep(0.5)
        seen = statements_of(b.app.store)
        beside = Beside(b.database)
        try:
            committed = await beside.queue()
            await until(lambda: b.app is not None and not b.app.sms.outgoing("queued")
                        and bool(b.app.sms.outgoing()), timeout=5)
            took.append(time.monotonic() - committed)
        finally:
            beside.close()
        b.app.store.db.conn.set_trace_callback(None)
        await until(lambda: DESK in b.inbox(), timeout=10)
        assert any("data_version" in s for s in seen)  # it asked once it was told

    run_scenario(RealTimeBuilding(tmp_path), scenario)
    assert took[0] < 0.3, f"taken up {took[0]:.3f} s after its commit (looking: up to 0.5 s)"


def test_a_write_whose_commit_shows_later_is_looked_at_again(tmp_path: Path) -> None:
    database, log = tmp_path / "hub.db", tmp_path / "hub.db-wal"
    database.write_bytes(b"")
    log.write_bytes(b"")
    shows_at = [float("inf")]

    async def scenario() -> float:
        wakeup = Wakeup()
        wakeup.bind()
        try:
            assert wakeup.listen_to_kernel(database, lambda: time.monotonic() >= shows_at[0])
            with log.open("ab") as file:  # another process's log written ...
                file.write(b"frames")
            written = time.monotonic()
            shows_at[0] = written + 0.15  # ... its commit shown once synced
            await asyncio.wait_for(wakeup.event.wait(), timeout=5)
            return time.monotonic() - written
        finally:
            wakeup.unbind()

    took = asyncio.run(scenario())
    assert 0.15 <= took < 0.15 + 0.4


def test_a_reader_closing_the_database_is_looked_at_once_not_again(tmp_path: Path) -> None:
    """`edge-hub status` opens the hub's database, reads and closes it: SQLite opens the
    log for writing even to read, so its close is told, but nothing was written, so the
    hub looks once and does not look again in the next seconds as after a write."""
    database = tmp_path / "hub.db"
    hub = Store.open(database)
    looks: list[float] = []

    def changed_elsewhere() -> bool:
        looks.append(time.monotonic())
        return hub.changed_elsewhere()

    async def scenario() -> None:
        wakeup = Wakeup()
        wakeup.bind()
        try:
            assert wakeup.listen_to_kernel(database, changed_elsewhere)
            reader = sqlite3.connect(database.as_uri() + "?mode=ro", uri=True)
            assert reader.execute("SELECT count(*) FROM alerts").fetchone() == (0,)
            reader.close()
            await asyncio.sleep(0.8)  # after a write: looks at 0.02, 0.12 and 0.52 s
            assert len(looks) == 1 and not wakeup.event.is_set()
            writer = Store.open(database)  # another process's commit still wakes it
            try:
                writer.write(lambda: SmsStore(writer).enqueue(DESK, "test", "测试", time.time()))
                await asyncio.wait_for(wakeup.event.wait(), timeout=2)
            finally:
                writer.close()
        finally:
            wakeup.unbind()

    try:
        asyncio.run(scenario())
    finally:
        hub.close()


def test_a_sooner_wake_takes_the_place_of_a_later_one_never_the_reverse() -> None:
    """Telemetry for the uplink asks for a wake in SEND_TELEMETRY_S, another event in
    TICK_S: whichever comes first is kept, so an event is not held back by telemetry
    gathered before it, and more telemetry does not put off the wake on its way."""

    async def woken_after(*asked: float) -> float:
        wakeup = Wakeup()
        wakeup.bind()
        try:
            started = time.monotonic()
            for seconds in asked:
                wakeup.set_after(seconds)
            await asyncio.wait_for(wakeup.event.wait(), timeout=5)
            return time.monotonic() - started
        finally:
            wakeup.unbind()

    assert 0.1 <= asyncio.run(woken_after(2.0, 0.1)) < 0.5
    assert 0.1 <= asyncio.run(woken_after(0.1, 2.0)) < 0.5
    assert 0.6 <= asyncio.run(woken_after(0.6, 0.6, 0.6)) < 1.0


def test_a_c_library_without_the_calls_is_said_plainly() -> None:
    with pytest.raises(OSError, match="the C library has no no_such_call"):
        kernel_events._call("no_such_call")


def test_without_a_folder_to_watch_the_hub_looks_for_itself(tmp_path: Path) -> None:
    async def scenario() -> bool:
        wakeup = Wakeup()
        wakeup.bind()
        try:
            return wakeup.listen_to_kernel(tmp_path / "gone" / "hub.db", lambda: False)
        finally:
            wakeup.unbind()

    assert asyncio.run(scenario()) is False


def _set_the_clock_to_now() -> None:
    """clock_settime(CLOCK_REALTIME) to the time it says, 50 us on: a set, not a change
    worth the name, and never backwards. Skips where this process may not set the clock."""
    libc = ctypes.CDLL(None, use_errno=True)
    now = (ctypes.c_long * 2)()
    assert libc.clock_gettime(0, now) == 0
    now[1] += 50_000
    if now[1] >= 1_000_000_000:
        now[0], now[1] = now[0] + 1, now[1] - 1_000_000_000
    if libc.clock_settime(0, now) != 0:
        code = ctypes.get_errno()
        if code == errno.EPERM:
            pytest.skip("setting the clock needs CAP_SYS_TIME")
        raise OSError(code, os.strerror(code))


def test_a_set_clock_is_told_and_the_timer_is_armed_again() -> None:
    clock = ClockSets()
    try:
        assert clock.drain() is False  # nothing yet
        _set_the_clock_to_now()
        assert clock.drain() is True
        assert clock.drain() is False  # told once
        _set_the_clock_to_now()
        assert clock.drain() is True  # and again: armed again
    finally:
        clock.close()


def test_a_set_clock_wakes_the_sleeping_loop_at_once(tmp_path: Path) -> None:
    _set_the_clock_to_now()  # skips here where it may not

    async def scenario() -> float:
        wakeup = Wakeup()
        wakeup.bind()
        try:
            assert wakeup.listen_to_kernel(tmp_path / "hub.db", lambda: False)
            loop = asyncio.get_running_loop()
            loop.call_later(0.3, _set_the_clock_to_now)
            started = time.monotonic()
            await wakeup.sleep_until(time.monotonic() + 20, SystemClock(), asyncio.Event(),
                                     lambda: False)
            return time.monotonic() - started
        finally:
            wakeup.unbind()

    slept = asyncio.run(scenario())
    assert 0.25 <= slept < 0.3 + CHECK_S / 2


def test_the_log_written_is_told_a_checkpoint_is_not_and_a_new_log_is_watched(
        tmp_path: Path) -> None:
    database, log = tmp_path / "hub.db", tmp_path / "hub.db-wal"
    database.write_bytes(b"")
    log.write_bytes(b"")
    writes = LogWrites(database)
    try:
        assert writes.drain() is False
        with log.open("ab") as file:
            file.write(b"a commit")
        assert writes.drain() is True
        assert writes.drain() is False  # told once
        database.write_bytes(b"a checkpoint")  # the database file itself: not the log
        assert writes.drain() is False
        log.unlink()  # the store went to memory; back, it makes the log again
        assert writes.drain() is True  # (the old log's watch ends)
        log.write_bytes(b"")
        assert writes.drain() is True  # made: watched again
        with log.open("ab") as file:
            file.write(b"a commit in the new log")
        assert writes.drain() is True
    finally:
        writes.close()


def test_the_checkpoint_thread_sleeps_until_the_store_writes(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "hub.db", checkpoint_s=0.05)
    try:
        checkpointer = store.checkpointer
        assert checkpointer is not None
        started = time.monotonic()
        while not checkpointer.checkpoints and time.monotonic() - started < 5:
            time.sleep(0.01)  # the one at start
        done = checkpointer.checkpoints
        time.sleep(0.5)  # ten intervals with nothing written
        assert checkpointer.checkpoints == done
        store.write(lambda: store.set_meta("note", "written again"))
        started = time.monotonic()
        while checkpointer.checkpoints == done and time.monotonic() - started < 5:
            time.sleep(0.01)
        assert checkpointer.checkpoints == done + 1
        assert checkpointer.last is not None and checkpointer.last[1] > 0
    finally:
        store.close()
