"""Safety rules: nothing trusted by default, bad input changes nothing, restarts lose nothing."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.alerts.gate import Refusal
from edge.clock import FakeClock
from edge.domain import AlertState
from firmware_bridge.ble.bthome import BTHomeKey, encode_frame
from tests.building import SimBuilding, Timing, make_building, make_roster


def state_of(building: SimBuilding) -> tuple[object, ...]:
    store = building.store
    return (
        store.outbox_depth(),
        [(a.uid, a.state, a.press_count) for a in store.alerts()],
        store.db.execute("SELECT mac, last_counter FROM watch_counters ORDER BY mac").fetchall(),
        store.db.execute("SELECT mac, battery FROM watches ORDER BY mac").fetchall(),
    )


def test_replayed_frame_is_refused_and_changes_nothing(building: SimBuilding) -> None:
    building.air.press(building.mac(0))
    building.air.long_press(building.mac(0))
    before = state_of(building)

    building.air.replay(building.mac(0), index=0)

    assert state_of(building) == before
    assert building.hub.gate.counts[Refusal.REPLAY] == 1


def test_same_frame_heard_again_is_a_quiet_duplicate(building: SimBuilding) -> None:
    building.air.press(building.mac(0), repeats=5)
    assert building.hub.gate.counts[Refusal.DUPLICATE] == 4
    assert building.hub.gate.counts[Refusal.REPLAY] == 0


def test_frame_with_wrong_key_is_refused(building: SimBuilding) -> None:
    forged = encode_frame([(0x3A, "press")], mac=building.mac(0),
                          key=BTHomeKey(bytes(16)), counter=10_000)
    before = state_of(building)
    building.air.emit(building.mac(0), forged, -50)
    assert state_of(building) == before
    assert building.hub.gate.counts[Refusal.INVALID] == 1


def test_plaintext_from_keyed_watch_is_a_refused_downgrade(building: SimBuilding) -> None:
    plain = encode_frame([(0x3A, "press")], mac=building.mac(0), key=None)
    building.air.emit(building.mac(0), plain, -50)
    assert building.store.open_alerts() == []
    assert building.hub.gate.counts[Refusal.DOWNGRADE] == 1


def test_foreign_devices_are_dropped_before_decryption(building: SimBuilding) -> None:
    building.air.foreign(200)
    assert building.hub.gate.counts[Refusal.UNREGISTERED] == 200
    assert building.store.outbox_depth() == 0


def test_corrupted_frame_is_refused_then_next_press_works(building: SimBuilding) -> None:
    building.air.corrupt_next()
    building.air.press(building.mac(0))
    assert building.store.open_alerts() == []
    building.air.press(building.mac(0))
    assert len(building.store.open_alerts()) == 1


def test_dropped_frames_are_simply_not_heard(building: SimBuilding) -> None:
    building.air.drop_next(2)
    building.air.press(building.mac(0), repeats=3)
    assert len(building.store.open_alerts()) == 1


@settings(max_examples=300, deadline=None)
@given(garbage=st.binary(max_size=40))
def test_garbage_from_a_registered_mac_never_raises(tmp_path_factory, garbage: bytes) -> None:
    building = _shared_building(tmp_path_factory)
    before = state_of(building)
    assert building.hub.on_advert(building.mac(0), garbage, -40) is None
    assert state_of(building) == before


_BUILDINGS: dict[int, SimBuilding] = {}


def _shared_building(factory: pytest.TempPathFactory) -> SimBuilding:
    key = id(factory)
    if key not in _BUILDINGS:
        _BUILDINGS[key] = make_building(factory.mktemp("garbage"))
    return _BUILDINGS[key]


def test_truncated_frames_are_refused_at_every_length(building: SimBuilding) -> None:
    watch = building.air.watches[building.mac(0)]
    full = watch.frame([(0x00, 1), (0x3A, "press")])
    for length in range(len(full)):
        assert building.hub.on_advert(watch.mac, full[:length], -40) is None
    assert building.store.open_alerts() == []


def test_counters_survive_restart_so_replay_stays_closed(building: SimBuilding) -> None:
    building.air.press(building.mac(0))
    building.air.long_press(building.mac(0))
    building.restart()

    building.air.replay(building.mac(0), index=0)
    building.air.replay(building.mac(0), index=1)

    assert [a.state for a in building.store.alerts()] == [AlertState.CANCELLED]
    assert building.hub.gate.counts[Refusal.REPLAY] == 2


def test_open_alert_resumes_after_crash_in_cancel_window(building: SimBuilding) -> None:
    building.air.press(building.mac(0))
    building.wait(10)
    building.restart()

    reopened = building.store.open_alerts()
    assert [a.state for a in reopened] == [AlertState.RAISED]
    building.wait(15)
    assert building.store.open_alerts()[0].state is AlertState.RAISED
    building.wait(6)
    assert building.store.open_alerts()[0].state is AlertState.ACTIVE


def test_active_alert_is_handed_to_dispatch_again_after_restart(building: SimBuilding) -> None:
    building.air.press(building.mac(0))
    building.wait(31)
    building.restart()
    assert [c.reason for c in building.dispatched.changes] == ["resumed after restart"]
    assert building.dispatched.changes[0].alert.state is AlertState.ACTIVE


def test_wall_clock_jump_does_not_stretch_cancel_window_after_restart(building: SimBuilding) -> None:
    building.air.press(building.mac(0))
    building.clock.jump_wall(-3600)  # NTP sets the clock back an hour
    building.restart()
    building.wait(31)
    assert building.store.open_alerts()[0].state is AlertState.ACTIVE


def test_insecure_watch_is_accepted_and_warned_about(tmp_path, caplog) -> None:
    caplog.set_level(logging.WARNING)
    building = SimBuilding(tmp_path / "hub.db", make_roster(2, insecure=(1,)), FakeClock(),
                           Timing())
    assert "registered as insecure" in caplog.text
    building.air.press(building.mac(1))
    assert building.store.open_alert_for("r2") is not None


def test_outbox_events_have_unique_ids_in_order(building: SimBuilding) -> None:
    building.air.battery(building.mac(0), 50)
    building.air.press(building.mac(0))
    building.wait(31)
    events = building.store.pending_events()
    assert len({e.event_id for e in events}) == len(events)
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    assert events[-1].body["alert"]["ref"] == building.store.open_alerts()[0].ref


def test_failed_write_changes_nothing_and_the_repeat_raises_the_alert(
        building: SimBuilding) -> None:
    building.store.db.execute(
        "CREATE TEMP TRIGGER disk_full BEFORE INSERT ON outbox "
        "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
    watch = building.air.watches[building.mac(0)]
    frame = watch.frame([(0x00, 9), (0x3A, "press")])
    building.air.emit(watch.mac, frame, -60)
    assert building.store.alerts() == []
    assert building.store.db.execute("SELECT count(*) FROM watch_counters").fetchone()[0] == 0

    building.store.db.execute("DROP TRIGGER disk_full")
    building.air.emit(watch.mac, frame, -60)  # the watch repeats the same frame
    assert len(building.store.open_alerts()) == 1
