"""Composition: one function builds the whole hub from its configuration."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from bleak.backends.scanner import BaseBleakScanner

from edge.clock import Clock, SystemClock
from edge.config import HubConfig
from edge.dispatch import Dispatcher
from edge.hub import Hub
from edge.store import Store
from firmware_bridge.bleak_radio import BleakRadio

TICK_S = 0.5


@dataclass(slots=True)
class HubApp:
    """The running parts of one hub, wired together."""

    config: HubConfig
    store: Store
    hub: Hub
    radio: BleakRadio
    clock: Clock

    async def run(self, stop: asyncio.Event) -> None:
        """Resume open alerts, scan and keep time until `stop` is set."""
        self.hub.start()
        radio = asyncio.create_task(self.radio.run(stop), name="radio")
        try:
            while not stop.is_set():
                self._tick()
                try:
                    await asyncio.wait_for(stop.wait(), TICK_S)
                except TimeoutError:
                    pass
        finally:
            stop.set()
            await radio

    def _tick(self) -> None:
        try:
            self.hub.tick()
        except Exception:  # a failing tick is logged and retried on the next one
            logging.getLogger("edge.hub").exception("Alert timer failed; retrying.")

    def close(self) -> None:
        self.store.close()


def build_hub(
    config: HubConfig, *, clock: Clock | None = None,
    backend: type[BaseBleakScanner] | None = None, database: Path | None = None,
    dispatcher: Dispatcher | None = None,
) -> HubApp:
    """Open the store, load the roster from the configuration and wire hub and radio."""
    clock = clock or SystemClock()
    store = Store.open(database or config.hub.database)
    store.apply_roster(config.roster)
    hub = Hub(config.hub.id, store, clock, config.alerts, dispatcher)
    radio = BleakRadio(
        hub.on_advert, adapter=config.radio.adapter, scanning=config.radio.scanning,
        watchdog_s=config.radio.watchdog_s, backoff_max_s=config.radio.backoff_max_s,
        clock=clock, backend=backend,
    )
    return HubApp(config, store, hub, radio, clock)
