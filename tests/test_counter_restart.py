"""A battery change restarts a watch's counter: its frames are still heard, copies are not."""

from __future__ import annotations

import logging

import pytest

from edge.alerts.gate import Refusal
from edge.domain import AlertState
from edge.storage.roster import TELEMETRY_FRAMES_KEPT
from tests.building import SimBuilding


def restarted_events(building: SimBuilding) -> list[dict]:
    return [e.body for e in building.store.pending_events(10_000)
            if e.type == "watch.counter_restarted"]


def test_an_sos_after_a_battery_change_raises_an_alert_and_the_restart_is_reported(
        building: SimBuilding) -> None:
    mac = building.mac(0)
    for percent in (90, 89, 88):
        building.air.battery(mac, percent)
    building.air.battery_swap(mac, counter=1)

    building.air.press(mac, repeats=3)

    alert = building.store.open_alert_for("r1")
    assert alert is not None and alert.state is AlertState.RAISED
    assert restarted_events(building) == [
        {"watch": mac, "resident": "r1", "previous_counter": 3, "counter": 1}]
    assert building.hub.gate.counts[Refusal.DUPLICATE] == 2  # the press repeated in its burst
    assert building.hub.gate.counts[Refusal.REPLAY] == 0
    row = building.store.db.execute(
        "SELECT last_counter, old_high, restarts FROM watch_counters WHERE mac = ?",
        [mac]).fetchone()
    assert tuple(row) == (1, 3, 1)


def test_the_watch_goes_on_counting_after_its_restart(building: SimBuilding) -> None:
    mac = building.mac(0)
    building.air.press(mac)
    building.air.long_press(mac)
    building.air.battery_swap(mac, counter=1)
    for percent in range(80, 70, -1):
        building.air.battery(mac, percent)
    assert building.hub.gate.counts["accepted"] == 12
    assert len(restarted_events(building)) == 1
    assert building.hub.gate.counts[Refusal.REPLAY] == 0


@pytest.mark.parametrize("swap_first", [False, True])
def test_an_exact_copy_of_an_accepted_frame_is_a_replay_before_or_after_a_restart(
        building: SimBuilding, swap_first: bool, caplog: pytest.LogCaptureFixture) -> None:
    mac = building.mac(0)
    building.air.press(mac)
    building.air.long_press(mac)  # cancelled within the window
    building.air.battery(mac, 80)
    if swap_first:
        building.air.battery_swap(mac, counter=1)
        building.air.battery(mac, 79)  # the watch is heard after its new battery
    before = [(a.uid, a.state) for a in building.store.alerts()]
    caplog.set_level(logging.WARNING)

    building.air.replay(mac, index=0)  # the old SOS frame, recorded by someone nearby

    assert [(a.uid, a.state) for a in building.store.alerts()] == before
    assert building.hub.gate.counts[Refusal.REPLAY] == 1
    assert "Security event" in caplog.text and "replaying recorded frames" in caplog.text


def test_after_a_restart_old_frames_above_the_new_counter_stay_refused_across_a_restart(
        building: SimBuilding) -> None:
    mac = building.mac(0)
    for percent in (90, 89, 88, 87, 86):
        building.air.battery(mac, percent)
    building.air.press(mac)  # counter 6
    building.air.long_press(mac)
    building.air.battery_swap(mac, counter=1)
    building.air.battery(mac, 99)  # counter 1: a restart
    building.restart()  # the hub restarts: the restart and the history are stored

    building.air.replay(mac, index=5)  # the old SOS at counter 6, above the new counter 1

    assert building.store.open_alert_for("r1") is None
    assert building.hub.gate.counts[Refusal.REPLAY] == 1
    building.air.press(mac)  # the resident's real press after all that
    assert building.store.open_alert_for("r1") is not None


def test_the_same_frame_within_a_burst_is_a_duplicate_and_later_a_replay(
        building: SimBuilding) -> None:
    mac = building.mac(0)
    building.air.battery(mac, 90)
    building.air.replay(mac, index=0)
    assert building.hub.gate.counts[Refusal.DUPLICATE] == 1
    building.wait(60)
    building.air.replay(mac, index=0)
    assert building.hub.gate.counts[Refusal.REPLAY] == 1


