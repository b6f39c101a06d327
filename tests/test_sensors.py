"""Activity sensors (BTHome motion and door/window): admitted by the same gate as watches,
stored as activity, never an SOS, and supervised like watches."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from edge.alerts.gate import Refusal
from edge.clock import FakeClock
from edge.config.supervision import SupervisionSection
from edge.domain import Sensor, SensorKind
from edge.sms.texts import SmsStore
from edge.supervision.checks import Supervisor
from edge.supervision.jobs import Jobs
from firmware_bridge.simulators.virtual_air import OBJ_BUTTON, OBJ_PACKET_ID
from tests.building import SimBuilding, Timing, key_for, make_roster

MOTION = "B0:C7:DE:00:00:01"
DOOR = "B0:C7:DE:00:00:02"


@pytest.fixture
def home(tmp_path: Path) -> SimBuilding:
    sensors = (Sensor(MOTION, "r1", SensorKind.MOTION, "卧室", key_for(40)),
               Sensor(DOOR, "r1", SensorKind.DOOR, "卫生间门", key_for(41)))
    roster = replace(make_roster(3), sensors=sensors)
    return SimBuilding(tmp_path / "hub.db", roster, FakeClock(), Timing())


def activity(home: SimBuilding) -> list[tuple[str, str, str]]:
    home.store.flush_telemetry()
    rows = home.store.db.execute("SELECT resident_id, sensor_mac, kind FROM activity "
                                 "ORDER BY id").fetchall()
    return [tuple(row) for row in rows]


def test_motion_and_door_frames_are_stored_as_the_residents_activity(home: SimBuilding) -> None:
    home.air.motion(MOTION)
    home.clock.advance(60)
    home.air.door(DOOR, True)
    home.air.door(DOOR, False)
    assert activity(home) == [("r1", MOTION, "motion"), ("r1", DOOR, "door_open"),
                              ("r1", DOOR, "door_closed")]
    at = [row[0] for row in home.store.db.execute("SELECT at FROM activity ORDER BY id")]
    assert at[1] - at[0] == 60
    assert home.store.activity_since("r1", at[1]) == [
        (DOOR, "door_open", at[1]), (DOOR, "door_closed", at[2])]
    assert (home.store.watch_status(MOTION) or {})["battery"] == 90
    assert home.store.open_alerts() == []


def test_opening_and_occupancy_objects_are_activity_too(home: SimBuilding) -> None:
    """A Shelly BLU Door/Window may send opening (0x11) rather than window (0x2D), and a
    presence sensor occupancy (0x23): the same activity; a cleared occupancy is none."""
    door, motion = home.air.watches[DOOR], home.air.watches[MOTION]
    for device, objects in ((door, [(0x11, True)]), (door, [(0x11, False)]),
                            (motion, [(0x23, True)]), (motion, [(0x23, False)])):
        device.packet_id = (device.packet_id + 1) % 256
        home.air.emit(device.mac, device.frame([(OBJ_PACKET_ID, device.packet_id),
                                                *objects]), -60)
    assert activity(home) == [("r1", DOOR, "door_open"), ("r1", DOOR, "door_closed"),
                              ("r1", MOTION, "motion")]


def test_a_sensors_frame_without_encryption_is_refused_as_a_downgrade(
        home: SimBuilding) -> None:
    door = home.air.watches[DOOR]
    door.key = None  # someone sends the sensor's MAC in the clear
    home.air.door(DOOR, True)
    assert home.hub.gate.counts[Refusal.DOWNGRADE] == 1
    assert activity(home) == []


def test_a_sensor_never_raises_an_sos_even_with_a_button_object(home: SimBuilding) -> None:
    device = home.air.watches[MOTION]
    home.air.emit(MOTION, device.frame([(OBJ_PACKET_ID, 9), (OBJ_BUTTON, "press")]), -60)
    assert home.store.open_alerts() == []
    assert home.hub.gate.counts["accepted"] == 1


def test_unregistered_or_wrongly_keyed_sensors_are_refused(home: SimBuilding) -> None:
    stranger = home.air.add_watch("B0:C7:DE:00:00:99", key_for(42))
    home.air.motion(stranger.mac)
    home.air.watches[DOOR].key = key_for(43)  # someone else's key
    home.air.door(DOOR, True)
    assert home.hub.gate.counts[Refusal.UNREGISTERED] == 1
    assert home.hub.gate.counts[Refusal.INVALID] == 1
    assert activity(home) == []


def test_a_replayed_sensor_frame_is_refused_also_after_a_restart(home: SimBuilding) -> None:
    home.air.door(DOOR, True)
    home.air.door(DOOR, False)
    home.clock.advance(60)
    home.air.replay(DOOR, index=0)  # someone nearby replays "door opened"
    assert home.hub.gate.counts[Refusal.REPLAY] == 1
    home.restart()
    home.air.replay(DOOR, index=1)
    assert home.hub.gate.counts[Refusal.REPLAY] == 1  # the new process's gate
    assert activity(home) == [("r1", DOOR, "door_open"), ("r1", DOOR, "door_closed")]


def test_a_sensors_counter_restart_is_accepted_and_reported(home: SimBuilding) -> None:
    for _ in range(3):
        home.air.motion(MOTION)
    home.air.battery_swap(MOTION, counter=1)
    home.air.motion(MOTION)
    restarts = [e.body for e in home.store.pending_events(1000)
                if e.type == "watch.counter_restarted"]
    assert restarts == [{"watch": MOTION, "resident": "r1", "previous_counter": 3,
                         "counter": 1}]
    assert len(activity(home)) == 4
    home.air.replay(MOTION, index=0)  # counter 1 of before the restart: a copy
    assert home.hub.gate.counts[Refusal.REPLAY] == 1


def test_a_silent_sensor_and_its_low_battery_go_to_the_duty_desk(home: SimBuilding) -> None:
    supervisor = Supervisor(home.store, SmsStore(home.store), home.clock,
                            SupervisionSection(sensor_silent_after_s=3600.0), uplink_connected=lambda: True, modem_check=lambda: None,
                            mains_present=lambda: True)
    jobs = Jobs(home.clock)
    supervisor.register(jobs)
    home.air.watches[MOTION].battery = 12
    home.air.motion(MOTION)
    for _ in range(37):  # an hour and a bit: the door sensor stays silent
        home.clock.advance(100)
        for mac in (*(w.mac for w in home.roster.watches), MOTION):
            home.air.battery(mac, 12 if mac == MOTION else 80)
        jobs.run_pending()
    texts = [text for _, phone, kind, _, text in SmsStore(home.store).outgoing()
             if kind == "notice"]
    assert texts == ["【设备提醒】王秀英（101室）的卫生间门传感器已1小时没有信号，请检查。"]
    low = [e.body for e in home.store.pending_events(10_000) if e.type == "watch.battery_low"]
    assert [(e["watch"], e["battery"]) for e in low] == [(MOTION, 12)]



def test_a_quiet_door_sensor_is_reported_silent_only_after_a_day(home: SimBuilding) -> None:
    supervisor = Supervisor(home.store, SmsStore(home.store), home.clock, SupervisionSection(),
                            uplink_connected=lambda: True, modem_check=lambda: None,
                            mains_present=lambda: True)
    jobs = Jobs(home.clock)
    supervisor.register(jobs)
    home.air.door(DOOR, True)
    home.air.motion(MOTION)

    def silent() -> list[str]:
        return [e.body["watch"] for e in home.store.pending_events(10_000)
                if e.type == "watch.silent"]
    for hour in range(25):
        home.clock.advance(3600)
        for mac in (*(w.mac for w in home.roster.watches), MOTION):
            home.air.battery(mac, 80)
        jobs.run_pending()
        if hour == 22:
            assert silent() == []  # a door nobody opened since yesterday is no fault
    assert silent() == [DOOR]
