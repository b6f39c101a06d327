"""Test helpers: a small building on the virtual air, wired through the production radio."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from edge.alerts.dispatch import AlertChange
from edge.alerts.hub import Hub
from edge.clock import FakeClock
from edge.domain import Contact, Resident, Role, Roster, Watch
from edge.storage.disk import StorageLimits
from edge.storage.store import Store
from firmware_bridge.ble.bleak_radio import BleakRadio
from firmware_bridge.simulators.virtual_air import VirtualAir

NAMES = ["王秀英", "李桂兰", "张建国", "刘玉珍", "陈志强", "杨淑芬"]


def key_for(index: int) -> bytes:
    return bytes((index * 17 + i * 7 + 1) % 256 for i in range(16))


def mac_for(index: int) -> str:
    number = index + 1
    return f"A4:C1:38:00:{number >> 8:02X}:{number & 0xFF:02X}"


def make_roster(count: int = 3, insecure: tuple[int, ...] = ()) -> Roster:
    residents = tuple(
        Resident(f"r{i + 1}", NAMES[i % len(NAMES)], f"{101 + i}", f"幸福里 3号楼 {101 + i}")
        for i in range(count)
    )
    watches = tuple(
        Watch(mac_for(i), f"r{i + 1}", None if i in insecure else key_for(i), i in insecure)
        for i in range(count)
    )
    contacts = (Contact("desk", "值班室", "+8613800138000", Role.DUTY_DESK, 1),)
    return Roster(residents, watches, contacts)


@dataclass
class Timing:
    cancel_window_s: float = 30.0
    repeat_window_s: float = 10.0
    fix_stale_after_s: float = 900.0


@dataclass
class RecordingDispatcher:
    """Records every alert change handed to dispatch, as a responder's phone would."""

    changes: list[AlertChange] = field(default_factory=list)

    def alert_changed(self, change: AlertChange) -> None:
        self.changes.append(change)

    def states(self) -> list[str]:
        return [c.alert.state.value for c in self.changes]


@dataclass
class SimBuilding:
    """A hub, its store, the air it listens to, and the clock that drives it."""

    path: Path
    roster: Roster
    clock: FakeClock
    timing: Timing
    store: Store = field(init=False)
    hub: Hub = field(init=False)
    air: VirtualAir = field(init=False)
    dispatched: RecordingDispatcher = field(init=False)
    radio: BleakRadio = field(init=False)
    limits: StorageLimits | None = None  # how the store guards its disk (None: a tool's)

    def __post_init__(self) -> None:
        self.air = VirtualAir()
        for watch in self.roster.watches:
            self.air.add_watch(watch.mac, watch.key)
        for sensor in self.roster.sensors:
            self.air.add_watch(sensor.mac, sensor.key)
        self.boot()

    def boot(self) -> None:
        """Start (or restart) the hub process on the same database file."""
        self.store = Store.open(self.path, limits=self.limits)
        self.store.apply_roster(self.roster)
        self.dispatched = RecordingDispatcher()
        self.hub = Hub("hub-test", self.store, self.clock, self.timing, self.dispatched)
        self.hub.start()
        self.radio = BleakRadio(self.hub.on_advert, clock=self.clock, backend=self.air.backend)
        asyncio.run(self.radio.start())

    def crash(self) -> None:
        """The process dies: the radio goes quiet and the connection is dropped."""
        self.air.scanners.clear()
        self.store.close()

    def restart(self) -> None:
        self.crash()
        self.boot()

    def mac(self, index: int) -> str:
        return self.roster.watches[index].mac

    def wait(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.hub.tick()

    def events(self, type_prefix: str = "") -> list[str]:
        return [e.type for e in self.store.pending_events(100_000)
                if e.type.startswith(type_prefix)]


def make_building(tmp_path: Path, count: int = 3, **timing: float) -> SimBuilding:
    return SimBuilding(tmp_path / "hub.db", make_roster(count), FakeClock(), Timing(**timing))
