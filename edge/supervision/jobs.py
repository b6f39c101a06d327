"""Periodic work: one schedule.Scheduler on the monotonic clock, every job guarded.

schedule computes next runs from datetime.now(), which jumps when a Pi without a
real-time clock syncs with NTP. The job and scheduler below read the injected Clock's
monotonic() instead, mapped onto an opaque datetime axis, so intervals never jump.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import schedule

from edge.clock import Clock

_log = logging.getLogger("edge.supervision.jobs")
_AXIS = datetime(2000, 1, 1)  # monotonic zero on a naive datetime axis: no zone, no DST


class MonotonicJob(schedule.Job):
    """A fixed-interval schedule.Job whose 'now' is the clock's monotonic time."""

    def __init__(self, seconds: float, scheduler: MonotonicScheduler) -> None:
        super().__init__(1, scheduler)
        self.unit = "seconds"
        self.period_s = seconds
        self.clock = scheduler.clock

    def now(self) -> datetime:
        return _AXIS + timedelta(seconds=self.clock.monotonic())

    @property
    def should_run(self) -> bool:
        return self.next_run is not None and self.now() >= self.next_run

    def run(self) -> object:
        """Run the job once and schedule the next run one period from now."""
        assert self.job_func is not None, "call do() before run()"
        result = self.job_func()
        self.last_run = self.now()
        self._schedule_next_run()
        return result

    def _schedule_next_run(self) -> None:
        if self.at_time is not None or self.start_day is not None or self.latest is not None:
            raise schedule.ScheduleValueError(
                "a monotonic job runs at a fixed interval only; at(), to() and weekdays "
                "need the wall clock")
        self.next_run = self.now() + timedelta(seconds=self.period_s)


class MonotonicScheduler(schedule.Scheduler):
    """A schedule.Scheduler whose jobs measure their intervals on a monotonic clock."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock

    def every(self, interval: float = 1) -> MonotonicJob:  # type: ignore[override]
        """A new job that runs every `interval` seconds once do() is called."""
        return MonotonicJob(float(interval), self)

    @property
    def idle_seconds(self) -> float | None:
        upcoming = self.next_run
        if upcoming is None:
            return None
        now = _AXIS + timedelta(seconds=self.clock.monotonic())
        return (upcoming - now).total_seconds()


class Jobs:
    """The hub's periodic jobs; run_pending() is called from the loop's tick."""

    def __init__(self, clock: Clock) -> None:
        self.scheduler = MonotonicScheduler(clock)
        self.failures: dict[str, int] = {}
        self.runs: dict[str, int] = {}

    def every(self, seconds: float, name: str, fn: Callable[[], object]) -> MonotonicJob:
        """Run fn every `seconds` (first run one period from now); a failure is only logged."""
        if not seconds > 0:
            raise ValueError(f"job {name!r}: the interval must be more than 0 seconds, "
                             f"got {seconds!r}")
        if name in self.failures:
            raise ValueError(f"a job named {name!r} is already scheduled; give each job "
                             "its own name")
        self.failures[name] = 0
        self.runs[name] = 0
        guarded = self._guard(name, seconds, fn)
        job = self.scheduler.every(seconds)
        job.do(guarded)
        job.tag(name)
        return job

    def run_pending(self) -> None:
        """Run every job that is due; none of them can raise."""
        self.scheduler.run_pending()

    def idle_seconds(self) -> float | None:
        """Seconds until the next job is due (negative when overdue); None without jobs."""
        return self.scheduler.idle_seconds

    def next_due(self, now: float) -> float | None:
        """When the next job is due on the monotonic clock (`now` being its time now)."""
        idle = self.idle_seconds()
        return None if idle is None else now + idle

    def names(self) -> list[str]:
        return list(self.failures)

    def _guard(self, name: str, seconds: float, fn: Callable[[], object]) -> Callable[[], None]:
        def guarded() -> None:
            self.runs[name] += 1
            try:
                fn()
            except Exception as error:  # noqa: BLE001 - a job must never stop the others
                self.failures[name] += 1
                _log.error("Periodic job '%s' failed: %s; it runs again in %s.",
                           name, _describe(error), _interval_text(seconds))
                _log.debug("Traceback of periodic job '%s':", name, exc_info=error)

        guarded.__name__ = name
        return guarded


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _interval_text(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"
