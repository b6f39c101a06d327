"""A welfare check through the production hub and the emulated modem: its own text, the
duty desk first, then family, taken by a clear yes like an SOS (a "maybe later" or a "yes,
but I cannot go" takes nothing)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from edge.alerts.welfare import WELFARE
from edge.clock import FakeClock
from edge.config.loader import HubConfig
from edge.config.welfare import WelfareSection
from edge.domain import AlertState, Sensor, SensorKind
from tests.building import key_for
from tests.sms_building import DESK, GRID, NEIGHBOUR, SON, SmsBuilding, run_scenario

ZONE = ZoneInfo("Asia/Shanghai")
ROOM = "B0:C7:DE:00:02:01"
EXPECTED = "【关怀提醒 A001】王秀英今天10:00前未检测到活动，请打电话或上门确认。回复1接手"


class CareBuilding(SmsBuilding):
    """The SMS building with a motion sensor in 王秀英's flat and the default rules."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        start = datetime(2026, 12, 7, 5, 0, tzinfo=ZONE).timestamp()
        self.clock = FakeClock(start)
        self.air.add_watch(ROOM, key_for(60))

    def config(self) -> HubConfig:
        base = super().config()
        sensor = Sensor(ROOM, "r1", SensorKind.MOTION, "客厅", key_for(60))
        quiet = replace(base.supervision, watch_silent_after_s=10**6)  # no device notices
        return replace(base, roster=replace(base.roster, sensors=(sensor,)),
                       welfare=WelfareSection(), supervision=quiet)


def test_not_up_by_ten_texts_the_desk_and_family_first_and_a_yes_takes_it(
        tmp_path: Path) -> None:
    async def scenario(b: CareBuilding) -> None:
        assert b.app is not None
        for _ in range(29):  # 05:00 to 09:50: not a word
            await b.advance(600)
        await b.settle()
        assert b.inbox() == {}
        await b.advance(600)  # 10:00
        await b.settle()
        inbox = b.inbox()
        assert set(inbox) == {DESK, SON}  # SON is always_sms; the grid worker waits
        assert inbox[DESK] == [EXPECTED]
        await b.advance(125)  # the desk's tier wait: family next (told already)
        await b.settle()
        assert GRID not in b.inbox() and NEIGHBOUR not in b.inbox()
        assert b.inbox()[DESK][-1] == ("【关怀提醒 A001】王秀英今天10:00前未检测到活动，2分钟无人"
                                       "回复，已通知王强。回复1接手")
        for unclear in ("收到了，等下看看", "1 sorry not available"):  # maybe later; yes but no
            b.reply(DESK, unclear)
            await b.advance(1)
            await b.settle()
            [check] = b.app.store.alerts()
            assert check.state is AlertState.ACTIVE, unclear  # not taken: nobody is coming
        b.reply(DESK, "1")
        await b.advance(1)
        await b.settle()
        assert b.inbox()[SON][-1] == "【A001】王秀英的关怀提醒已由值班室接手，谢谢。"
        [check] = b.app.store.alerts()
        assert check.kind == WELFARE and check.state is AlertState.ACKNOWLEDGED
        assert b.app.store.open_alerts() == []

    run_scenario(CareBuilding(tmp_path), scenario)
