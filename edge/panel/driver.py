"""The hub's panel in the running app: buttons and cords into the hub, state onto lights."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from edge.alerts.dispatch import AlertChange
from edge.alerts.hub import Hub
from edge.clock import Clock
from edge.config.panel import PanelSection
from edge.domain import AlertState
from edge.storage.store import ALERT_PRIORITY
from edge.uplink.service import LoopBridge
from firmware_bridge.panel.gpio_panel import GpioPanel
from firmware_bridge.panel.policy import PanelState

_log = logging.getLogger("edge.panel")
# At most this long between two looks at the hub's state: a modem fault, which no event
# reports to the loop, shows on the status light within it (all else wakes the loop).
CHECK_S = 5.0


class HubPanel:
    """Wires a GpioPanel to the hub; gpiozero's callbacks reach the loop through a bridge."""

    def __init__(self, section: PanelSection, hub: Hub, clock: Clock, timezone: str,
                 pin_factory: Any = None) -> None:
        self.hub = hub
        self.clock = clock
        self.zone = ZoneInfo(timezone)
        self.bridge = LoopBridge()
        self.online = lambda: True
        self.fault = lambda: False
        self.gpio = GpioPanel(
            section, pin_factory, on_site=self._on_site, pull_cord=self._pull_cord,
            test=self._test, battery_low_changed=self._battery_low, call=self._call)

    def _call(self, fn: Any, *args: Any) -> None:
        if self.bridge.loop is None:
            fn(*args)  # before the loop runs (tests, start-up)
        else:
            self.bridge.call(fn, *args)

    def _on_site(self) -> None:
        taken = self.hub.acknowledge_open("on site (hub button)")
        _log.warning("On-site button pressed: %d open alert(s) taken.", len(taken))

    def _pull_cord(self, resident_id: str, source: str) -> None:
        self.hub.raise_from_input(resident_id, source)

    def _test(self) -> None:
        store = self.hub.store
        with store.transaction():
            store.append_event("hub.test", self.clock.now(),
                               {"hub": self.hub.hub_id, "requested_by": "test button"},
                               ALERT_PRIORITY)
        _log.warning("Test button pressed: a test event goes to the server; lights and buzzer "
                     "show the hub's state.")

    def _battery_low(self, low: bool) -> None:
        """The UPS says the hub's own battery is low (or fine again): tell the server."""
        kind = "hub.battery_low" if low else "hub.battery_ok"
        store = self.hub.store
        with store.transaction():
            store.append_event(kind, self.clock.now(), {"hub": self.hub.hub_id}, ALERT_PRIORITY)
        if low:
            _log.error("The hub's own battery is low: mains power must come back soon or the "
                       "hub will stop. Alerts keep working until then.")
        else:
            _log.warning("The hub's battery is no longer low.")

    def mains_present(self) -> bool | None:
        return self.gpio.mains_good

    def alert_changed(self, change: AlertChange) -> None:
        """Dispatcher: chirp when an SOS arrives."""
        if change.alert.state is AlertState.RAISED and change.previous is None:
            self.gpio.sos_received()

    def next_due(self, now: float) -> float:
        """When the panel must look again (monotonic): a chirp's end, the quiet night's start
        or end, or CHECK_S at most."""
        local = datetime.fromtimestamp(self.clock.now(), self.zone).time()
        return now + min(self.gpio.changes_in_s(local), CHECK_S)

    def tick(self) -> None:
        """Show the hub's state; call every tick (the alert sound resumes after a chirp)."""
        state = PanelState(online=self.online(), alert_open=bool(self.hub.store.open_alerts()),
                           fault=self.fault())
        self.gpio.show(state, datetime.fromtimestamp(self.clock.now(), self.zone).time())

    def close(self) -> None:
        self.gpio.close()
