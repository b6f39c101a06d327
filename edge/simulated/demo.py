"""The demo: the production hub on a simulated building, narrated in plain language.

Watches are on the virtual air (a bleak backend); the GSM modem is the AT emulator on a
pseudo-terminal, opened with pyserial like /dev/ttyUSB2. With a broker (given, or a
Mosquitto the demo starts), the hub talks to the reference receiver: the server confirms
an SOS and nobody is texted, then an outage sends the next SOS by SMS, and the backlog
drains when the broker is back. Without one, help goes out by SMS only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
from pathlib import Path

from cloud_sync.uplink.local_broker import mosquitto_binary
from edge.app import HubApp, build_hub
from edge.clock import utc_text
from edge.config.loader import community_id_of, load_config
from edge.errors import HubError
from edge.simulated.demo_building import Building, say
from edge.simulated.demo_online import DemoError, Server
from edge.simulated.demo_scenes import offline_scene, online_scene
from firmware_bridge.simulators.modem_emulator import ModemEmulator
from firmware_bridge.simulators.virtual_air import VirtualAir

FOREIGN_RATE_PER_S = 40.0


def summarise(building: Building) -> None:
    app, air, phones = building.app, building.air, building.phones
    counts = app.hub.gate.counts
    say("Summary")
    for alert in app.store.alerts():
        person = app.store.resident(alert.resident_id)
        name = person.name if person else alert.resident_id
        by = f" by {alert.closed_by}" if alert.closed_by else ""
        print(f"  alert {alert.ref}  {name:<6} {alert.state.value}{by}, presses={alert.press_count}")
    print(f"  adverts on the air: {air.emitted}; accepted {counts['accepted']}, "
          f"foreign dropped {counts['unregistered']}, repeats {counts['duplicate']}, "
          f"replays refused {counts['replay']}")
    print(f"  texts received by responders: {len(phones.received)}; "
          f"still queued: {app.sms.queue_depth()}")
    print(f"  events waiting for the uplink: {app.store.outbox_depth()}")
    if building.server is not None:
        stored = len(building.server.receiver.store.event_seqs(community_id_of(app.config.hub),
                                                               app.config.hub.id))
        print(f"  events stored by the community server: {stored}")


def write_events(app: HubApp, path: Path) -> int:
    """Every event the hub wrote (delivered ones are kept a day), one JSON object a line."""
    events = app.store.all_events()
    with path.open("w", encoding="utf-8") as out:
        for event in events:
            record = {"seq": event.seq, "event_id": event.event_id, "type": event.type,
                      "at": event.at, "time": utc_text(event.at), **event.body}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(events)


def start_server(broker: str | None, offline: bool, folder: Path) -> Server | None:
    """The demo's community server, or None (said why) to run without internet."""
    if offline:
        return None
    if broker is None and mosquitto_binary() is None:
        say("Mosquitto is not installed, so the demo runs without internet (SMS only). "
            "For the server part: sudo apt-get install mosquitto, or pass --broker URL.")
        return None
    try:
        return Server.start(broker, folder)
    except DemoError:
        raise  # the broker asked for cannot be reached: the demo fails saying why
    except HubError as error:
        say(f"No broker for the demo ({error}); running without internet (SMS only).")
        return None


async def run_demo(config_path: Path, *, events: Path | None, db: Path | None,
                   pdu_log: Path | None = None, broker: str | None = None,
                   offline: bool = False) -> int:
    """Play the scripted scenario, print the summary, return 0 (`simulate` keeps running)."""
    config = load_config(config_path)
    modem = ModemEmulator(pdu_log=pdu_log)
    port = modem.start()
    with tempfile.TemporaryDirectory(prefix="edge-hub-demo-") as workdir:
        try:
            server = start_server(broker, offline, Path(workdir))
        except DemoError:
            modem.stop()
            raise
        if server is not None:
            config = server.hub_config(config)
        air = VirtualAir()
        for watch in config.roster.watches:
            air.add_watch(watch.mac, watch.key)
        for contact in config.roster.contacts:
            if contact.call.value != "never":
                modem.on_call(contact.phone, "answer", after_s=2.0)
        app = build_hub(config, backend=air.backend, database=db or Path(workdir) / "demo.db",
                        modem_port=port)
        building = Building(app, air, modem, server)
        try:
            await _drive(building)
        finally:
            summarise(building)
            if events is not None:
                print(f"  wrote {write_events(app, events)} events to {events}")
            if pdu_log is not None:
                print(f"  wrote {len(modem.submitted)} PDUs to {pdu_log}")
            app.close()
            modem.stop()
            if server is not None:
                server.stop()
    return 0


async def _drive(building: Building) -> None:
    app, air = building.app, building.air
    stop = asyncio.Event()
    hub_task = asyncio.create_task(app.run(stop))
    foreign = asyncio.create_task(air.foreign_at(FOREIGN_RATE_PER_S, stop))
    try:
        await _ready(building)
        if building.server is not None:
            await online_scene(building)
        else:
            await offline_scene(building)
        say("That was the scenario. `edge-hub simulate` runs a building that keeps going "
            "and takes presses, texts and modem faults from its control API.")
    finally:
        stop.set()
        await asyncio.gather(hub_task, foreign)


async def _ready(building: Building) -> None:
    app, air = building.app, building.air
    while not (air.scanners and app.worker is not None and app.worker.ready):
        await asyncio.sleep(0.05)
    if building.server is not None and app.uplink is not None:
        sync = app.uplink.sync
        while not sync.connected:
            await asyncio.sleep(0.05)
    internet = (f"a community server on {building.server.broker_url}" if building.server
                else "no internet")
    logging.getLogger("edge.simulated.demo").info(
        "Demo building %s is on the air with an emulated GSM modem and %s; foreign devices "
        "chatter at %.0f adverts/s.", app.config.hub.building, internet, FOREIGN_RATE_PER_S)
