"""The hub's loop sleeps until its next timer and wakes at once for work: the production
hub on the real clock, with the virtual air and an emulated modem."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory

from edge.app import TICK_S
from edge.clock import FakeClock, SystemClock
from edge.config.loader import HubConfig
from edge.config.panel import PanelSection
from edge.domain import AlertState
from edge.sms.texts import SmsStore
from edge.storage.store import Store
from edge.uplink.service import SEND_TELEMETRY_S
from tests.building import mac_for
from tests.mqtt_broker import Broker
from tests.sms_building import DESK, GRID, NEIGHBOUR, SmsBuilding, run_scenario, until
from tests.test_uplink import receiver_for, stored_seqs
from tests.uplink_building import UplinkBuilding

CANCEL_S = 0.4  # the cancel window of these buildings
ON_TIME_S = 0.25  # a timer fires this soon after it is due (the old loop: up to 0.5 s)


class RealTimeBuilding(SmsBuilding):
    """SmsBuilding on the machine's clock, with a short cancel window."""

    def __init__(self, folder: Path, **sms: Any) -> None:
        super().__init__(folder, clock=SystemClock(), **sms)

    def config(self) -> HubConfig:
        config = super().config()
        return replace(config, alerts=replace(config.alerts, cancel_window_s=CANCEL_S))


class RealTimeUplinkBuilding(UplinkBuilding):
    """UplinkBuilding on the machine's clock, with a short cancel window."""

    def __init__(self, folder: Path, broker: Broker) -> None:
        super().__init__(folder, broker, clock=SystemClock())

    def config(self) -> HubConfig:
        config = super().config()
        return replace(config, alerts=replace(config.alerts, cancel_window_s=CANCEL_S))


def play(tmp_path: Path, scenario: Any, **sms: Any) -> RealTimeBuilding:
    return run_scenario(RealTimeBuilding(tmp_path, **sms), scenario)


def state_of(b: SmsBuilding, resident: str = "r1") -> AlertState | None:
    assert b.app is not None
    alerts = [a for a in b.app.store.alerts() if a.resident_id == resident]
    return alerts[-1].state if alerts else None


async def pressed_and_active(b: SmsBuilding) -> float:
    """Press watch 0; seconds from its alert's raising until it was made active, by the
    hub's own clock as it did so (the timer's lateness, not a disk's time to commit nor
    this test's polling)."""
    b.air.press(mac_for(0))
    await until(lambda: state_of(b) is AlertState.ACTIVE, timeout=5)
    assert b.app is not None
    alert = [a for a in b.app.store.alerts() if a.resident_id == "r1"][-1]
    return alert.updated_at - alert.raised_at


