"""Scenarios of the alert core: a press on a watch, through bleak, into the store."""

from __future__ import annotations

import pytest

from edge.domain import AlertState
from edge.errors import AlertError
from tests.building import SimBuilding, make_building


def test_press_raises_one_durable_alert_with_outbox_event(building: SimBuilding) -> None:
    building.air.press(building.mac(0), repeats=4)

    alerts = building.store.open_alerts()
    assert len(alerts) == 1
    assert alerts[0].state is AlertState.RAISED
    assert alerts[0].resident_id == "r1"
    assert alerts[0].press_count == 1
    assert building.events("alert.") == ["alert.raised"]
    assert building.dispatched.states() == ["raised"]


def test_alert_becomes_active_when_cancel_window_passes(building: SimBuilding) -> None:
    building.air.press(building.mac(0))
    building.wait(29)
    assert building.store.open_alerts()[0].state is AlertState.RAISED

    building.wait(2)

    alert = building.store.open_alerts()[0]
    assert alert.state is AlertState.ACTIVE
    assert building.events("alert.") == ["alert.raised", "alert.active"]
    assert building.dispatched.states() == ["raised", "active"]
    assert [c[0] for c in building.store.alert_changes(alert.id)] == ["raised", "active"]


def test_long_press_in_window_cancels(building: SimBuilding) -> None:
    building.air.press(building.mac(1))
    building.wait(5)
    building.air.long_press(building.mac(1))

    assert building.store.open_alerts() == []
    last = building.store.alerts()[0]
    assert last.state is AlertState.CANCELLED
    assert last.closed_by == "李桂兰"
    building.wait(60)
    assert building.dispatched.states() == ["raised", "cancelled"]


def test_long_press_after_window_does_not_cancel(building: SimBuilding) -> None:
    building.air.press(building.mac(0))
    building.wait(31)
    building.air.long_press(building.mac(0))

    assert building.store.open_alerts()[0].state is AlertState.ACTIVE
    assert building.events("alert.")[-1] == "alert.cancel_refused"


def test_no_cancel_window_goes_active_at_once(tmp_path) -> None:
    building = make_building(tmp_path, cancel_window_s=0)
    building.air.press(building.mac(0))
    assert building.store.open_alerts()[0].state is AlertState.ACTIVE
    assert building.dispatched.states() == ["raised", "active"]


def test_second_press_joins_the_open_alert(building: SimBuilding) -> None:
    building.air.press(building.mac(0), repeats=3)
    building.wait(15)
    building.air.press(building.mac(0), repeats=3)

    alerts = building.store.open_alerts()
    assert len(alerts) == 1
    assert alerts[0].press_count == 2
    assert building.events("alert.") == ["alert.raised", "alert.pressed_again"]


def test_repeats_with_new_counters_but_same_packet_make_one_press(building: SimBuilding) -> None:
    watch = building.air.watches[building.mac(0)]
    building.air.press(building.mac(0))
    # The watch re-sends the same press: same packet id, new counter.
    for _ in range(3):
        data = watch.frame([(0x00, watch.packet_id), (0x3A, "press")])
        building.air.emit(watch.mac, data, -60)

    assert building.store.open_alerts()[0].press_count == 1
    assert building.events("alert.") == ["alert.raised"]


def test_each_resident_gets_their_own_alert(building: SimBuilding) -> None:
    building.air.press(building.mac(0))
    building.air.press(building.mac(2))
    assert sorted(a.resident_id for a in building.store.open_alerts()) == ["r1", "r3"]


def test_acknowledge_then_resolve(building: SimBuilding) -> None:
    building.air.press(building.mac(0))
    building.wait(31)
    ref = building.store.open_alerts()[0].ref

    building.hub.acknowledge(ref, "网格员 李娜")
    building.hub.resolve(ref, "网格员 李娜")

    alert = building.store.alert(ref)
    assert alert is not None and alert.state is AlertState.RESOLVED
    assert building.events("alert.")[-2:] == ["alert.acknowledged", "alert.resolved"]
    with pytest.raises(AlertError, match="resolved; it cannot become acknowledged"):
        building.hub.acknowledge(ref, "someone")


