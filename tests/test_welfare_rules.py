"""The welfare rules, pure: values in, due checks out, in the building's local time."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from edge.alerts.welfare import (
    Facts,
    OpenDoor,
    Rule,
    WelfareRules,
    due_checks,
    inside,
)
from edge.clock import DaySpan

ZONE = ZoneInfo("Asia/Shanghai")
RULES = WelfareRules()


def at(day: int, hhmm: str) -> float:
    """Epoch seconds of 2026-12-<day> hh:mm in Shanghai."""
    hours, minutes = map(int, hhmm.split(":"))
    return datetime(2026, 12, day, hours, minutes, tzinfo=ZONE).timestamp()


def facts(**values: object) -> Facts:
    base: dict[str, object] = {"resident_id": "r1", "watching_since": at(1, "00:00"),
                               "has_sensors": True}
    base.update(values)
    return Facts(**base)  # type: ignore[arg-type]


def rules_at(now: float, rules: WelfareRules = RULES, **values: object) -> list[Rule]:
    return [check.rule for check in due_checks(rules, facts(**values), now, ZONE)]


def test_time_inside_a_span_counts_across_midnight() -> None:
    night = DaySpan(time(22), time(6))
    assert inside(night, at(2, "21:00"), at(3, "07:00"), ZONE) == 8 * 3600
    assert inside(night, at(3, "02:00"), at(3, "02:40"), ZONE) == 40 * 60
    assert inside(DaySpan(time(7), time(22)), at(2, "21:00"), at(3, "09:00"), ZONE) == 3 * 3600


def test_quiet_counts_only_waking_hours_so_a_nights_sleep_never_counts() -> None:
    last = at(2, "21:00")  # 1 h of waking time left that day, then from 07:00
    assert rules_at(at(3, "17:59"), last_activity=last) == [Rule.NOT_UP]
    assert rules_at(at(3, "18:00"), last_activity=last) == [Rule.QUIET, Rule.NOT_UP]
    up = at(3, "08:00")
    assert rules_at(at(3, "18:00"), last_activity=up) == []
    assert rules_at(at(3, "23:30"), last_activity=at(3, "08:10")) == []  # asleep: not waking


def test_not_up_by_ten_is_due_at_ten_and_only_without_activity_since_the_morning() -> None:
    night_trip = at(3, "03:00")  # a bathroom trip at night is not getting up
    assert rules_at(at(3, "09:59"), last_activity=night_trip) == []
    [check] = due_checks(RULES, facts(last_activity=night_trip), at(3, "10:00"), ZONE)
    assert (check.rule, check.detail, check.key) == (Rule.NOT_UP, "10:00", "not_up:2026-12-03")
    assert rules_at(at(3, "10:00"), last_activity=at(3, "06:30")) == []


def test_a_door_open_at_night_counts_only_its_night_part() -> None:
    evening = OpenDoor("B0:C7:DE:00:00:02", "大门", at(3, "21:50"))
    assert rules_at(at(3, "22:14"), open_doors=(evening,), last_activity=at(3, "21:50")) == []
    [check] = due_checks(RULES, facts(open_doors=(evening,), last_activity=at(3, "21:50")),
                         at(3, "22:15"), ZONE)
    assert (check.rule, check.detail) == (Rule.DOOR_AT_NIGHT, "大门|15")
    daytime = OpenDoor("B0:C7:DE:00:00:02", "大门", at(3, "12:00"))
    assert rules_at(at(3, "15:00"), open_doors=(daytime,), last_activity=at(3, "12:00")) == []


def test_a_missing_check_in_is_due_at_its_time_each_day() -> None:
    rules = WelfareRules(check_in_by=time(12))
    active = {"last_activity": at(3, "08:00")}
    assert rules_at(at(3, "12:00"), rules, last_check_in=at(3, "09:00"), **active) == []
    assert rules_at(at(3, "12:00"), rules, last_check_in=at(2, "09:00"),
                    **active) == [Rule.NO_CHECK_IN]
    assert rules_at(at(3, "11:59"), rules, **active) == []


def test_away_pauses_every_rule_and_time_counts_again_from_the_return() -> None:
    rules = WelfareRules(check_in_by=time(12))
    assert rules_at(at(5, "20:00"), rules, away_until=at(6, "00:00")) == []
    back = {"watching_since": at(6, "15:00"), "last_activity": at(2, "09:00")}
    assert rules_at(at(6, "20:00"), rules, **back) == []  # not up / no check-in: from tomorrow
    assert rules_at(at(7, "10:00"), rules, **back) == [Rule.NOT_UP]


def test_without_sensors_only_the_check_in_rule_applies() -> None:
    rules = WelfareRules(check_in_by=time(12))
    assert rules_at(at(3, "20:00"), rules, has_sensors=False) == [Rule.NO_CHECK_IN]


def test_one_quiet_spell_is_one_check() -> None:
    keys = {check.key for hour in range(8, 22) for check in
            due_checks(RULES, facts(last_activity=at(2, "09:00")), at(3, f"{hour}:00"), ZONE)
            if check.rule is Rule.QUIET}
    assert keys == {f"quiet:{at(2, '09:00'):.0f}"}
