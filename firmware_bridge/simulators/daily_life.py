"""Daily life on the virtual air: a resident's motion and door sensors through the day.

Each day of a resident follows a pattern (getting up, bathroom trips, going out, a day
with no movement...). Events are planned on local clock times; whoever drives the clock
(a test's FakeClock, the simulator's) asks for the next event's time, moves the clock
there and plays what is due, so a simulated week runs in well under a second of air.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

from firmware_bridge.simulators.virtual_air import VirtualAir

# (local time, sensor role, action): action is "motion", "open" or "close"
Step = tuple[str, str, str]

_DAY = [("07:00", "room", "motion"), ("07:05", "bathroom", "open"),
        ("07:12", "bathroom", "close"), *((f"{h:02d}:20", "room", "motion")
                                          for h in range(8, 22)),
        ("09:30", "front", "open"), ("09:31", "front", "close"),
        ("11:00", "front", "open"), ("11:01", "front", "close"),
        ("02:30", "bathroom", "open"), ("02:36", "bathroom", "close")]
PATTERNS: dict[str, tuple[Step, ...]] = {
    # up at seven, about the flat all day, out for the morning shopping, one night trip
    "normal": tuple(_DAY),
    # sleeps in: nothing before half past eleven
    "late": tuple(s for s in _DAY if s[0] >= "11:30" or s[0] < "06:00"),
    # a day with no movement at all (a fall, or a bad day in bed)
    "still": (),
    # away all day: out at eight, back at eight in the evening
    "out": (("07:00", "room", "motion"), ("08:00", "front", "open"),
            ("08:01", "front", "close"), ("20:00", "front", "open"),
            ("20:01", "front", "close"), ("20:10", "room", "motion")),
    # a normal day, then the front door left open from one to ten to two at night
    "wander": (*_DAY, ("01:00", "front", "open"), ("01:50", "front", "close")),
}


@dataclass(frozen=True, slots=True)
class Home:
    """A resident's sensors by role: "room" (motion), "bathroom" and "front" (doors)."""

    room: str | None = None
    bathroom: str | None = None
    front: str | None = None

    def mac(self, role: str) -> str | None:
        return {"room": self.room, "bathroom": self.bathroom, "front": self.front}[role]


@dataclass(slots=True)
class DailyLife:
    """Plans residents' days and plays them on the air as their time comes."""

    air: VirtualAir
    zone: tzinfo
    homes: dict[str, Home] = field(default_factory=dict)
    _due: list[tuple[float, int, str, str]] = field(default_factory=list)  # at, n, mac, act
    _count: int = 0

    def plan(self, resident: str, day: date, pattern: str) -> int:
        """Plan one local day of `pattern` for the resident; returns the events planned."""
        if pattern not in PATTERNS:
            raise ValueError(f"pattern: expected one of {', '.join(PATTERNS)}, got {pattern!r}")
        home = self.homes[resident]
        planned = 0
        for clock_time, role, action in PATTERNS[pattern]:
            mac = home.mac(role)
            if mac is None:
                continue
            hours, minutes = map(int, clock_time.split(":"))
            at = datetime.combine(day, time(hours, minutes), self.zone).timestamp()
            self._count += 1
            heapq.heappush(self._due, (at, self._count, mac, action))
            planned += 1
        return planned

    def plan_days(self, resident: str, first: date, patterns: list[str]) -> int:
        """Plan consecutive days from `first`, one pattern each."""
        return sum(self.plan(resident, first + timedelta(days=n), p)
                   for n, p in enumerate(patterns))

    def next_at(self) -> float | None:
        """When the next planned event is due, or None."""
        return self._due[0][0] if self._due else None

    def play_until(self, now: float) -> int:
        """Put every event due by `now` on the air, in order; returns how many."""
        played = 0
        while self._due and self._due[0][0] <= now:
            _, _, mac, action = heapq.heappop(self._due)
            if action == "motion":
                self.air.motion(mac)
            else:
                self.air.door(mac, action == "open")
            played += 1
        return played

    def run(self, now: Callable[[], float], advance: Callable[[float], None], until: float,
            step_s: float, on_step: Callable[[], object]) -> None:
        """Drive time to `until`: to each event, or `step_s` on, whichever comes first;
        play what is due and call `on_step` (e.g. the hub's jobs) at each stop."""
        while now() < until:
            target = min(until, now() + step_s)
            upcoming = self.next_at()
            if upcoming is not None and upcoming < target:
                target = max(upcoming, now())
            advance(target - now())
            self.play_until(now())
            on_step()
