"""The demo: the production hub on a simulated building, narrated in plain language.

Watches are on the virtual air (a bleak backend); the GSM modem is the AT emulator on a
pseudo-terminal, opened with pyserial like /dev/ttyUSB2. There is no uplink, so help
goes out by SMS, and every text is printed as the responder's phone shows it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from edge.app import HubApp, build_hub
from edge.config import load_config
from edge.domain import Resident
from firmware_bridge.modem_emulator import ModemEmulator
from firmware_bridge.sms_pdu import Submit, decode_pdu, encode_deliver
from firmware_bridge.virtual_air import VirtualAir

FOREIGN_RATE_PER_S = 40.0
STEP_PAUSE_S = 0.3


def _say(text: str) -> None:
    print(f"\n▶ {text}", flush=True)


class Phones:
    """Shows each text the modem sent, joined from its parts, as the phone displays it."""

    def __init__(self, modem: ModemEmulator, names: dict[str, str]) -> None:
        self.modem = modem
        self.names = names
        self.seen = 0
        self.received: list[tuple[str, str]] = []
        self._parts: dict[tuple[str, int], dict[int, str]] = {}

    def show_new(self) -> None:
        while self.seen < len(self.modem.submitted):
            tpdu = self.modem.submitted[self.seen]
            self.seen += 1
            submit = decode_pdu(bytes.fromhex(tpdu), with_smsc=False, direction="sent")
            if isinstance(submit, Submit):
                self._take(submit)

    def _take(self, submit: Submit) -> None:
        if submit.concat is None:
            self._show(submit.recipient, submit.text)
            return
        key = (submit.recipient, submit.concat.reference)
        parts = self._parts.setdefault(key, {})
        parts[submit.concat.sequence] = submit.text
        if len(parts) == submit.concat.total:
            self._show(submit.recipient, "".join(parts[i] for i in sorted(parts)))
            del self._parts[key]

    def _show(self, phone: str, text: str) -> None:
        self.received.append((phone, text))
        print(f"    📱 {self.names.get(phone, phone)} {phone}: {text}", flush=True)


class Building:
    """The simulated building: residents with watches, a modem, responders' phones."""

    def __init__(self, app: HubApp, air: VirtualAir, modem: ModemEmulator) -> None:
        self.app = app
        self.air = air
        self.modem = modem
        self.residents = app.store.residents()
        self.watch_of = {w.resident_id: w.mac for w in app.config.roster.watches}
        self.phones = Phones(modem, {c.phone: c.name for c in app.config.roster.contacts})

    def resident(self, index: int) -> tuple[Resident, str]:
        person = self.residents[index % len(self.residents)]
        return person, self.watch_of[person.id]

    async def settle(self, seconds: float = STEP_PAUSE_S) -> None:
        end = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < end:
            self.phones.show_new()
            await asyncio.sleep(0.05)
        self.phones.show_new()

    def reply(self, phone: str, text: str) -> None:
        stamp = datetime.now(timezone.utc)
        for pdu in encode_deliver(phone, text, timestamp=stamp):
            self.modem.deliver_pdu(pdu)


async def scenario(building: Building) -> None:
    """Check-ins, a fix, an SOS texted and escalated until a reply, a cancel, a replay."""
    air, config = building.air, building.app.config
    window, wait = config.alerts.cancel_window_s, config.sms.tier_wait_s[0]
    _say(f"Every watch checks in with its battery level ({len(building.residents)} residents).")
    for index, person in enumerate(building.residents):
        air.battery(building.watch_of[person.id], 95 - 6 * index)
    await building.settle()

    first, first_mac = building.resident(0)
    _say(f"{first.name} is out walking in the park; the watch sends a GPS fix.")
    air.move(first_mac, 30.274150, 120.155150, accuracy_m=6, age_s=20)
    await building.settle()

    _say(f"{first.name} presses SOS; the watch repeats the press 3 times. There is no "
         "internet: after the cancel window the hub texts tier 1 through the GSM modem.")
    air.press(first_mac, repeats=3)
    await building.settle(window + 1.5)
    _say(f"Nobody replies within {wait:.0f} s: the hub escalates to tier 2.")
    await building.settle(wait + 1.0)

    grid = next(c for c in config.roster.contacts if c.role.value == "grid_worker")
    _say(f"{grid.name} replies \"1\" from {grid.phone}: the alert is taken, the others are told.")
    building.reply(grid.phone, "1")
    await building.settle(2.0)

    second, second_mac = building.resident(1)
    _say(f"{second.name} presses SOS by mistake, then holds the button to cancel: no texts.")
    air.press(second_mac, repeats=2)
    await building.settle()
    air.long_press(second_mac)
    await building.settle()

    _say("A stranger texts \"1\" to the hub's number: it changes nothing.")
    building.reply("+8613999999999", "1")
    await building.settle(1.0)

    third, third_mac = building.resident(2)
    _say(f"{third.name} presses SOS at home; the watch has no GPS fix, so the texts give "
         "the home address.")
    air.press(third_mac, repeats=2)
    await building.settle(window + 1.5)
    _say(f"{grid.name} arrives at the door and closes the alert on the hub.")
    alert = building.app.store.open_alert_for(third.id)
    if alert is not None:
        building.app.hub.acknowledge(alert.ref, grid.name)
        building.app.hub.resolve(alert.ref, grid.name)
    await building.settle(1.0)

    _say("Someone replays an old frame of the first watch (an attack): it is refused.")
    air.replay(first_mac, index=0)
    await building.settle()