def test_with_nothing_to_do_the_loop_sleeps(tmp_path: Path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        assert b.app is not None
        await asyncio.sleep(0.5)  # start-up: the first turns, the modem's first checks
        turns = b.app.turns
        await asyncio.sleep(3.0)
        # Nothing was due in 3 s: no turn (the old loop turned every 0.5 s: 6 times).
        assert b.app.turns - turns == 0
        assert b.app.radio.restarts == 0 and b.app.worker is not None and b.app.worker.ready

    play(tmp_path, scenario)


class PanelBuilding(RealTimeBuilding):
    """RealTimeBuilding with the hub's lights and buzzer on gpiozero's MockFactory."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.pin_factory = MockFactory()

    def config(self) -> HubConfig:
        panel = PanelSection(status_led=5, alert_led=6, buzzer=13, on_site_button=19,
                             night_start="22:00", night_end="07:00")
        return replace(super().config(), panel=panel)


def test_with_a_panel_and_nothing_to_do_the_loop_looks_every_few_seconds(
        tmp_path: Path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        assert b.app is not None and b.app.panel is not None
        await asyncio.sleep(0.5)
        turns = b.app.turns
        await asyncio.sleep(3.0)
        # The panel's lights need no turn while nothing changes (the old loop: 6 turns);
        # one look in CHECK_S (5 s) at most, for a modem fault no event reports.
        assert b.app.turns - turns <= 1
        alert_light = b.pin_factory.pin(6)
        assert not alert_light.state
        elapsed = await pressed_and_active(b)  # a press still goes out at once ...
        assert elapsed < CANCEL_S + ON_TIME_S
        await until(lambda: any(change.state for change in alert_light.states),
                    timeout=1)  # ... and the alert light blinks without waiting for a look

    run_scenario(PanelBuilding(tmp_path), scenario)


def test_a_press_goes_to_responders_as_its_cancel_window_ends(tmp_path: Path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        assert b.app is not None
        await asyncio.sleep(0.3)
        turns = b.app.turns
        took = await pressed_and_active(b)
        assert CANCEL_S <= took < CANCEL_S + ON_TIME_S
        await until(lambda: {DESK, GRID} <= set(b.inbox()), timeout=5)
        # woken by the raise, by the activation and by the texts' bookkeeping; not polling
        assert b.app.turns - turns <= 6

    play(tmp_path, scenario)


async def settled_turns(b: SmsBuilding, timeout: float = 10.0) -> int:
    """The loop's turns once the texts are sent and no turn came for 0.3 s (their delivery
    reports read): from then on the loop has nothing to do until a timer is due."""
    assert b.app is not None
    app = b.app
    await until(lambda: app.sms.queue_depth() == 0, timeout=timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        turns = app.turns
        await asyncio.sleep(0.3)
        if app.turns == turns:
            return turns
    raise AssertionError(f"the loop kept turning for {timeout:.0f} s")


def queued_to(b: SmsBuilding, phone: str) -> bool:
    assert b.app is not None
    return any(row[1] == phone for row in b.app.sms.outgoing())


def test_the_next_tier_is_texted_as_its_wait_ends(tmp_path: Path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        assert b.app is not None
        await pressed_and_active(b)
        await until(lambda: queued_to(b, NEIGHBOUR), timeout=5)
        # When each tier was queued, by the hub's own clock as it queued them: the timer's
        # lateness, not the disk's time to commit them nor this test's polling.
        queued = dict(b.app.store.db.execute(
            "SELECT phone, min(created_at) FROM sms_out GROUP BY phone").fetchall())
        assert 0.95 <= queued[NEIGHBOUR] - queued[DESK] < 1.0 + ON_TIME_S
        await until(lambda: NEIGHBOUR in b.inbox(), timeout=5)

    play(tmp_path, scenario, tier_wait_s=[1.0, 300])


def test_when_a_whole_tier_declines_the_next_is_texted_at_once(tmp_path: Path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        await pressed_and_active(b)
        await until(lambda: {DESK, GRID} <= set(b.inbox()), timeout=5)
        b.reply(GRID, "去不了")
        b.reply(DESK, "sorry, not available")
        started = time.monotonic()
        await until(lambda: NEIGHBOUR in b.inbox(), timeout=5)  # tier 1 waits 300 s
        assert time.monotonic() - started < 3.0

    play(tmp_path, scenario, tier_wait_s=[300, 300])


def test_a_text_queued_by_another_process_goes_out_at_once(tmp_path: Path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        await asyncio.sleep(0.5)
        other = Store.open(b.database)  # `edge-hub test-alarm` has its own connection
        try:
            with other.transaction():
                SmsStore(other).enqueue(DESK, "test", "测试短信", time.time())
        finally:
            other.close()
        started = time.monotonic()
        await until(lambda: DESK in b.inbox(), timeout=5)
        assert time.monotonic() - started < 1.5  # the worker used to look every 1 s

    play(tmp_path, scenario)


def test_an_activation_the_disk_refused_is_tried_again(tmp_path: Path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        assert b.app is not None
        other = sqlite3.connect(b.database, timeout=1)
        b.air.press(mac_for(0))
        await until(lambda: state_of(b) is AlertState.RAISED, timeout=5)
        other.execute("BEGIN IMMEDIATE")  # another writer holds the database: locked
        await asyncio.sleep(CANCEL_S + 5.5)  # the hub waits 5 s for a lock, then gives up
        assert state_of(b) is AlertState.RAISED
        turns = b.app.turns
        other.rollback()
        other.close()
        released = time.monotonic()
        await until(lambda: state_of(b) is AlertState.ACTIVE, timeout=5)
        assert time.monotonic() - released < 5 + TICK_S + ON_TIME_S  # at most one more wait
        assert b.app.turns - turns <= 4  # tried again TICK_S apart, not in a spin
        await until(lambda: {DESK, GRID} <= set(b.inbox()), timeout=5)

    play(tmp_path, scenario)


def test_telemetry_reaches_the_server_within_its_gathering_and_a_lost_broker_means_sms_at_once(
        tmp_path: Path, broker: Broker) -> None:
    receiver = receiver_for(broker, tmp_path)

    async def scenario(b: UplinkBuilding) -> None:
        assert b.app is not None
        await b.connected()
        await asyncio.sleep(1.0)  # the first events (the hub's status) are through
        sent = time.monotonic()
        b.air.battery(mac_for(0), 42)  # telemetry: gathered, sent SEND_TELEMETRY_S later
        await asyncio.sleep(0.01)  # written at the end of the loop's turn
        seqs = [e.seq for e in b.app.store.all_events() if e.type == "watch.battery"]
        assert seqs
        await until(lambda: seqs[0] in stored_seqs(receiver), timeout=5)
        assert time.monotonic() - sent < SEND_TELEMETRY_S + 1.0  # + the server's storing
        receiver.stop()  # nobody confirms alerts now: the hub waits for a receipt
        b.air.press(mac_for(0))
        await until(lambda: state_of(b) is AlertState.ACTIVE, timeout=5)
        await asyncio.sleep(0.5)
        assert DESK not in b.inbox()  # waits for the server's receipt (confirm_timeout_s 20)
        b.relay.cut(block=True)
        cut = time.monotonic()
        await until(lambda: DESK in b.inbox(), timeout=10)  # the lost broker wakes the loop
        assert time.monotonic() - cut < 2.5  # paho notices the cut, then SMS at once

    try:
        building = RealTimeUplinkBuilding(tmp_path, broker)
        run_scenario(building, scenario)
    finally:
        receiver.stop()


def test_work_still_due_after_a_turn_is_tried_again_tick_s_later(tmp_path: Path) -> None:
    b = SmsBuilding(tmp_path)
    try:
        async def scenario() -> None:
            await b.start()
            assert b.app is not None and isinstance(b.clock, FakeClock)
            b.air.press(mac_for(0))
            await until(lambda: state_of(b) is AlertState.RAISED, timeout=5)
            now = b.clock.monotonic()
            assert b.app.next_due() == now + 10  # the cancel window's end
            b.clock.advance(11)
            assert b.app.next_due() == b.clock.monotonic() + TICK_S  # overdue: at once
            assert b.app.next_due(failed=True) == b.clock.monotonic() + TICK_S
            await b.stop()

        asyncio.run(scenario())
    finally:
        b.close()


def test_a_wall_clock_stepped_by_ntp_makes_a_sleeping_loop_look_at_once(tmp_path: Path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        assert b.app is not None and isinstance(b.clock, FakeClock)
        b.air.press(mac_for(0))
        await until(lambda: state_of(b) is AlertState.RAISED, timeout=5)
        b.clock.advance(11)  # the cancel window passes; the first tier is texted
        await until(lambda: queued_to(b, GRID), timeout=5)
        turns = await settled_turns(b)  # the texts sent and their reports read
        await asyncio.sleep(1.0)
        assert b.app.turns == turns and not queued_to(b, NEIGHBOUR)  # asleep: 120 s to wait
        b.clock.jump_wall(200)  # NTP sets the clock: the tier's wait, kept in wall time, is over
        await until(lambda: queued_to(b, NEIGHBOUR), timeout=2)

    run_scenario(SmsBuilding(tmp_path), scenario)


def test_a_part_that_cannot_say_when_it_is_due_never_stops_the_hub(tmp_path: Path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        assert b.app is not None and b._task is not None
        db = b.app.store.db
        db.execute("ALTER TABLE escalations RENAME TO escalations_away")  # the SD card fails
        b.app.wakeup.set()
        await asyncio.sleep(1.5)  # turns in which the responders cannot say when they are due
        assert not b._task.done(), "the loop goes on: radio, texts and uplink keep running"
        db.execute("ALTER TABLE escalations_away RENAME TO escalations")  # the card is back
        b.air.press(mac_for(0))
        await until(lambda: state_of(b) is AlertState.RAISED, timeout=5)
        b.clock.advance(11)
        await until(lambda: queued_to(b, GRID), timeout=5)

    run_scenario(SmsBuilding(tmp_path), scenario)
