"""Time sources: the real one and a fake that tests advance by hand; and whether the
system clock has been set by NTP."""

from __future__ import annotations

import time
from typing import Any, Protocol

from cloud_sync.contract.wire import utc_text

__all__ = ["Clock", "ClockSyncProbe", "FakeClock", "SystemClock", "utc_text"]


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
