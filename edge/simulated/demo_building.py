"""The demo's building: residents' watches on the virtual air, the modem, phones."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from edge.app import HubApp
from edge.domain import Resident
from firmware_bridge.simulators.modem_emulator import ModemEmulator
from firmware_bridge.simulators.virtual_air import VirtualAir
from firmware_bridge.sms.pdu import Submit, decode_pdu, encode_deliver

if TYPE_CHECKING:
    from edge.simulated.demo_online import Server

STEP_PAUSE_S = 0.3


def say(text: str) -> None:
    print(f"\n▶ {text}", flush=True)


class Phones:
    """Shows each text the modem sent, joined from its parts, as the phone displays it,
    and each ring call once it ended."""

    def __init__(self, modem: ModemEmulator, names: dict[str, str]) -> None:
        self.modem = modem
        self.names = names
        self.seen = 0
        self.calls_seen = 0
        self.received: list[tuple[str, str]] = []
        self._parts: dict[tuple[str, int], dict[int, str]] = {}

    def show_new(self) -> None:
        while self.seen < len(self.modem.submitted):
            tpdu = self.modem.submitted[self.seen]
            self.seen += 1
            submit = decode_pdu(bytes.fromhex(tpdu), with_smsc=False, direction="sent")
            if isinstance(submit, Submit):
                self._take(submit)
        calls = self.modem.calls
        for call in calls[self.calls_seen:]:
            how = {"answered": "answered (recorded; not an acknowledgement)",
                   "hung_up": "rang until the hub hung up"}.get(call.outcome, call.outcome)
            print(f"    📞 {self.names.get(call.number, call.number)} {call.number}: ring "
                  f"call {how}", flush=True)
        self.calls_seen = len(calls)

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

    def __init__(self, app: HubApp, air: VirtualAir, modem: ModemEmulator,
                 server: Server | None = None) -> None:
        self.app = app
        self.air = air
        self.modem = modem
        self.server = server
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


async def check_ins(building: Building) -> None:
    """Every watch reports its battery; the first resident's watch sends a GPS fix."""
    air = building.air
    say(f"Every watch checks in with its battery level ({len(building.residents)} residents).")
    for index, person in enumerate(building.residents):
        air.battery(building.watch_of[person.id], 95 - 6 * index)
    await building.settle()
    first, first_mac = building.resident(0)
    say(f"{first.name} is out walking in the park; the watch sends a GPS fix.")
    air.move(first_mac, 30.274150, 120.155150, accuracy_m=6, age_s=20)
    await building.settle()
