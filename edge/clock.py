"""Time sources: the real one and a fake that tests advance by hand; whether the system
clock has been set by NTP; and times and spans of the day as configuration gives them."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import time as day_time
from typing import Any, Protocol

from cloud_sync.contract.wire import utc_text

__all__ = ["Clock", "ClockSyncProbe", "DaySpan", "FakeClock", "SystemClock", "parse_hhmm",
           "parse_span", "utc_text"]
_HHMM = re.compile(r"([01]?[0-9]|2[0-3]):([0-5][0-9])")


def parse_hhmm(text: str) -> day_time:
    """"22:00" (or "7:05") -> a time of day, 24-hour clock; ValueError for anything else."""
    found = _HHMM.fullmatch(text.strip())
    if found is None:
        raise ValueError(text)
    return day_time(int(found[1]), int(found[2]))


@dataclass(frozen=True, slots=True)
class DaySpan:
    """A span of the day in local time, like 07:00-22:00; it may cross midnight."""

    start: day_time
    end: day_time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, moment: day_time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


def parse_span(text: str) -> DaySpan:
    """'22:00-07:00' -> a DaySpan; ValueError for anything else or an empty span."""
    start, dash, end = text.partition("-")
    span = DaySpan(parse_hhmm(start), parse_hhmm(end)) if dash else None
    if span is None or span.start == span.end:
        raise ValueError(text)
    return span


class Clock(Protocol):
    """Wall time for records, monotonic time for intervals."""

    def now(self) -> float:
        """Seconds since the epoch (UTC), for timestamps that are stored."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps, for measuring intervals."""
        ...


class SystemClock:
    """The machine's clocks."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


class FakeClock:
    """A clock that moves only when told to; wall and monotonic move together."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self._wall = start
        self._mono = 1000.0

    def now(self) -> float:
        return self._wall

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        """Move both clocks forward."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards; seconds must be >= 0")
        self._wall += seconds
        self._mono += seconds

    def jump_wall(self, seconds: float) -> None:
        """Step the wall clock only, as NTP does on a Pi without a real-time clock."""
        self._wall += seconds


class ClockSyncProbe:
    """Asks the kernel (adjtimex) whether NTP has set the clock; at most once a minute."""

    def __init__(self, recheck_s: float = 60.0) -> None:
        self.recheck_s = recheck_s
        self._libc: Any = None
        self._answer = False
        self._checked_at = -1e18

    def __call__(self) -> bool:
        now = time.monotonic()
        if now - self._checked_at >= self.recheck_s:
            self._checked_at = now
            self._answer = self._ask()
        return self._answer

    def _ask(self) -> bool:
        import ctypes
        import ctypes.util

        try:
            if self._libc is None:
                name = ctypes.util.find_library("c") or "libc.so.6"
                self._libc = ctypes.CDLL(name, use_errno=True)
            buffer = ctypes.create_string_buffer(512)  # larger than struct timex
            state = self._libc.adjtimex(buffer)
        except (OSError, AttributeError):
            return False
        return bool(state != 5)  # TIME_ERROR: the clock is not synchronised