def test_holding_the_button_raises_an_sos(building: SimBuilding) -> None:
    building.air.press(building.mac(0), "hold_press")
    assert building.store.open_alert_for("r1") is not None


def test_a_long_press_with_nothing_open_raises_an_sos_and_inside_the_window_cancels(
        building: SimBuilding) -> None:
    mac = building.mac(0)
    building.air.long_press(mac)
    alert = building.store.open_alert_for("r1")
    assert alert is not None and alert.state is AlertState.RAISED
    building.wait(5)
    building.air.long_press(mac)
    assert building.store.alert(alert.uid).state is AlertState.CANCELLED  # type: ignore[union-attr]


def test_a_long_press_after_the_window_neither_cancels_nor_raises_again(
        building: SimBuilding) -> None:
    mac = building.mac(0)
    building.air.press(mac)
    building.wait(31)
    building.air.long_press(mac)
    alerts = building.store.alerts()
    assert [a.state for a in alerts] == [AlertState.ACTIVE]
    assert "alert.cancel_refused" in building.events("alert.")


def test_the_history_keeps_every_button_frame_and_the_latest_telemetry(
        building: SimBuilding) -> None:
    mac = building.mac(0)
    building.air.press(mac)
    building.air.long_press(mac)
    for n in range(TELEMETRY_FRAMES_KEPT + 40):
        building.air.battery(mac, 50 + n % 40)
    assert building.store.prune_frame_history() == 40
    rows = building.store.db.execute(
        "SELECT press, count(*) FROM watch_frames WHERE mac = ? GROUP BY press", [mac])
    assert dict(rows.fetchall()) == {0: TELEMETRY_FRAMES_KEPT, 1: 2}
    building.air.battery_swap(mac, counter=1)
    building.air.battery(mac, 60)
    building.air.replay(mac, index=0)  # the press, older than any kept telemetry
    assert building.hub.gate.counts[Refusal.REPLAY] == 1


def test_the_duty_desk_is_texted_once_when_a_watch_restarts_its_counter(tmp_path) -> None:
    from tests.building import make_building
    from tests.test_supervision import Site

    site = Site(make_building(tmp_path))
    mac = site.building.mac(0)
    site.building.air.battery(mac, 90)
    site.building.air.battery_swap(mac, counter=1)
    site.building.air.battery(mac, 99)
    site.wait(120)
    texts = [t for t in site.texts() if "计数器已重新开始" in t]
    assert len(texts) == 1 and "王秀英" in texts[0]
    site.restart()
    site.wait(120)
    assert len([t for t in site.texts() if "计数器已重新开始" in t]) == 1


def test_a_press_identical_to_an_old_one_after_a_battery_change_reaches_the_duty_desk(
        tmp_path) -> None:
    """A watch that starts its counter and its packet ids again sends, for its first
    press, the very bytes of its first press ever: refused as a copy, so a person is asked
    to check (a replay and this press cannot be told apart by the hub)."""
    from tests.building import make_building
    from tests.test_supervision import Site

    site = Site(make_building(tmp_path))
    site.supervisor.replayed_sos = site.building.hub.refusals.take_replayed_sos
    mac = site.building.mac(0)
    first = site.building.air.press(mac)  # packet 1, counter 1
    site.building.air.long_press(mac)
    site.building.air.battery_swap(mac, counter=1, packet_id=0)
    again = site.building.air.press(mac)
    assert again == first and len(site.building.store.alerts()) == 1  # refused
    site.wait(60)
    asked = [t for t in site.texts() if "安全提醒" in t]
    assert len(asked) == 1 and "王秀英" in asked[0]
    assert site.events("security.sos_replayed")[0]["copies"] == 1
    site.building.air.press(mac)  # the resident presses again: a new frame, heard
    assert site.building.store.open_alert_for("r1") is not None
