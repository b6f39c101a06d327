"""A building with an emulated GSM modem and no uplink, run through build_hub."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from edge.app import HubApp, build_hub
from edge.clock import Clock, FakeClock
from edge.config.loader import HubConfig, parse_config
from firmware_bridge.simulators.modem_emulator import ModemEmulator
from firmware_bridge.simulators.virtual_air import VirtualAir
from firmware_bridge.sms.pdu import Submit, decode_pdu, encode_deliver
from tests.building import key_for, mac_for

DESK, GRID, NEIGHBOUR, SON = ("+8613800138000", "+8613800138001", "+8613800138002",
                              "+8613800138003")


def building_config(port: str, hub: dict[str, Any] | None = None, *,
                    calls: dict[str, Any] | None = None, **sms: Any) -> HubConfig:
    """The building's config; `calls` holds [calls] and, under "contacts", each contact's
    call setting by id (like {"grid": "always"})."""
    data: dict[str, Any] = {
        "hub": {"id": "hub-3", "community": "幸福里社区", "community_id": "xingfuli",
                "building": "3号楼",
                "address": "幸福里路 18 号 3号楼", **(hub or {})},
        "alerts": {"cancel_window_s": 10, "repeat_window_s": 5},
        "sms": {"tier_wait_s": [120, 300], "repeat_fast_s": 30, "repeat_fast_count": 3,
                "repeat_slow_s": 600, **sms},
        "modem": {"port": port, "command_timeout_s": 2, "send_timeout_s": 2},
        "residents": [{"id": "r1", "name": "王秀英", "room": "101"},
                      {"id": "r2", "name": "李桂兰", "room": "102", "phone": "+86 139 0571 0102"}],
        "watches": [{"mac": mac_for(0), "resident": "r1", "key": key_for(0).hex()},
                    {"mac": mac_for(1), "resident": "r2", "key": key_for(1).hex()}],
        "contacts": [
            {"id": "desk", "name": "值班室", "phone": DESK, "role": "duty_desk", "tier": 1},
            {"id": "grid", "name": "李娜", "phone": GRID, "role": "grid_worker", "tier": 1},
            {"id": "nb", "name": "赵大爷", "phone": NEIGHBOUR, "role": "neighbour", "tier": 2},
            {"id": "son", "name": "王强", "phone": SON, "role": "family", "tier": 2,
             "resident": "r1", "always_sms": True},
        ],
    }
    if calls is not None:
        settings = dict(calls)
        for contact in data["contacts"]:
            contact["call"] = settings.get("contacts", {}).get(contact["id"], "never")
        settings.pop("contacts", None)
        data["calls"] = settings
    return parse_config(data, source="test.toml", base_dir=Path("."))


class SmsBuilding:
    """The production hub with the virtual air and an emulated modem, on a fake clock."""

    def __init__(self, folder: Path, *, hub: dict[str, Any] | None = None,
                 database: Path | None = None, calls: dict[str, Any] | None = None,
                 clock: Clock | None = None,
                 **sms: Any) -> None:
        self.folder = folder
        self.database = database or folder / "hub.db"
        self.hub_settings = hub
        self.calls_settings = calls
        self.sms_settings = sms
        self.clock: Any = clock or FakeClock()  # a real clock: the hub keeps its own pace
        self.air = VirtualAir()
        for index in range(2):
            self.air.add_watch(mac_for(index), key_for(index))
        self.modem = ModemEmulator()
        self.port = self.modem.start()
        self.app: HubApp | None = None
        self.pin_factory: Any = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def config(self) -> HubConfig:
        return building_config(self.port, self.hub_settings, calls=self.calls_settings,
                               **self.sms_settings)

    async def start(self) -> None:
        self.app = build_hub(self.config(), clock=self.clock, backend=self.air.backend,
                             database=self.database, pin_factory=self.pin_factory)
        assert self.app.worker is not None
        if isinstance(self.clock, FakeClock):  # time moves by hand: look often
            self.app.worker.idle_s = 0.02
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self.app.run(self._stop))
        await until(lambda: self.app is not None and self.app.worker is not None
                    and self.app.worker.ready and bool(self.air.scanners), timeout=10)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        if self.app is not None:
            self.app.close()
        self.air.scanners.clear()

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def close(self) -> None:
        self.modem.stop()

    async def advance(self, seconds: float) -> None:
        """Let time pass on the fake clock and let the hub act on it."""
        self.clock.advance(seconds)
        assert self.app is not None and self.app.worker is not None
        self.app.tick()
        self.app.worker.wake()
        await asyncio.sleep(0.05)

    async def settle(self) -> None:
        """Wait until the SMS queue is empty (or only holds texts waiting for later)."""
        assert self.app is not None
        sms = self.app.sms
        await until(lambda: sms.next_due(self.clock.now()) is None, timeout=10)
        await asyncio.sleep(0.05)

    def reply(self, phone: str, text: str) -> None:
        stamp = datetime.fromtimestamp(self.clock.now(), timezone.utc)
        for pdu in encode_deliver(phone, text, timestamp=stamp):
            self.modem.deliver_pdu(pdu)

    def inbox(self) -> dict[str, list[str]]:
        """What each phone received, concatenated parts joined."""
        return phones(self.modem.submitted)


B = TypeVar("B", bound=SmsBuilding)


def run_scenario(building: B, scenario: Callable[[B], Awaitable[None]]) -> B:
    """Start the building, play the scenario, stop it and release the modem, whatever happens."""
    async def main() -> None:
        await building.start()
        try:
            await scenario(building)
        finally:
            await building.stop()

    try:
        asyncio.run(main())
    finally:
        building.close()
    return building


def phones(tpdus: list[str]) -> dict[str, list[str]]:
    received: dict[str, list[str]] = defaultdict(list)
    pending: dict[tuple[str, int], dict[int, str]] = {}
    for tpdu in tpdus:
        submit = decode_pdu(bytes.fromhex(tpdu), with_smsc=False, direction="sent")
        assert isinstance(submit, Submit)
        if submit.concat is None:
            received[submit.recipient].append(submit.text)
            continue
        key = (submit.recipient, submit.concat.reference)
        parts = pending.setdefault(key, {})
        parts[submit.concat.sequence] = submit.text
        if len(parts) == submit.concat.total:
            received[submit.recipient].append("".join(parts[i] for i in sorted(parts)))
            del pending[key]
    return dict(received)


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("the building did not get there in time")
        await asyncio.sleep(0.01)
