"""The running hub keeps what start-up made out of the garbage collector's full passes."""

from __future__ import annotations

import asyncio
import gc
from dataclasses import replace

from edge.app import build_hub
from edge.clock import FakeClock
from firmware_bridge.simulators.virtual_air import VirtualAir
from tests.sms_building import building_config


def test_start_up_objects_are_frozen_while_the_hub_runs_and_given_back_when_it_stops(
        tmp_path) -> None:
    """A full collection scans every tracked object; the hub's modules, roster and
    settings never become garbage, and one such pass was seen to hold an SOS for 60 ms.
    While the hub runs they sit in the permanent generation; once it stops, a process
    that goes on (tests, tools) collects them again."""
    config = replace(building_config("/dev/null"), modem=None)
    app = build_hub(config, clock=FakeClock(), backend=VirtualAir().backend,
                    database=tmp_path / "hub.db")
    seen: dict[str, int] = {}

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(app.run(stop))
        await asyncio.sleep(0.2)
        seen["running"] = gc.get_freeze_count()
        stop.set()
        await task
        seen["stopped"] = gc.get_freeze_count()

    try:
        asyncio.run(scenario())
    finally:
        app.close()
        gc.unfreeze()
    assert seen["running"] > 10_000  # the interpreter's and the hub's own objects
    assert seen["stopped"] == 0
