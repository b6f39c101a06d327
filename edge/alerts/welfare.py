"""Welfare rules: what a resident's activity says about whether someone should look in.

A pure core: the rules and the facts of one resident go in with the local time, the
checks that are due come out. All times of day are local (the building's time zone).

- quiet: no activity for `quiet_h` hours, counting only waking hours (07:00-22:00 by
  default), so a night's sleep never counts against anyone;
- not up: no activity between the end of the night and `up_by` (10:00, say);
- door at night: a door opened and still open for `door_open_min` minutes of the night
  (22:00-06:00 by default; only the night part of its opening counts);
- check-in: no daily check-in (a double press of the watch) by `check_in_by`.

Away mode pauses every rule until it ends; after it (and when the hub first watches a
resident) time is counted from then, never from before. Each check carries a key: the
same key is one check, raised once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo
from enum import StrEnum

from edge.clock import DaySpan

HOUR_S = 3600.0
WELFARE = "welfare"  # the kind of alert a check is (an SOS's is "sos")
CHECK_IN_PRESS = "double_press"  # the watch's button event that is a daily check-in


class Rule(StrEnum):
    """Which welfare rule a check comes from."""

    QUIET = "quiet"
    NOT_UP = "not_up"
    DOOR_AT_NIGHT = "door_at_night"
    NO_CHECK_IN = "no_check_in"


@dataclass(frozen=True, slots=True)
class WelfareRules:
    """One resident's rules; None (or 0) switches a rule off."""

    waking: DaySpan = DaySpan(time(7), time(22))
    night: DaySpan = DaySpan(time(22), time(6))
    quiet_h: float | None = 12.0
    up_by: time | None = time(10)
    door_open_min: float | None = 15.0
    check_in_by: time | None = None


@dataclass(frozen=True, slots=True)
class OpenDoor:
    """A door sensor whose last event was an opening."""

    sensor_mac: str
    place: str
    opened_at: float


@dataclass(frozen=True, slots=True)
class Facts:
    """What the hub knows of one resident, as epoch seconds.

    `watching_since` is when the rules began to watch (the hub's start with sensors, or
    the end of an away spell): nothing before it counts against the resident.
    """

    resident_id: str
    watching_since: float
    has_sensors: bool = False
    last_activity: float | None = None
    open_doors: tuple[OpenDoor, ...] = ()
    last_check_in: float | None = None
    away_until: float | None = None


@dataclass(frozen=True, slots=True)
class DueCheck:
    """A welfare check to raise: which rule, for whom, since when, and its key."""

    rule: Rule
    resident_id: str
    since: float
    key: str
    detail: str  # for the text: "10:00" (a time), "12" (hours), "卫生间门|40" (place|minutes)


def due_checks(rules: WelfareRules, facts: Facts, now: float, zone: tzinfo) -> list[DueCheck]:
    """The checks due for one resident at `now`."""
    if facts.away_until is not None and now < facts.away_until:
        return []
    local = datetime.fromtimestamp(now, zone)
    found = [
        _quiet(rules, facts, now, zone),
        _not_up(rules, facts, local),
        *_doors(rules, facts, now, zone),
        _no_check_in(rules, facts, local),
    ]
    return [check for check in found if check is not None]


def _quiet(rules: WelfareRules, facts: Facts, now: float, zone: tzinfo) -> DueCheck | None:
    if not rules.quiet_h or not facts.has_sensors:
        return None
    if not rules.waking.contains(datetime.fromtimestamp(now, zone).time()):
        return None
    since = max(facts.last_activity or facts.watching_since, facts.watching_since)
    if inside(rules.waking, since, now, zone) < rules.quiet_h * HOUR_S:
        return None
    return DueCheck(Rule.QUIET, facts.resident_id, since, f"quiet:{since:.0f}",
                    f"{rules.quiet_h:g}")


def _not_up(rules: WelfareRules, facts: Facts, local: datetime) -> DueCheck | None:
    if rules.up_by is None or not facts.has_sensors:
        return None
    morning = local.replace(hour=rules.night.end.hour, minute=rules.night.end.minute,
                            second=0, microsecond=0)
    up_by = local.replace(hour=rules.up_by.hour, minute=rules.up_by.minute, second=0,
                          microsecond=0)
    if local < up_by or not rules.waking.contains(local.time()) \
            or facts.watching_since > morning.timestamp():
        return None
    if facts.last_activity is not None and facts.last_activity >= morning.timestamp():
        return None
    return DueCheck(Rule.NOT_UP, facts.resident_id, morning.timestamp(),
                    f"not_up:{local:%Y-%m-%d}", f"{rules.up_by:%H:%M}")


def _doors(rules: WelfareRules, facts: Facts, now: float, zone: tzinfo) -> list[DueCheck]:
    if not rules.door_open_min:
        return []
    due = []
    for door in facts.open_doors:
        opened = max(door.opened_at, facts.watching_since)
        night_open = inside(rules.night, opened, now, zone)
        if night_open >= rules.door_open_min * 60 and \
                rules.night.contains(datetime.fromtimestamp(now, zone).time()):
            due.append(DueCheck(
                Rule.DOOR_AT_NIGHT, facts.resident_id, door.opened_at,
                f"door:{door.sensor_mac}:{door.opened_at:.0f}",
                f"{door.place}|{night_open // 60:.0f}"))
    return due


def _no_check_in(rules: WelfareRules, facts: Facts, local: datetime) -> DueCheck | None:
    if rules.check_in_by is None:
        return None
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    by = local.replace(hour=rules.check_in_by.hour, minute=rules.check_in_by.minute,
                       second=0, microsecond=0)
    if local < by or facts.watching_since > midnight.timestamp():
        return None
    if facts.last_check_in is not None and facts.last_check_in >= midnight.timestamp():
        return None
    return DueCheck(Rule.NO_CHECK_IN, facts.resident_id, midnight.timestamp(),
                    f"check_in:{local:%Y-%m-%d}", f"{rules.check_in_by:%H:%M}")


def inside(span: DaySpan, start: float, end: float, zone: tzinfo) -> float:
    """Seconds of [start, end) that fall in `span` on the local clock."""
    if end <= start:
        return 0.0
    total = 0.0
    day = datetime.fromtimestamp(start, zone).date() - timedelta(days=1)
    last = datetime.fromtimestamp(end, zone).date()
    while day <= last:
        opens = datetime.combine(day, span.start, zone).timestamp()
        closes_day = day if span.start < span.end else day + timedelta(days=1)
        closes = datetime.combine(closes_day, span.end, zone).timestamp()
        total += max(0.0, min(end, closes) - max(start, opens))
        day += timedelta(days=1)
    return total

