"""A resident's week on the virtual air with the hub and its welfare job on a fake clock:
shared by the welfare tests and tests/bench/welfare_week.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

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
        self.building.hub.checks_in = self.welfare.takes_check_in
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