def test_new_press_after_close_raises_new_alert(building: SimBuilding) -> None:
    building.air.press(building.mac(0))
    building.air.long_press(building.mac(0))
    building.wait(20)
    building.air.press(building.mac(0))

    assert [a.state.value for a in building.store.alerts()] == ["raised", "cancelled"]


def test_alert_location_uses_fresh_fix_then_home_when_stale(building: SimBuilding) -> None:
    building.air.move(building.mac(0), 31.2304, 121.4737, accuracy_m=7, age_s=30)
    building.air.press(building.mac(0))
    building.wait(31)
    active = building.dispatched.changes[-1].location
    assert active.source == "gps"
    assert active.fix is not None and active.fix.lat == pytest.approx(31.2304)
    assert active.age_s == pytest.approx(61)

    building.air.press(building.mac(1))
    assert building.dispatched.changes[-1].location.source == "home"
    assert building.dispatched.changes[-1].location.address == "幸福里 3号楼 102"


def test_stale_fix_is_reported_as_stale(tmp_path) -> None:
    building = make_building(tmp_path, fix_stale_after_s=600)
    building.air.move(building.mac(0), 31.0, 121.0, age_s=100)
    building.wait(550)
    building.air.press(building.mac(0))
    location = building.dispatched.changes[-1].location
    assert location.source == "gps-stale" and location.stale
    assert location.age_s == pytest.approx(650)


def test_battery_updates_watch_record_and_emits_event_on_change(building: SimBuilding) -> None:
    building.air.battery(building.mac(0), 80)
    building.air.battery(building.mac(0), 80)
    building.air.battery(building.mac(0), 75)

    status = building.store.watch_status(building.mac(0))
    assert status is not None and status["battery"] == 75
    assert building.events("watch.battery") == ["watch.battery", "watch.battery"]


def test_dispatch_failure_leaves_alert_stored(building: SimBuilding) -> None:
    class Broken:
        def alert_changed(self, change: object) -> None:
            raise RuntimeError("modem on fire")

    building.hub.dispatcher = Broken()
    building.air.press(building.mac(0))
    assert len(building.store.open_alerts()) == 1


def test_pull_cord_raises_an_alert_like_a_watch(building: SimBuilding) -> None:
    heard = building.hub.raise_from_input("r2", "GPIO17")
    assert heard is not None and heard.alert is not None
    assert heard.alert.watch_mac == "GPIO17" and heard.alert.resident_id == "r2"
    building.hub.raise_from_input("r2", "GPIO17")  # the cord pulled again: a repeat
    assert building.store.open_alerts()[0].press_count == 1
    building.wait(31)
    assert building.dispatched.changes[-1].location.source == "home"


def test_pull_cord_for_unknown_resident_changes_nothing(building: SimBuilding) -> None:
    assert building.hub.raise_from_input("nobody", "GPIO5") is None
    assert building.store.alerts() == []


def test_on_site_button_takes_every_open_alert(building: SimBuilding) -> None:
    building.air.press(building.mac(0))
    building.air.press(building.mac(1))
    taken = building.hub.acknowledge_open("on site")
    assert sorted(a.state.value for a in taken) == ["acknowledged", "acknowledged"]
    assert building.store.open_alerts() == []


def test_a_battery_level_over_100_is_stored_as_100_and_flagged(building) -> None:  # type: ignore[no-untyped-def]
    building.air.battery(building.mac(0), 250)
    status = building.store.watch_status(building.mac(0))
    assert status is not None and status["battery"] == 100
    events = [e.body for e in building.store.pending_events(100) if e.type == "watch.battery"]
    assert events[-1]["battery"] == 100 and events[-1]["reported"] == 250
