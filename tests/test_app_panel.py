"""The panel and systemd notifications in the running app (build_hub, MockFactory)."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace

from gpiozero.pins.mock import MockFactory

from edge.app import build_hub
from edge.clock import FakeClock
from edge.config.panel import PanelSection, PullCordEntry
from edge.domain import AlertState
from edge.supervision.systemd_notify import SystemdNotifier
from firmware_bridge.simulators.virtual_air import VirtualAir
from tests.sms_building import building_config, until


def test_pull_cord_on_the_panel_raises_an_alert_and_systemd_hears_the_hub(tmp_path) -> None:
    factory = MockFactory()
    panel = PanelSection(status_led=5, alert_led=6, buzzer=13, on_site_button=19,
                         pull_cords=(PullCordEntry(pin=17, resident="r2", label="bathroom"),))
    config = replace(building_config("/dev/null"), modem=None, panel=panel)
    sock_path = tmp_path / "notify"
    systemd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    systemd.bind(str(sock_path))
    systemd.settimeout(2)
    app = build_hub(config, clock=FakeClock(), backend=VirtualAir().backend,
                    database=tmp_path / "hub.db", pin_factory=factory)
    app.notifier = SystemdNotifier({"NOTIFY_SOCKET": str(sock_path),
                                    "WATCHDOG_USEC": "60000000"})  # WatchdogSec=60

    taken = []

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(app.run(stop))
        await asyncio.sleep(0.3)
        factory.pin(17).drive_low()  # the resident pulls the cord
        await until(lambda: bool(app.store.open_alerts()), timeout=3)
        factory.pin(17).drive_high()
        factory.pin(19).drive_low()  # the neighbour arrives and presses "on site"
        await until(lambda: app.store.alerts()[0].state is AlertState.ACKNOWLEDGED, timeout=3)
        taken.append(app.store.alerts()[0])
        stop.set()
        await task

    try:
        asyncio.run(scenario())
        messages = []
        while True:
            try:
                messages.append(systemd.recv(1024).decode())
            except (TimeoutError, socket.timeout):
                break
            systemd.settimeout(0.2)
    finally:
        app.close()
        systemd.close()
    assert taken[0].resident_id == "r2" and taken[0].watch_mac == "GPIO17"
    assert taken[0].closed_by == "on site (hub button)"
    assert any(m.startswith("READY=1") for m in messages)
    assert any("WATCHDOG=1" in m for m in messages)
    assert any("STOPPING=1" in m for m in messages)


def test_hub_battery_low_is_reported_to_the_server(tmp_path) -> None:
    factory = MockFactory()
    config = replace(building_config("/dev/null"), modem=None,
                     panel=PanelSection(battery_low=21, mains_good=20))
    app = build_hub(config, clock=FakeClock(), backend=VirtualAir().backend,
                    database=tmp_path / "hub.db", pin_factory=factory)
    try:
        factory.pin(21).drive_high()  # the UPS HAT signals a low battery
        factory.pin(21).drive_low()   # and recovers
        types = [e.type for e in app.store.pending_events()]
    finally:
        app.close()
    assert types[-2:] == ["hub.battery_low", "hub.battery_ok"]
