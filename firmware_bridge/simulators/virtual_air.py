"""The virtual air: simulated watches broadcasting real encrypted BTHome v2 frames.

`VirtualAir.backend` is a bleak scanner backend (a BaseBleakScanner subclass) that the
production `BleakScanner` accepts through `backend=`, so tests and the demo run the same
radio code as a Raspberry Pi. The air can press, long-press, move a watch, change its
battery, repeat, drop, corrupt and replay frames, and add foreign devices. Activity sensors
(motion, door/window) are devices of the same air, added with `add_watch`; `motion` and
`door` send their frames.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakError

from firmware_bridge.ble.bthome import BTHOME_SERVICE_UUID, BTHomeKey, encode_frame
from firmware_bridge.ble.gnss_fix import GnssFix, pack_fix

BUTTON_EVENTS = ("press", "double_press", "triple_press", "long_press", "hold_press")
OBJ_PACKET_ID, OBJ_BATTERY, OBJ_BUTTON, OBJ_RAW = 0x00, 0x01, 0x3A, 0x54
# what Shelly BLU Motion and BLU Door/Window send besides packet id and battery
OBJ_ILLUMINANCE, OBJ_OPENING, OBJ_MOTION, OBJ_WINDOW = 0x05, 0x11, 0x21, 0x2D


@dataclass(slots=True)
class VirtualWatch:
    """A watch on a resident's wrist: its MAC, key, counter and what it last sent."""

    mac: str
    key: bytes | None
    counter: int = 1
    packet_id: int = 0
    battery: int = 90
    rssi: int = -60
    name: str | None = None
    sent: list[bytes] = field(default_factory=list)

    def frame(self, objects: Sequence[tuple[int, object]]) -> bytes:
        """The next frame carrying `objects`, encrypted with a fresh counter when keyed."""
        cipher = BTHomeKey(self.key) if self.key else None
        data = encode_frame(objects, mac=self.mac, key=cipher,
                            counter=self.counter if cipher else None)
        self.counter += 1
        self.sent.append(data)
        return data


