"""A queued SOS goes out within 10 s of the modem being usable again, whatever it had.

Real time here: the worker polls a modem that cannot send every few seconds in the first
minute of a fault (edge.sms.retry), and these tests hold it to that on the emulator.
"""

from __future__ import annotations

import dataclasses
import time

import pytest

from edge.clock import SystemClock
from edge.config.loader import HubConfig
from tests.building import mac_for
from tests.sms_building import DESK, GRID, SON, SmsBuilding, run_scenario, until

USABLE_TO_SENT_S = 10.0


class RealTimeBuilding(SmsBuilding):
    """The SMS building on the machine's clock, with no cancel window: a press goes out
    at once and every wait is a real one."""

    def __init__(self, folder) -> None:  # type: ignore[no-untyped-def]
        super().__init__(folder)
        self.clock = SystemClock()  # type: ignore[assignment]

    def config(self) -> HubConfig:
        config = super().config()
        return dataclasses.replace(config, alerts=dataclasses.replace(config.alerts,
                                                                      cancel_window_s=0))

    async def advance(self, seconds: float) -> None:
        """Nothing to move: time passes by itself."""


def sos_texts(b: SmsBuilding) -> set[str]:
    """Who has the SOS text (in Chinese it asks them to reply 1)."""
    return {phone for phone, texts in b.inbox().items() if any("回复1" in t for t in texts)}


def test_two_sim_errors_on_a_send_delay_the_sos_by_seconds_not_a_minute(tmp_path) -> None:
    started: list[float] = []

    async def scenario(b: SmsBuilding) -> None:
        b.modem.fail_next("CMGS", cme=10, count=2)  # "SIM not inserted", then fine again
        b.air.press(mac_for(0))
        started.append(time.monotonic())
        await b.advance(11)
        await until(lambda: sos_texts(b) == {DESK, GRID, SON}, timeout=USABLE_TO_SENT_S)

    b = run_scenario(RealTimeBuilding(tmp_path), scenario)
    assert b.modem.submitted_times[0] - started[0] < USABLE_TO_SENT_S


@pytest.mark.parametrize("sim", ["NOT INSERTED", "SIM PUK"])
def test_a_short_sim_fault_holds_the_sos_only_until_the_sim_is_back(tmp_path, sim: str) -> None:
    back: list[float] = []

    async def scenario(b: SmsBuilding) -> None:
        b.modem.sim = sim
        b.air.press(mac_for(0))
        await b.advance(11)
        await until(lambda: b.app is not None and b.app.worker is not None
                    and not b.app.worker.ready, timeout=10)
        await until(lambda: time.monotonic() - faulty_from >= 4, timeout=10)  # a short fault
        assert b.inbox() == {}
        b.modem.sim = "READY"
        back.append(time.monotonic())
        await until(lambda: sos_texts(b) == {DESK, GRID, SON}, timeout=USABLE_TO_SENT_S)

    faulty_from = time.monotonic()
    b = run_scenario(RealTimeBuilding(tmp_path), scenario)
    assert b.modem.submitted_times[0] - back[0] < USABLE_TO_SENT_S


def test_a_modem_that_ignores_five_commands_sends_the_sos_soon_after(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        before = len(b.modem.commands)
        b.modem.stall_next(5)
        b.air.press(mac_for(0))
        await b.advance(11)
        await until(lambda: sos_texts(b) == {DESK, GRID, SON}, timeout=60)
        stalled = b.modem.command_times[before + 4]  # the fifth line it ignored
        assert b.modem.submitted_times[0] - stalled < USABLE_TO_SENT_S

    run_scenario(RealTimeBuilding(tmp_path), scenario)
