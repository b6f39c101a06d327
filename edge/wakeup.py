"""When the hub's loop wakes: at the earliest time a part says it needs to run, or at
once when work arrives (from the loop or from another thread).

Each timed part answers `next_due(now)` on the monotonic clock (None: nothing timed).
The loop sleeps until the earliest answer; anything that creates work calls
`Wakeup.set()`, which ends the sleep at once. Writes by other processes (`edge-hub
test-alarm`, `alerts ack`) cannot call us: the kernel says when the database's
write-ahead log is written, and a cheap check of the database's data_version tells
another process's commit from our own (edge.storage.store.Store.changed_elsewhere). The
kernel also says when the wall clock is set (edge.kernel_events). Where it cannot, or the
clock is a test's, the sleeping loop looks for itself every CHECK_S.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from edge.clock import Clock, SystemClock
from edge.kernel_events import ClockSets, LogWrites

_log = logging.getLogger("edge.alerts.hub")
CHECK_S = 0.5  # how often a sleeping loop reads the clock and looks for other processes
LOOK_S = 30.0  # how often it still looks when the kernel tells it both
LOOK_AGAIN_S = (0.02, 0.1, 0.4, 1.5, 5.0)  # after another process's write, until it shows
STEP_S = 1.0  # a wall clock that moved this much against the monotonic one was stepped


class Wakeup:
    """An asyncio.Event that any thread may set: the loop's "there is work" signal."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self._soon: asyncio.TimerHandle | None = None
        self._kernel: list[LogWrites | ClockSets] = []
        self._written: Callable[[bool], None] | None = None
        self._again: asyncio.TimerHandle | None = None

    def bind(self) -> None:
        """Call from the running loop before it waits (set() from threads needs it); a
        new event, as an event belongs to the first loop that waits on it."""
        self.event = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()

    def unbind(self) -> None:
        """The loop stops: later calls set the event directly and schedule nothing."""
        if self._soon is not None:
            self._soon.cancel()
        self._forget_kernel()
        self._loop = self._thread = self._soon = None

    def listen_to_kernel(self, database: Path | None,
                         changed_elsewhere: Callable[[], bool]) -> bool:
        """Call from the running loop after bind(): wake when the database's log is
        written and `changed_elsewhere()` says another process did it, and when the wall
        clock is set. False (the loop keeps looking every CHECK_S) where the kernel
        cannot say both, or there is no file (a database in memory)."""
        assert self._loop is not None, "bind() first"
        try:
            writes = LogWrites(database) if database is not None else None
        except OSError as error:
            _log.info("The hub looks for other processes' writes every %.1f s (%s).",
                      CHECK_S, error)
            writes = None
        try:
            clock = ClockSets()
        except OSError as error:
            _log.info("The hub reads the clock every %.1f s (%s).", CHECK_S, error)
            if writes is not None:
                writes.close()
            return False
        if writes is None:
            clock.close()
            return False

        def written(ours: bool = False) -> None:
            try:
                if not writes.drain():
                    return
            except OSError as error:
                self._stop_listening(error)
                return
            if changed_elsewhere():
                self.event.set()
            elif not ours and writes.written:  # SQLite writes the log, syncs, then says it
                self._look_again(changed_elsewhere)  # committed: its commit may not show yet

        def clock_set() -> None:
            try:
                if clock.drain():
                    self.event.set()
            except OSError as error:
                self._stop_listening(error)

        self._loop.add_reader(writes.fileno(), written)
        self._loop.add_reader(clock.fileno(), clock_set)
        self._kernel = [writes, clock]
        self._written = written
        return True

    def _look_again(self, changed_elsewhere: Callable[[], bool], step: int = 0) -> None:
        """Look again LOOK_AGAIN_S after a write the kernel told of but whose commit did
        not show yet (a writer syncs the log before it says it committed); a new write
        starts the looks again."""
        if self._loop is None:
            return
        if self._again is not None:
            self._again.cancel()
            self._again = None
        if step >= len(LOOK_AGAIN_S):
            return

        def look() -> None:
            self._again = None
            if changed_elsewhere():
                self.event.set()
            else:
                self._look_again(changed_elsewhere, step + 1)

        self._again = self._loop.call_later(LOOK_AGAIN_S[step], look)

    def _stop_listening(self, error: OSError) -> None:
        """The kernel's news cannot be read: the loop looks for itself again."""
        _log.warning("The hub can no longer be told of other processes' writes and clock "
                     "changes (%s); it looks for them every %.1f s instead.", error, CHECK_S)
        self._forget_kernel()
        self.event.set()  # the loop turns, and sleeps looking every CHECK_S

    def _forget_kernel(self) -> None:
        for source in self._kernel:
            if self._loop is not None:
                self._loop.remove_reader(source.fileno())
            source.close()
        if self._again is not None:
            self._again.cancel()
        self._kernel, self._written, self._again = [], None, None

    def committed(self) -> None:
        """The store committed (a write of ours): the log's news is read now, on the
        spot, rather than in a turn of the loop of its own; another process's commit
        read with it is still noticed (changed_elsewhere tells them apart). One whose log
        was written just before ours and shows only after is noticed at our next commit
        (the live state, every 10 s at most), when its writer closes, or in LOOK_S."""
        if self._written is not None and threading.get_ident() == self._thread:
            self._written(True)

    def set(self) -> None:
        """There is work: wake the loop now. Safe from any thread; without a bound loop
        the event is set directly (nothing waits on it)."""
        loop = self._loop
        if loop is None or threading.get_ident() == self._thread:
            self.event.set()
            return
        try:
            loop.call_soon_threadsafe(self.event.set)
        except RuntimeError:  # the loop closed meanwhile: nobody is left to wake
            return

    async def sleep_until(self, due: float, clock: Clock, stop: asyncio.Event,
                          changed_elsewhere: Callable[[], bool]) -> None:
        """Until `due` (monotonic), set(), `stop`, or `changed_elsewhere()` says another
        process wrote. Every CHECK_S at most the clock and changed_elsewhere are read:
        that notices other processes' writes (cheaply), a test's fake clock moving, and
        the wall clock stepped (NTP setting a Pi's clock: deadlines kept in wall time,
        like escalation steps, may be due at once). Where the kernel says the first and
        the last (listen_to_kernel) and the clock is the machine's, only every LOOK_S."""
        offset = clock.now() - clock.monotonic()
        look_s = LOOK_S if self._kernel and isinstance(clock, SystemClock) else CHECK_S
        waiters = [asyncio.ensure_future(event.wait()) for event in (self.event, stop)]
        try:  # the same two waiters for every look, not two new tasks each time
            while (left := due - clock.monotonic()) > 0:
                done, _ = await asyncio.wait(waiters, timeout=min(left, look_s),
                                             return_when=asyncio.FIRST_COMPLETED)
                if done or changed_elsewhere():
                    return
                if abs(clock.now() - clock.monotonic() - offset) > STEP_S:
                    return
        finally:
            for waiter in waiters:
                waiter.cancel()

    def alert_changed(self, change: object) -> None:
        """Dispatcher: an alert was raised, cancelled, activated or closed; its timers
        (cancel window, escalation) start or stop."""
        self.set()

    def set_after(self, seconds: float) -> None:
        """Wake the loop in `seconds`, unless a wake as soon is already on its way (work
        that is gathered, like telemetry for the uplink, need not wake it each time); an
        earlier wake takes the place of a later one."""
        if self._loop is None or threading.get_ident() != self._thread:
            return
        due = self._loop.time() + seconds
        if self._soon is not None:
            if self._soon.when() <= due:
                return
            self._soon.cancel()
        self._soon = self._loop.call_at(due, self._soon_due)

    def _soon_due(self) -> None:
        self._soon = None
        self.event.set()


class Timed(Protocol):
    """A part of the hub with timers: when it next has work (monotonic), or None."""

    def next_due(self, now: float) -> float | None: ...


def due_of(part: Timed, now: float, retry_s: float) -> float | None:
    """When `part` next has work; a part that cannot say (its disk failed, say) is looked
    at again `retry_s` later, as a failed job is: the loop never stops for it."""
    try:
        return part.next_due(now)
    except Exception:  # noqa: BLE001 - one failing part must not stop the hub
        _log.exception("Could not tell when %s next has work; looking again in %.1f s.",
                       type(part).__name__, retry_s)
        return now + retry_s


def earliest(times: Iterable[float | None]) -> float | None:
    """The earliest of the given due times; None when none is given."""
    due = [t for t in times if t is not None]
    return min(due) if due else None


async def wait_any(events: Iterable[asyncio.Event], timeout: float) -> bool:
    """Until one of `events` is set or `timeout` seconds pass; True when one was set."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        done, _ = await asyncio.wait(waiters, timeout=max(timeout, 0.0),
                                     return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    return bool(done)
