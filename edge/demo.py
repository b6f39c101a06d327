"""The demo: the production hub on a simulated building, narrated in plain language."""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from edge.app import HubApp, build_hub
from edge.config import load_config
from edge.domain import Resident
from firmware_bridge.virtual_air import VirtualAir

FOREIGN_RATE_PER_S = 40.0
STEP_PAUSE_S = 0.3


def _say(text: str) -> None:
    print(f"\n▶ {text}", flush=True)


class Building:
    """The simulated building: residents with watches on the virtual air."""

    def __init__(self, app: HubApp, air: VirtualAir) -> None:
        self.app = app
        self.air = air
        self.residents = app.store.residents()
        self.watch_of = {w.resident_id: w.mac for w in app.config.roster.watches}

    def resident(self, index: int) -> tuple[Resident, str]:
        person = self.residents[index % len(self.residents)]
        return person, self.watch_of[person.id]

    async def settle(self, seconds: float = STEP_PAUSE_S) -> None:
        await asyncio.sleep(seconds)


async def scenario(building: Building) -> None:
    """Heartbeats, fixes, an SOS that goes active, one cancelled, one acknowledged, a replay."""
    air, hub, window = building.air, building.app.hub, building.app.config.alerts.cancel_window_s
    _say(f"Every watch in the building checks in with its battery level "
         f"({len(building.residents)} residents).")
    for index, person in enumerate(building.residents):
        air.battery(building.watch_of[person.id], 95 - 6 * index)
    await building.settle()

    first, first_mac = building.resident(0)
    _say(f"{first.name} is out walking in the park; the watch sends a GPS fix.")
    air.move(first_mac, 31.230416, 121.473701, accuracy_m=6, age_s=20)
    await building.settle()

    _say(f"{first.name} presses SOS; the watch repeats the press 3 times.")
    air.press(first_mac, repeats=3)
    await building.settle()
    _say(f"Nobody cancels: after the {window:.0f} s cancel window the alert becomes active.")
    await building.settle(window + 1.0)

    second, second_mac = building.resident(1)
    _say(f"{second.name} presses SOS by mistake, then holds the button to cancel.")
    air.press(second_mac, repeats=2)
    await building.settle()
    air.long_press(second_mac)
    await building.settle()

    third, third_mac = building.resident(2)
    _say(f"{third.name} presses SOS at home; the watch has no GPS fix, so the home "
         "address stands in.")
    air.press(third_mac, repeats=2)
    await building.settle(window + 1.0)
    alert = building.app.store.open_alert_for(third.id)
    if alert is not None:
        _say("The grid worker arrives and acknowledges, then resolves the alert.")
        hub.acknowledge(alert.ref, "网格员 李娜")
        hub.resolve(alert.ref, "网格员 李娜")

    _say("Someone replays an old frame of the first watch (an attack): it is refused.")
    air.replay(first_mac, index=0)
    await building.settle()


def summarise(app: HubApp, air: VirtualAir) -> None:
    counts = app.hub.gate.counts
    _say("Summary")
    for alert in app.store.alerts():
        person = app.store.resident(alert.resident_id)
        name = person.name if person else alert.resident_id
        print(f"  alert {alert.ref}  {name:<6} {alert.state.value:<12} presses={alert.press_count}")
    print(f"  adverts on the air: {air.emitted}; accepted {counts['accepted']}, "
          f"foreign dropped {counts['unregistered']}, repeats {counts['duplicate']}, "
          f"replays refused {counts['replay']}")
    print(f"  events waiting for the uplink: {app.store.outbox_depth()}")


def utc_text(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def write_events(app: HubApp, path: Path) -> int:
    events = app.store.pending_events(limit=1_000_000)
    with path.open("w", encoding="utf-8") as out:
        for event in events:
            record = {"seq": event.seq, "event_id": event.event_id, "type": event.type,
                      "at": event.at, "time": utc_text(event.at), **event.body}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(events)


async def run_demo(config_path: Path, *, once: bool, events: Path | None, db: Path | None) -> int:
    config = load_config(config_path)
    with tempfile.TemporaryDirectory(prefix="edge-hub-demo-") as workdir:
        air = VirtualAir()
        for watch in config.roster.watches:
            air.add_watch(watch.mac, watch.key)
        app = build_hub(config, backend=air.backend, database=db or Path(workdir) / "demo.db")
        try:
            await _drive(app, air, once)
        finally:
            summarise(app, air)
            if events is not None:
                print(f"  wrote {write_events(app, events)} events to {events}")
            app.close()
    return 0


async def _drive(app: HubApp, air: VirtualAir, once: bool) -> None:
    stop = asyncio.Event()
    hub_task = asyncio.create_task(app.run(stop))
    foreign = asyncio.create_task(air.foreign_at(FOREIGN_RATE_PER_S, stop))
    try:
        while not air.scanners:
            await asyncio.sleep(0.05)
        logging.getLogger("edge.demo").info(
            "Demo building %s is on the air; foreign devices chatter at %.0f adverts/s.",
            app.config.hub.building, FOREIGN_RATE_PER_S)
        await scenario(Building(app, air))
        if not once:
            _say("The building keeps running; press Ctrl-C to stop.")
            await _keep_alive(app, air, stop)
    finally:
        stop.set()
        await asyncio.gather(hub_task, foreign)


async def _keep_alive(app: HubApp, air: VirtualAir, stop: asyncio.Event) -> None:
    building = Building(app, air)
    index = 0
    while not stop.is_set():
        _, mac = building.resident(index)
        air.battery(mac, max(5, 90 - index % 80))
        index += 1
        await asyncio.sleep(2.0)