class VirtualAir:
    """Everything the hub's radio could hear, driven by tests and the demo."""

    def __init__(self, seed: int = 7) -> None:
        self.watches: dict[str, VirtualWatch] = {}
        self.scanners: list[BaseBleakScanner] = []
        self.passive_supported = True
        self.start_failures: list[BaseException] = []
        self.emitted = 0
        self._drop_next = 0
        self._corrupt_next = 0
        self._loss = 0.0
        self._random = random.Random(seed)
        self._foreign_task: asyncio.Task[None] | None = None
        self._on_scan: list[Callable[[], None]] = []
        # Called with a watch whose counter moved, before its frame is on the air: a
        # simulation that must survive a kill keeps the counters there.
        self.on_counter: Callable[[VirtualWatch], None] = lambda watch: None
        self.backend = _bind_backend(self)

    def when_scanning(self, action: Callable[[], None], delay_s: float = 0.2) -> None:
        """Do `action` (e.g. a resident's press) shortly after a scanner starts; actions
        registered in turn go to the scanners started in turn."""
        def later() -> None:
            asyncio.get_running_loop().call_later(delay_s, action)
        self._on_scan.append(later)

    # -- the population ----------------------------------------------------------

    def add_watch(self, mac: str, key: bytes | None, *, counter: int = 1,
                  name: str | None = None, packet_id: int = 0) -> VirtualWatch:
        watch = VirtualWatch(mac.upper(), key, counter=counter, name=name,
                             packet_id=packet_id)
        self.watches[watch.mac] = watch
        return watch

    # -- what residents do ----------------------------------------------------------

    def press(self, mac: str, kind: str = "press", repeats: int = 1) -> bytes:
        """A button press; the watch repeats the same frame `repeats` times."""
        if kind not in BUTTON_EVENTS:
            raise ValueError(f"kind must be one of {', '.join(BUTTON_EVENTS)}, got {kind!r}")
        watch = self.watches[mac.upper()]
        watch.packet_id = (watch.packet_id + 1) % 256
        data = watch.frame([(OBJ_PACKET_ID, watch.packet_id), (OBJ_BUTTON, kind)])
        self.on_counter(watch)
        for _ in range(max(1, repeats)):
            self.emit(watch.mac, data, watch.rssi)
        return data

    def long_press(self, mac: str, repeats: int = 1) -> bytes:
        """The resident holds the button: cancel during the cancel window."""
        return self.press(mac, "long_press", repeats)

    def battery_swap(self, mac: str, counter: int = 1, packet_id: int | None = None) -> None:
        """A new battery: the watch starts its encryption counter again at a low value, as
        Shelly BLU buttons and other BTHome devices do (bthome-ble issues 116 and 338);
        with `packet_id` its packet ids start again too."""
        watch = self.watches[mac.upper()]
        watch.counter = counter
        if packet_id is not None:
            watch.packet_id = packet_id
        self.on_counter(watch)

    def battery(self, mac: str, percent: int) -> bytes:
        """A heartbeat carrying the battery level."""
        watch = self.watches[mac.upper()]
        watch.battery = percent
        watch.packet_id = (watch.packet_id + 1) % 256
        data = watch.frame([(OBJ_PACKET_ID, watch.packet_id), (OBJ_BATTERY, percent)])
        self.on_counter(watch)
        self.emit(watch.mac, data, watch.rssi)
        return data

    def move(self, mac: str, lat: float, lon: float, accuracy_m: int = 8,
             age_s: int = 0) -> bytes:
        """The watch reports a new GPS fix in its own frame."""
        watch = self.watches[mac.upper()]
        data = watch.frame([(OBJ_RAW, pack_fix(GnssFix(lat, lon, accuracy_m, age_s)))])
        self.on_counter(watch)
        self.emit(watch.mac, data, watch.rssi)
        return data

    def motion(self, mac: str, lux: float = 120.0) -> bytes:
        """A motion sensor sees someone (its frame also carries battery and light)."""
        return self._sensor_frame(mac, [(OBJ_ILLUMINANCE, lux), (OBJ_MOTION, True)])

    def door(self, mac: str, is_open: bool, lux: float = 120.0) -> bytes:
        """A door/window contact opens or closes (sent as the window object, as Shelly's)."""
        return self._sensor_frame(mac, [(OBJ_ILLUMINANCE, lux), (OBJ_WINDOW, is_open)])

    def _sensor_frame(self, mac: str, objects: list[tuple[int, object]]) -> bytes:
        device = self.watches[mac.upper()]
        device.packet_id = (device.packet_id + 1) % 256
        data = device.frame([(OBJ_PACKET_ID, device.packet_id), (OBJ_BATTERY, device.battery),
                             *objects])
        self.on_counter(device)
        self.emit(device.mac, data, device.rssi)
        return data

    def replay(self, mac: str, index: int = -1) -> bytes:
        """Broadcast again a frame the watch sent earlier, as an attacker would."""
        data = self.watches[mac.upper()].sent[index]
        self.emit(mac.upper(), data, -70)
        return data

    # -- what the air does to frames ----------------------------------------------

    def drop_next(self, count: int = 1) -> None:
        self._drop_next += count

    def corrupt_next(self, count: int = 1) -> None:
        self._corrupt_next += count

    def set_loss(self, probability: float) -> None:
        """Lose each frame with this probability (seeded, repeatable)."""
        self._loss = probability

    def foreign(self, count: int = 1) -> None:
        """Adverts of devices that are not ours: other BTHome sensors and plain beacons."""
        for _ in range(count):
            a, b, c = (self._random.randrange(256) for _ in range(3))
            mac = f"F0:{a:02X}:{b:02X}:00:00:{c:02X}"
            data = bytes([0x40, 0x02, 0xC4, 0x09, 0x03, 0xBF, 0x13])
            self.emit(mac, data, self._random.randrange(-95, -50))

    async def foreign_at(self, rate_per_s: float, stop: asyncio.Event) -> None:
        """Keep foreign devices talking at about `rate_per_s` until `stop` is set."""
        tick = 0.1
        while not stop.is_set():
            self.foreign(max(1, round(rate_per_s * tick)))
            await asyncio.sleep(tick)

    def emit(self, mac: str, service_data: bytes, rssi: int) -> None:
        """Put one advert on the air for every running scanner to hear."""
        if self._drop_next:
            self._drop_next -= 1
            return
        if self._loss and self._random.random() < self._loss:
            return
        if self._corrupt_next and service_data:
            self._corrupt_next -= 1
            index = self._random.randrange(len(service_data))
            service_data = (service_data[:index] + bytes([service_data[index] ^ 0x5A])
                            + service_data[index + 1:])
        self.emitted += 1
        watch = self.watches.get(mac.upper())
        adv = AdvertisementData(watch.name if watch else None, {},
                                {BTHOME_SERVICE_UUID: service_data},
                                [BTHOME_SERVICE_UUID], None, rssi, ())
        for scanner in list(self.scanners):
            device = scanner.create_or_update_device(mac, mac, None, None, adv)
            scanner.call_detection_callbacks(device, adv)


class _VirtualScanner(BaseBleakScanner):
    """Scanner backend over the virtual air; behaves like BlueZ's where it matters."""

    air: VirtualAir

    def __init__(self, detection_callback: Any, service_uuids: list[str] | None,
                 scanning_mode: str = "active", *, bluez: dict[str, Any] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(detection_callback, service_uuids)
        self.mode = scanning_mode
        self.bluez = bluez or {}
        if scanning_mode == "passive" and not self.bluez.get("or_patterns"):
            raise BleakError("passive scanning mode requires bluez or_patterns")

    async def start(self) -> None:
        if self.air.start_failures:
            raise self.air.start_failures.pop(0)
        if self.mode == "passive" and not self.air.passive_supported:
            raise BleakError("org.bluez.Error.NotSupported: passive scanning unavailable")
        self.seen_devices = {}
        self.air.scanners.append(self)
        if self.air._on_scan:  # one action per scanner start, in order
            self.air._on_scan.pop(0)()

    async def stop(self) -> None:
        if self in self.air.scanners:
            self.air.scanners.remove(self)


def _bind_backend(air: VirtualAir) -> type[BaseBleakScanner]:
    """A scanner class bound to one air, as bleak's `backend=` wants a class."""
    return type("VirtualAirScanner", (_VirtualScanner,), {"air": air})

