"""A week of a simulated resident's life for each welfare rule: the expected checks, at
the expected local times, and no false ones. Daily life plays real sensor frames on the
virtual air (firmware_bridge.simulators.daily_life), driven by the fake clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from unittest.mock import patch

import pytest

from edge.alerts.welfare import WELFARE
from edge.app import build_hub
from edge.clock import FakeClock
from edge.domain import AlertState
from edge.sms.messages import welfare_text
from edge.storage import welfare_tables
from edge.storage.welfare_tables import ACTIVITY_KEPT_S
from firmware_bridge.simulators.virtual_air import OBJ_BUTTON, OBJ_PACKET_ID, VirtualAir
from tests.sms_building import building_config
from tests.welfare_building import BATHROOM, FRONT, ROOM, ZONE, Week, local


def test_an_ordinary_week_raises_no_check(tmp_path: Path) -> None:
    week = Week(tmp_path)
    week.live(["normal"] * 7)
    assert week.checks() == []
    assert week.building.store.open_alerts() == []


def test_a_day_out_from_eight_to_eight_raises_no_check(tmp_path: Path) -> None:
    week = Week(tmp_path)
    week.live(["normal", "out", "out", "normal"])
    assert week.checks() == []  # up by 10 (the front door at 8), under 12 quiet hours


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
    air, mac = week.building.air, week.building.mac(0)
    air.press(mac, kind)
    [sos] = week.building.store.open_alerts()
    # Active at once: the check's responders were told already, nothing holds the SOS back
    assert sos.kind == "sos" and sos.state is AlertState.ACTIVE
    closed = week.building.store.alert(check.uid)
    assert closed is not None and closed.state is AlertState.RESOLVED
    watch = air.watches[mac.upper()]  # the watch repeats the press, encrypted afresh
    air.emit(watch.mac, watch.frame([(OBJ_PACKET_ID, watch.packet_id), (OBJ_BUTTON, kind)]),
             watch.rssi)
    assert week.building.store.open_alerts() == [sos], "a repeat neither cancels nor adds"


def test_only_the_first_double_press_of_a_day_is_the_check_in(tmp_path: Path) -> None:
    week = Week(tmp_path, check_in_by="12:00")
    air, watch, store = week.building.air, week.building.mac(0), week.building.store
    week.live(["normal"], on_step=lambda w: w.take_open())  # Monday's check is taken
    week.building.clock.advance(9 * 3600)  # Tuesday 09:00
    air.press(watch, "double_press")
    assert store.open_alerts() == []  # Tuesday's check-in
    week.building.clock.advance(60)
    air.press(watch, "double_press")  # again the same day: a call for help
    [sos] = store.open_alerts()
    assert sos.kind == "sos"


def test_a_week_of_forgetting_old_activity_hourly_raises_the_same_checks(
        tmp_path: Path) -> None:
    days = ["normal", "normal", "still", "normal", "wander", "normal", "still"]
    kept, forgetting = Week(tmp_path / "kept"), Week(tmp_path / "forgetting")
    forgot: list[int] = []

    def hourly(w: Week) -> None:
        if w.building.clock.now() % 3600 < 60:
            forgot.append(w.welfare.forget_old_activity())
        w.take_open()
    kept.live(days, on_step=lambda w: w.take_open())
    forgetting.live(days, on_step=hourly)
    assert forgetting.checks() == kept.checks() != []
    seen = "SELECT resident_id, sensor_mac, kind, at FROM activity"
    rows = forgetting.building.store.db.execute(seen).fetchall()
    cut = forgetting.building.clock.now() - ACTIVITY_KEPT_S
    assert not [row for row in rows if row[3] < cut]  # every sensor was seen since
    assert sum(forgot) + len(rows) == len(kept.building.store.db.execute(seen).fetchall())
    assert sum(forgot) > len(rows)


def test_forgetting_activity_keeps_every_fact_the_rules_read(tmp_path: Path) -> None:
    week = Week(tmp_path)
    store, day = week.building.store, 86_400.0
    seen = [("r1", ROOM, "motion", n * 600.0) for n in range(6 * 144)]  # six days
    seen += [("r1", FRONT, "door_open", 100.0), ("r1", FRONT, "door_closed", 100.0),
             ("r1", BATHROOM, "door_closed", 200.0), ("r1", BATHROOM, "door_open", 200.0),
             ("r1", BATHROOM, "door_closed", 200.0),  # two kinds at one moment: the later
             ("r1", "A4:C1:38:00:00:01", "check_in", day), ("r2", ROOM, "motion", 5.0),
             ("r2", ROOM, "motion", 7.0), ("r2", ROOM, "motion", 7.0)]  # the same moment
    for resident, mac, kind, at in sorted(seen, key=lambda row: row[3]):  # as they come
        store.write(lambda: store.save_activity(resident, mac, kind, at))
    before = {rid: store.activity_facts(rid) for rid in ("r1", "r2")}
    assert (BATHROOM, "door_closed", 200.0) in before["r1"].doors
    with patch.object(welfare_tables, "ACTIVITY_FORGOTTEN", 100):
        assert store.write(lambda: store.forget_activity(4 * day)) == 100
        runs = 1
        while store.write(lambda: store.forget_activity(4 * day)):
            runs += 1
    assert runs == 6  # 578 rows to forget, 100 at a time
    assert {rid: store.activity_facts(rid) for rid in ("r1", "r2")} == before
    kept = store.db.execute("SELECT sensor_mac, kind, at FROM activity WHERE at < ? "
                            "ORDER BY id", [4 * day]).fetchall()
    assert kept == [(ROOM, "motion", 7.0), (FRONT, "door_open", 100.0),
                    (FRONT, "door_closed", 100.0), (BATHROOM, "door_open", 200.0),
                    (BATHROOM, "door_closed", 200.0), ("A4:C1:38:00:00:01", "check_in", day)]
    assert store.activity_since("r1", 4 * day) == [
        (ROOM, "motion", n * 600.0) for n in range(4 * 144, 6 * 144)]


def test_a_sensor_gone_quiet_for_good_does_not_stop_the_forgetting(tmp_path: Path) -> None:
    store, day = Week(tmp_path).building.store, 86_400.0
    store.write(lambda: store.save_activity("r1", FRONT, "door_open", 0.0))  # then removed
    for n in range(1_000):
        store.write(lambda: store.save_activity("r1", ROOM, "motion", 60.0 + n * 600.0))
    with patch.object(welfare_tables, "ACTIVITY_FORGOTTEN", 100):
        forgot = [store.write(lambda: store.forget_activity(1_000 * 600.0 - 2 * day))
                  for _ in range(8)]
    assert forgot == [100] * 7 + [12]  # 712 rows older than two days, all but the door's
    left = store.db.execute("SELECT sensor_mac, at FROM activity ORDER BY id LIMIT 2").fetchall()
    assert left == [(FRONT, 0.0), (ROOM, 60.0 + 712 * 600.0)]


def test_the_running_hub_forgets_old_activity_every_hour(tmp_path: Path) -> None:
    clock = FakeClock(local(1, "00:00"))
    app = build_hub(replace(building_config("/dev/null"), modem=None), clock=clock,
                    backend=VirtualAir().backend, database=tmp_path / "hub.db")
    try:
        store = app.store
        for n in range(10):
            store.write(lambda: store.save_activity("r1", ROOM, "motion", clock.now() - n))
        clock.advance(ACTIVITY_KEPT_S + 3600)
        app.jobs.run_pending()
        assert store.db.execute("SELECT count(*) FROM activity").fetchone()[0] == 1
        assert app.jobs.runs["activity history"] == 1
    finally:
        app.close()


@pytest.mark.parametrize("rule, days, zh, en", [
    ("quiet", ["normal", "normal", "normal", "still"], "王秀英已12小时未检测到活动",
     "no activity seen from 王秀英 for 12 hours"),
    ("door_at_night", ["normal", "normal", "normal", "normal", "wander"],
     "王秀英家大门夜间已打开15分钟", "王秀英's 大门 has been open 15 min at night"),
    ("no_check_in", ["normal"], "王秀英今天12:00前未报平安",
     "王秀英 has not checked in before 12:00 today"),
])
def test_each_rules_check_says_what_happened_in_both_languages(
        tmp_path: Path, rule: str, days: list[str], zh: str, en: str) -> None:
    week = Week(tmp_path, check_in_by="12:00") if rule == "no_check_in" else Week(tmp_path)
    week.live(days, on_step=lambda w: w.take_open())
    store = week.building.store
    said = {}
    for alert in store.alerts():
        raised, detail = store.welfare_check(alert.id) or ("", "")
        said[raised] = (welfare_text(raised, detail, "王秀英", "zh"),
                        welfare_text(raised, detail, "王秀英", "en"))
    assert said[rule] == (zh, en)
