"""BleakRadio: passive BTHome scanning on BlueZ through bleak, with watchdog and back-off."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from bleak import BleakScanner
from bleak.args.bluez import BlueZScannerArgs, OrPattern
from bleak.assigned_numbers import AdvertisementDataType
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakError

from firmware_bridge.ble.bthome import BTHOME_SERVICE_UUID
from firmware_bridge.errors import RadioError


class Clock(Protocol):
    """Monotonic time for the watchdog (the hub's clocks, or the time module itself)."""

    def monotonic(self) -> float: ...


AdvertHandler = Callable[[str, bytes, int | None], object]
Sleep = Callable[[float], Awaitable[None]]

# BTHome service data: AD type 0x16 starting with the UUID 0xFCD2, little-endian.
BTHOME_OR_PATTERN = OrPattern(0, AdvertisementDataType.SERVICE_DATA_UUID16, b"\xd2\xfc")
_RADIO_FAULTS = (BleakError, OSError, asyncio.TimeoutError)


def backoff_s(attempt: int, cap_s: float, base_s: float = 1.0) -> float:
    """Seconds to wait before retry number `attempt` (0-based): doubling, capped."""
    return min(cap_s, base_s * (2 ** min(attempt, 30)))


def translate(error: BaseException, adapter: str) -> RadioError:
    """A bleak or OS error as a RadioError that says what to check."""
    return RadioError(
        f"Bluetooth adapter {adapter} failed: {type(error).__name__}: {error}. "
        f"Check that bluetoothd runs and {adapter} is present and powered "
        f"(bluetoothctl show)"
    )


class BleakRadio:
    """Hears BTHome adverts and hands (mac, service data, rssi) to the hub."""

    def __init__(
        self, on_advert: AdvertHandler, *, adapter: str = "hci0", scanning: str = "passive",
        watchdog_s: float = 120.0, backoff_max_s: float = 60.0, clock: Clock | None = None,
        backend: type[BaseBleakScanner] | None = None, sleep: Sleep = asyncio.sleep,
        poll_s: float | None = None, log: logging.Logger | None = None,
        on_report: Callable[[str, dict[str, object]], object] | None = None,
    ) -> None:
        self._on_advert = on_advert
        self.adapter = adapter
        self.mode = scanning
        self.watchdog_s = watchdog_s
        self.backoff_max_s = backoff_max_s
        self._clock: Clock = clock or time
        self._backend = backend
        self._sleep = sleep
        self._poll_s = poll_s
        self._log = log or logging.getLogger("edge.radio")
        self._scanner: BleakScanner | None = None
        self._report = on_report or (lambda kind, details: None)
        self.names: dict[str, str] = {}  # local names heard (active scans carry them)
        self._last_heard = self._clock.monotonic()
        self._logged_errors: set[str] = set()
        self.restarts = 0
        self.heard = 0
        self.failures = 0

    def _scanner_for(self, mode: str) -> BleakScanner:
        bluez: BlueZScannerArgs = {"adapter": self.adapter}
        if mode == "passive":
            bluez["or_patterns"] = [BTHOME_OR_PATTERN]
        kwargs: dict[str, Any] = {"bluez": bluez}
        if self._backend is not None:
            kwargs["backend"] = self._backend
        service_uuids = None if mode == "passive" else [BTHOME_SERVICE_UUID]
        return BleakScanner(self._detected, service_uuids, mode, **kwargs)  # type: ignore[arg-type]

    def _detected(self, device: BLEDevice, adv: AdvertisementData) -> None:
        data = adv.service_data.get(BTHOME_SERVICE_UUID)
        if data is None:
            return
        self._last_heard = self._clock.monotonic()
        self.heard += 1
        if adv.local_name:
            self.names[device.address.upper()] = adv.local_name
        try:
            self._on_advert(device.address, data, adv.rssi)
        except Exception:  # the hub must never take the radio down with it
            self._log.exception("The hub failed on an advert from %s; scanning goes on.",
                                device.address)

    async def start(self) -> None:
        """Start scanning; fall back from passive to active where BlueZ cannot do passive."""
        try:
            await self._start_mode(self.mode)
            return
        except _RADIO_FAULTS as error:
            if self.mode != "passive":
                raise translate(error, self.adapter) from error
            passive_error = error
        try:
            await self._start_mode("active")
        except _RADIO_FAULTS as error:  # the adapter itself is at fault: keep passive
            raise translate(error, self.adapter) from error
        self.mode = "active"
        self._log.warning(
            "Passive scanning is not available on %s (%s); BlueZ needs --experimental "
            "for it. Scanning actively instead.", self.adapter, passive_error)
        self._report("hub.radio_active_scan", {"adapter": self.adapter,
                                               "reason": str(passive_error)})

    async def _start_mode(self, mode: str) -> None:
        scanner = self._scanner_for(mode)
        await scanner.start()
        self._scanner = scanner
        self._last_heard = self._clock.monotonic()
        self._log.info("Listening for watches on %s (%s scanning).", self.adapter, mode)

    async def stop(self) -> None:
        scanner, self._scanner = self._scanner, None
        if scanner is None:
            return
        try:
            await scanner.stop()
        except _RADIO_FAULTS as error:
            self._log.debug("Stopping the scanner failed: %s", error)

    def silent_for(self) -> float:
        """Seconds since the last BTHome advert was heard."""
        return self._clock.monotonic() - self._last_heard

    async def run(self, stop: asyncio.Event) -> None:
        """Scan until `stop` is set, restarting on silence and retrying on faults."""
        attempt = 0
        while not stop.is_set():
            try:
                await self.start()
                attempt = 0
                self._logged_errors.clear()
                await self._watch(stop)
            except RadioError as error:
                self.failures += 1
                wait = backoff_s(attempt, self.backoff_max_s)
                self._log_once(str(error), wait)
                await self._wait(stop, wait)
                attempt += 1
            finally:
                await self.stop()

    async def _watch(self, stop: asyncio.Event) -> None:
        """Sleep until the silence would reach watchdog_s (an advert heard meanwhile moves
        that on: the watchdog then sleeps again for what is left); `poll_s`, when given,
        caps one sleep (a test's fake clock moves without waking anyone)."""
        while not stop.is_set():
            left = self.watchdog_s - self.silent_for()
            if left > 0:
                await self._wait(stop, left if self._poll_s is None else min(left, self._poll_s))
                continue
            self.restarts += 1
            self._log.warning(
                "Heard no watch on %s for %.0f s; restarting the scanner (restart %d).",
                self.adapter, self.silent_for(), self.restarts)
            self._report("hub.radio_restarted", {"adapter": self.adapter,
                                                 "silent_s": round(self.silent_for()),
                                                 "restarts": self.restarts})
            return

    async def _wait(self, stop: asyncio.Event, seconds: float) -> None:
        waiter = asyncio.ensure_future(stop.wait())
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
        for task in (waiter, sleeper):
            task.cancel()

    def _log_once(self, message: str, wait_s: float) -> None:
        """A fault once, until scanning works again; the hub keeps trying meanwhile."""
        if message not in self._logged_errors:
            self._logged_errors.add(message)
            self._log.error("%s. Watches cannot be heard; the hub tries again in %.0f s, then "
                            "less often (at most every %.0f s).", message, wait_s,
                            self.backoff_max_s)
            self._report("hub.radio_fault", {"adapter": self.adapter, "error": message})
