"""A battery change restarts a watch's counter: its frames are still heard, copies are not."""

from __future__ import annotations

import json
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


def test_a_new_battery_that_sends_its_first_heartbeats_again_bit_for_bit_is_a_restart(
        building: SimBuilding) -> None:
    mac = building.mac(0)
    for _ in range(TELEMETRY_FRAMES_KEPT + 40):  # a full battery for a while
        building.air.battery(mac, 100)
    building.store.prune_frame_history()
    building.air.battery_swap(mac, counter=1, packet_id=0)  # counter and packet ids again
    first = building.air.battery(mac, 100)  # the very bytes of its first heartbeat ever
    assert first == building.air.watches[mac].sent[0]
    assert [e["counter"] for e in restarted_events(building)] == [1]
    assert building.hub.gate.counts[Refusal.REPLAY] == 0


def heard_for_a_while(building: SimBuilding, mac: str, frames: int) -> None:
    """A watch counting from 5000, then `frames` heartbeats with the latest kept."""
    building.air.watches[mac].counter = 5000
    for n in range(frames):
        building.air.battery(mac, 90 - n % 2)
    building.store.prune_frame_history()


def test_a_copy_of_telemetry_older_than_the_kept_history_is_refused_not_a_restart(
        building: SimBuilding) -> None:
    mac = building.mac(0)
    heard_for_a_while(building, mac, TELEMETRY_FRAMES_KEPT + 40)
    for index in range(0, 40, 5):  # eight heartbeats no longer kept, copied from a recording
        building.air.replay(mac, index=index)
        building.wait(10)
    assert building.hub.gate.counts[Refusal.REPLAY] == 8
    assert restarted_events(building) == []
    last = building.store.db.execute(
        "SELECT last_counter FROM watch_counters WHERE mac = ?", [mac]).fetchone()[0]
    assert last == 5000 + TELEMETRY_FRAMES_KEPT + 39
    building.air.battery(mac, 80)  # the watch itself goes on as before
    assert building.hub.gate.counts["accepted"] == TELEMETRY_FRAMES_KEPT + 41


def test_a_restart_heard_only_after_its_first_frames_is_taken_once_the_watch_counts_on(
        building: SimBuilding) -> None:
    mac = building.mac(0)
    heard_for_a_while(building, mac, 10)
    building.air.battery_swap(mac, counter=3000)  # the first 3,000 frames went unheard
    for _ in range(3):
        building.air.battery(mac, 99)
        building.wait(30)
    assert restarted_events(building) == []  # not yet: it could have been copies
    building.air.battery(mac, 98)  # 90 s of counting on from 3000, nothing above 5009
    assert restarted_events(building) == [
        {"watch": mac, "resident": "r1", "previous_counter": 5009, "counter": 3003}]
    building.air.battery(mac, 97)
    assert building.hub.gate.counts["accepted"] == 12


def test_copies_between_the_watchs_own_frames_never_make_a_restart(
        building: SimBuilding) -> None:
    mac = building.mac(0)
    heard_for_a_while(building, mac, TELEMETRY_FRAMES_KEPT + 40)
    for index in range(10):  # a copy, then the watch's own next heartbeat, 30 s apart
        building.air.replay(mac, index=index)
        building.wait(30)
        building.air.battery(mac, 70)
        building.wait(30)
    assert restarted_events(building) == []
    assert building.hub.gate.counts[Refusal.REPLAY] == 10


def test_one_copy_of_a_high_counter_does_not_hold_back_a_restart_heard_late(
        building: SimBuilding) -> None:
    mac = building.mac(0)
    heard_for_a_while(building, mac, TELEMETRY_FRAMES_KEPT + 40)
    building.air.replay(mac, index=39)  # a copy from near the top, heard first
    building.air.battery_swap(mac, counter=3000)
    for _ in range(3):
        building.wait(30)
        building.air.battery(mac, 99)
    assert [e["counter"] for e in restarted_events(building)] == [3002]


def test_a_press_from_a_restart_heard_only_after_its_first_frames_raises_the_alert_at_once(
        building: SimBuilding) -> None:
    mac = building.mac(0)
    heard_for_a_while(building, mac, 10)
    building.air.battery_swap(mac, counter=3000)
    building.air.press(mac)
    assert building.store.open_alert_for("r1") is not None
    assert [e["counter"] for e in restarted_events(building)] == [3000]


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


def test_the_installer_sees_a_restart_in_edge_hub_status(building: SimBuilding, capsys) -> None:
    from edge.tools.cli import main

    mac = building.mac(0)
    building.air.battery(mac, 90)
    building.air.battery_swap(mac, counter=1)
    building.air.battery(mac, 99)
    assert main(["status", "--db", str(building.path), "--json"]) == 0
    watch = next(w for w in json.loads(capsys.readouterr().out)["watches"] if w["mac"] == mac)
    assert watch["counter_restarts"] == 1 and watch["counter"] == 1
    assert main(["status", "--db", str(building.path)]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if mac in line)
    assert f"(restarted {watch['counter_restarted']})" in line