def summarise(app: HubApp, air: VirtualAir, phones: Phones | None) -> None:
    counts = app.hub.gate.counts
    _say("Summary")
    for alert in app.store.alerts():
        person = app.store.resident(alert.resident_id)
        name = person.name if person else alert.resident_id
        by = f" by {alert.closed_by}" if alert.closed_by else ""
        print(f"  alert {alert.ref}  {name:<6} {alert.state.value}{by}, presses={alert.press_count}")
    print(f"  adverts on the air: {air.emitted}; accepted {counts['accepted']}, "
          f"foreign dropped {counts['unregistered']}, repeats {counts['duplicate']}, "
          f"replays refused {counts['replay']}")
    if phones is not None:
        print(f"  texts received by responders: {len(phones.received)}; "
              f"still queued: {app.sms.queue_depth()}")
    print(f"  events waiting for the uplink: {app.store.outbox_depth()}")


def utc_text(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="milliseconds")


def write_events(app: HubApp, path: Path) -> int:
    events = app.store.pending_events(limit=1_000_000)
    with path.open("w", encoding="utf-8") as out:
        for event in events:
            record = {"seq": event.seq, "event_id": event.event_id, "type": event.type,
                      "at": event.at, "time": utc_text(event.at), **event.body}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(events)


async def run_demo(config_path: Path, *, once: bool, events: Path | None, db: Path | None,
                   pdu_log: Path | None = None) -> int:
    config = load_config(config_path)
    modem = ModemEmulator(pdu_log=pdu_log)
    port = modem.start()
    with tempfile.TemporaryDirectory(prefix="edge-hub-demo-") as workdir:
        air = VirtualAir()
        for watch in config.roster.watches:
            air.add_watch(watch.mac, watch.key)
        app = build_hub(config, backend=air.backend, database=db or Path(workdir) / "demo.db",
                        modem_port=port)
        building = Building(app, air, modem)
        try:
            await _drive(building, once)
        finally:
            summarise(app, air, building.phones)
            if events is not None:
                print(f"  wrote {write_events(app, events)} events to {events}")
            if pdu_log is not None:
                print(f"  wrote {len(modem.submitted)} PDUs to {pdu_log}")
            app.close()
            modem.stop()
    return 0


async def _drive(building: Building, once: bool) -> None:
    app, air = building.app, building.air
    stop = asyncio.Event()
    hub_task = asyncio.create_task(app.run(stop))
    foreign = asyncio.create_task(air.foreign_at(FOREIGN_RATE_PER_S, stop))
    try:
        while not (air.scanners and app.worker is not None and app.worker.ready):
            await asyncio.sleep(0.05)
        logging.getLogger("edge.demo").info(
            "Demo building %s is on the air with an emulated GSM modem and no internet; "
            "foreign devices chatter at %.0f adverts/s.", app.config.hub.building,
            FOREIGN_RATE_PER_S)
        await scenario(building)
        if not once:
            _say("The building keeps running; press Ctrl-C to stop.")
            await _keep_alive(building, stop)
    finally:
        stop.set()
        await asyncio.gather(hub_task, foreign)


async def _keep_alive(building: Building, stop: asyncio.Event) -> None:
    index = 0
    while not stop.is_set():
        _, mac = building.resident(index)
        building.air.battery(mac, max(5, 90 - index % 80))
        index += 1
        await building.settle(2.0)
