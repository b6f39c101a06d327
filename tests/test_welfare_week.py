"""A week of a simulated resident's life for each welfare rule: the expected checks, at
the expected local times, and no false ones. Daily life plays real sensor frames on the
virtual air (firmware_bridge.simulators.daily_life), driven by the fake clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cloud_sync.contract.schema import Place, build
from edge.alerts.welfare import WELFARE
from edge.clock import FakeClock
from edge.config.welfare import WelfareSection
from edge.domain import AlertState, Sensor, SensorKind
from edge.supervision.welfare import WelfareChecks
from firmware_bridge.simulators.daily_life import DailyLife, Home
from tests.building import SimBuilding, Timing, key_for, make_roster

ZONE = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 12, 7)
ROOM, BATHROOM, FRONT = "B0:C7:DE:00:01:01", "B0:C7:DE:00:01:02", "B0:C7:DE:00:01:03"


def local(day: int, hhmm: str) -> float:
    hours, minutes = map(int, hhmm.split(":"))
    return datetime(2026, 12, 6 + day, hours, minutes, tzinfo=ZONE).timestamp()


class Week:
    """王秀英 (r1) at home with three sensors; the hub and its welfare job on a fake clock."""

    def __init__(self, folder: Path, **welfare: Any) -> None:
        sensors = (Sensor(ROOM, "r1", SensorKind.MOTION, "客厅", key_for(50)),
                   Sensor(BATHROOM, "r1", SensorKind.DOOR, "卫生间门", key_for(51)),
                   Sensor(FRONT, "r1", SensorKind.DOOR, "大门", key_for(52)))
        roster = replace(make_roster(1), sensors=sensors)
        self.building = SimBuilding(folder / "hub.db", roster, FakeClock(local(1, "00:00")),
                                    Timing())
        section = build(WelfareSection, welfare, Place("test.toml", "welfare"), folder)
        self.welfare = WelfareChecks(self.building.hub, section, "Asia/Shanghai")
        self.building.hub.checks_in = lambda rid: section.rules_for(rid).check_in_by is not None
        self.life = DailyLife(self.building.air, ZONE, {"r1": Home(ROOM, BATHROOM, FRONT)})
        self.welfare.check()  # the hub starts watching at Monday 00:00

    def live(self, patterns: list[str], on_step: Any = None) -> None:
        self.life.plan_days("r1", MONDAY, patterns)
        clock = self.building.clock
        end = local(len(patterns) + 1, "00:00")

        def step() -> None:
            self.welfare.check()
            self.building.hub.tick()
            if on_step is not None:
                on_step(self)
        self.life.run(clock.now, clock.advance, end, 60.0, step)

    def checks(self) -> list[tuple[str, str]]:
        """(day and local time, rule) of each welfare check raised."""
        store, found = self.building.store, []
        for change in self.building.dispatched.changes:
            alert = change.alert
            if alert.kind == WELFARE and alert.state is AlertState.RAISED:
                rule, _ = store.welfare_check(alert.id) or ("", "")
                moment = datetime.fromtimestamp(alert.raised_at, ZONE)
                found.append((f"{moment.day - 6} {moment:%H:%M}", rule))
        return found

    def take_open(self, by: str = "值班室") -> None:
        self.building.hub.acknowledge_open(by)


def test_an_ordinary_week_raises_no_check(tmp_path: Path) -> None:
    week = Week(tmp_path)
    week.live(["normal"] * 7)
    assert week.checks() == []
    assert week.building.store.open_alerts() == []


def test_a_late_riser_is_checked_on_at_ten_once(tmp_path: Path) -> None:
    week = Week(tmp_path)
    week.live(["normal", "late", "normal", "normal", "normal", "normal", "normal"],
              on_step=lambda w: w.take_open() if w.building.clock.now() >= local(2, "10:30")
              else None)
    assert week.checks() == [("2 10:00", "not_up")]


def test_a_day_without_movement_is_not_up_then_quiet(tmp_path: Path) -> None:
    week = Week(tmp_path)
    taken = lambda w: w.take_open() if w.building.clock.now() >= local(4, "10:30") else None  # noqa: E731
    week.live(["normal", "normal", "normal", "still", "normal", "normal", "normal"],
              on_step=taken)
    # last seen Thursday 21:20: 40 waking minutes that day, then Friday 07:00 + 11 h 20
    assert week.checks() == [("4 10:00", "not_up"), ("4 18:20", "quiet")]


def test_a_front_door_open_at_night_is_checked_after_fifteen_minutes(tmp_path: Path) -> None:
    week = Week(tmp_path)
    week.live(["normal", "normal", "normal", "normal", "wander", "normal", "normal"],
              on_step=lambda w: w.take_open())
    assert week.checks() == [("5 01:15", "door_at_night")]  # the 6-minute bathroom trips: none


def test_a_missed_daily_check_in_is_checked_at_its_time(tmp_path: Path) -> None:
    week = Week(tmp_path, check_in_by="12:00")
    air, watch = week.building.air, week.building.mac(0)

    def check_in(w: Week) -> None:
        moment = datetime.fromtimestamp(w.building.clock.now(), ZONE)
        if moment.strftime("%H:%M") == "09:00" and moment.day - 6 != 3:
            air.press(watch, "double_press")
        w.take_open()
    week.live(["normal"] * 7, on_step=check_in)
    assert week.checks() == [("3 12:00", "no_check_in")]
    assert not any(a.kind == "sos" for a in week.building.store.alerts())  # check-ins: no SOS


def test_away_pauses_the_rules_and_they_watch_again_from_the_return(tmp_path: Path) -> None:
    week = Week(tmp_path)
    store, clock = week.building.store, week.building.clock
    store.write(lambda: store.set_away("r1", local(4, "18:00"), "test", clock.now()))
    week.live(["still", "still", "still", "still", "normal", "still", "normal"],
              on_step=lambda w: w.take_open())
    # Monday to Thursday away: nothing; the still Saturday after the return: both checks
    assert week.checks() == [("6 10:00", "not_up"), ("6 18:20", "quiet")]


@pytest.mark.parametrize("kind", ["press", "long_press"])
def test_a_press_during_an_open_check_turns_it_into_an_sos(tmp_path: Path, kind: str) -> None:
    week = Week(tmp_path)
    week.live(["late"])
    [check] = [a for a in week.building.store.alerts() if a.kind == WELFARE]
    assert check.state is AlertState.ACTIVE  # nobody took it yet
    week.building.air.press(week.building.mac(0), kind)
    [sos] = week.building.store.open_alerts()
    assert sos.kind == "sos" and sos.state is AlertState.RAISED
    closed = week.building.store.alert(check.uid)
    assert closed is not None and closed.state is AlertState.RESOLVED
