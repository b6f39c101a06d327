"""BleakRadio through the real BleakScanner front end on the virtual air backend."""

from __future__ import annotations

import asyncio

import pytest
from bleak.exc import BleakError

from edge.clock import FakeClock
from edge.errors import RadioError
from firmware_bridge.ble.bleak_radio import BleakRadio, backoff_s, translate
from firmware_bridge.simulators.virtual_air import VirtualAir
from tests.building import key_for, mac_for


def make_radio(air: VirtualAir, clock: FakeClock, heard: list, **kwargs) -> BleakRadio:
    return BleakRadio(lambda mac, data, rssi: heard.append((mac, data, rssi)), clock=clock,
                      backend=air.backend, poll_s=0.01, **kwargs)


async def until(condition, timeout: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


def test_passive_scan_uses_bthome_or_pattern_and_hears_adverts() -> None:
    air, clock, heard = VirtualAir(), FakeClock(), []
    air.add_watch(mac_for(0), key_for(0))
    radio = make_radio(air, clock, heard, adapter="hci1")
    asyncio.run(radio.start())

    scanner = air.scanners[0]
    assert scanner.mode == "passive"
    assert scanner.bluez["adapter"] == "hci1"
    assert scanner.bluez["or_patterns"][0].content_of_pattern == b"\xd2\xfc"
    air.press(mac_for(0))
    assert heard and heard[0][0] == mac_for(0) and heard[0][2] == -60


def test_falls_back_to_active_scan_where_passive_is_unavailable(caplog) -> None:
    air, heard = VirtualAir(), []
    air.passive_supported = False
    radio = make_radio(air, FakeClock(), heard)
    asyncio.run(radio.start())
    assert radio.mode == "active" and air.scanners[0].mode == "active"
    assert "Scanning actively instead" in caplog.text


def test_watchdog_restarts_a_silent_scanner_and_reports_it() -> None:
    air, clock, heard, reports = VirtualAir(), FakeClock(), [], []
    air.add_watch(mac_for(0), key_for(0))
    radio = make_radio(air, clock, heard, watchdog_s=120,
                       on_report=lambda kind, details: reports.append((kind, details)))

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(radio.run(stop))
        await until(lambda: air.scanners)
        first = air.scanners[0]
        clock.advance(100)
        air.press(mac_for(0))  # heard: the watchdog starts counting again
        clock.advance(100)
        await asyncio.sleep(0.05)
        assert radio.restarts == 0 and air.scanners == [first]
        clock.advance(30)
        await until(lambda: radio.restarts == 1 and air.scanners and air.scanners[0] is not first)
        stop.set()
        await task

    asyncio.run(scenario())
    assert air.scanners == []
    assert reports[0][0] == "hub.radio_restarted" and reports[0][1]["restarts"] == 1


def test_the_watchdog_sleeps_until_the_silence_would_be_too_long() -> None:
    """No polling: one sleep until watchdog_s of silence; a watch heard meanwhile moves
    that on, and the watchdog sleeps for what is left."""
    air, clock, waits = VirtualAir(), FakeClock(), []
    air.add_watch(mac_for(0), key_for(0))
    stop = asyncio.Event()

    async def sleep(seconds: float) -> None:  # time passes at once, on the fake clock
        waits.append(seconds)
        if len(waits) == 1:
            clock.advance(100)
            air.press(mac_for(0))
            clock.advance(seconds - 100)
        elif len(waits) == 3:
            stop.set()
        else:
            clock.advance(seconds)
        await asyncio.sleep(0)

    radio = BleakRadio(lambda *a: None, clock=clock, backend=air.backend, sleep=sleep,
                       watchdog_s=120)
    asyncio.run(radio.run(stop))
    assert waits == [120, 100, 120]  # heard 20 s before the end: 100 s more; then anew
    assert radio.restarts == 1


def test_bleak_errors_are_translated_logged_once_and_retried_with_backoff(caplog) -> None:
    air, waits = VirtualAir(), []
    air.passive_supported = False
    air.start_failures = [BleakError("org.bluez.Error.NotReady")] * 4

    async def record_sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(0)

    radio = BleakRadio(lambda *a: None, clock=FakeClock(), backend=air.backend,
                       sleep=record_sleep, backoff_max_s=4, poll_s=0.01)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(radio.run(stop))
        await until(lambda: air.scanners)
        stop.set()
        await task

    asyncio.run(scenario())
    assert waits[:2] == [1.0, 2.0]
    assert radio.failures == 2
    assert caplog.text.count("Bluetooth adapter hci0 failed") == 1


def test_hub_exception_does_not_stop_the_radio(caplog) -> None:
    air = VirtualAir()
    air.add_watch(mac_for(0), key_for(0))

    def explode(mac: str, data: bytes, rssi: int | None) -> None:
        raise RuntimeError("boom")

    radio = BleakRadio(explode, clock=FakeClock(), backend=air.backend)
    asyncio.run(radio.start())
    air.press(mac_for(0))
    air.press(mac_for(0))
    assert radio.heard == 2
    assert "scanning goes on" in caplog.text


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_s(n, cap_s=60) for n in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff_s(10_000, cap_s=60) == 60


def test_translate_names_the_adapter_and_what_to_check() -> None:
    error = translate(BleakError("No powered Bluetooth adapters found"), "hci0")
    assert isinstance(error, RadioError)
    assert "hci0" in str(error) and "bluetoothctl show" in str(error)
    assert "retr" not in str(error)  # pair says it too, and pair tries once


def test_non_bthome_adverts_are_ignored() -> None:
    air, heard = VirtualAir(), []
    radio = make_radio(air, FakeClock(), heard)
    asyncio.run(radio.start())
    from bleak.backends.scanner import AdvertisementData

    adv = AdvertisementData(None, {0x004C: b"\x02\x15"}, {}, [], None, -70, ())
    scanner = air.scanners[0]
    scanner.call_detection_callbacks(scanner.create_or_update_device("X", "X", None, None, adv), adv)
    assert heard == []


@pytest.mark.parametrize("kind", ["press", "double_press", "triple_press", "long_press"])
def test_air_press_kinds_are_real_frames(kind: str) -> None:
    air, heard = VirtualAir(), []
    air.add_watch(mac_for(0), key_for(0))
    radio = make_radio(air, FakeClock(), heard)
    asyncio.run(radio.start())
    air.press(mac_for(0), kind)
    from firmware_bridge.ble.bthome import BTHomeKey, decode_frame

    frame = decode_frame(heard[0][1], mac_for(0), BTHomeKey(key_for(0)))
    assert frame.mic_verified and any(o.value == kind for o in frame.objects)


def test_foreign_devices_talk_at_the_given_rate() -> None:
    air, heard = VirtualAir(), []
    radio = make_radio(air, FakeClock(), heard)

    async def scenario() -> None:
        await radio.start()
        stop = asyncio.Event()
        task = asyncio.create_task(air.foreign_at(200.0, stop))
        await asyncio.sleep(0.5)
        stop.set()
        await task

    asyncio.run(scenario())
    assert 60 <= len(heard) <= 140
    assert all(mac.startswith("F0:") for mac, _, _ in heard)
