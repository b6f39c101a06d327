"""SOS latency: from a watch frame's arrival to the first AT+CMGS written to the modem.

300 virtual watches send heartbeats while 20 of them press SOS, one at a time; the cancel
window is 0 and there is no uplink, so every press goes straight to SMS. The production
hub runs on real time with the emulated modem on a pseudo-terminal; the serial port is
wrapped only to timestamp the bytes "AT+CMGS=" as they are written.
Run: .venv/bin/python tests/bench/sos_latency.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import serial

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from edge.app import HubApp, build_hub  # noqa: E402
from edge.config.loader import HubConfig, parse_config  # noqa: E402
from firmware_bridge.simulators.modem_emulator import ModemEmulator  # noqa: E402
from firmware_bridge.simulators.virtual_air import VirtualAir  # noqa: E402
from tests.building import key_for, mac_for  # noqa: E402

CMGS_WRITES: list[float] = []


class TimedSerial(serial.Serial):
    """pyserial's port, noting when each AT+CMGS command leaves for the modem."""

    def write(self, data: Any) -> int | None:
        if bytes(data).startswith(b"AT+CMGS="):
            CMGS_WRITES.append(time.perf_counter())
        return super().write(data)


def config_for(port: str, watches: int) -> HubConfig:
    residents = [{"id": f"r{i}", "name": f"住户{i}", "room": str(100 + i)} for i in range(watches)]
    data = {
        "hub": {"id": "bench", "community": "c", "building": "3号楼", "address": "幸福里路 18 号"},
        "alerts": {"cancel_window_s": 0, "repeat_window_s": 1},
        "modem": {"port": port, "command_timeout_s": 5, "send_timeout_s": 10},
        "residents": residents,
        "watches": [{"mac": mac_for(i), "resident": f"r{i}", "key": key_for(i).hex()}
                    for i in range(watches)],
        "contacts": [{"id": "desk", "name": "值班室", "phone": "+8613800138000",
                      "role": "duty_desk", "tier": 1}],
    }
    return parse_config(data, source="bench.toml", base_dir=Path("."))


async def heartbeats(air: VirtualAir, watches: int, stop: asyncio.Event) -> int:
    sent = 0
    while not stop.is_set():
        for i in range(0, watches, 10):
            air.battery(mac_for((sent + i) % watches), 50 + sent % 50)
        sent += 30
        await asyncio.sleep(0.1)
    return sent


async def measure(app: HubApp, air: VirtualAir, watches: int, presses: int) -> list[float]:
    stop = asyncio.Event()
    hub = asyncio.create_task(app.run(stop))
    while not (air.scanners and app.worker is not None and app.worker.ready):
        await asyncio.sleep(0.02)
    beats = asyncio.create_task(heartbeats(air, watches, stop))
    latencies = []
    for n in range(presses):
        seen = len(CMGS_WRITES)
        arrived = time.perf_counter()
        air.press(mac_for(n * (watches // presses)))
        while len(CMGS_WRITES) == seen:
            await asyncio.sleep(0.0005)
        latencies.append((CMGS_WRITES[seen] - arrived) * 1000)
        while app.sms.queue_depth():
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.gather(hub, beats)
    return latencies


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="50 watches, 5 presses")
    args = parser.parse_args(argv)
    watches, presses = (50, 5) if args.quick else (300, 20)
    logging.disable(logging.CRITICAL)
    modem = ModemEmulator()
    try:
        port = modem.start()
        with tempfile.TemporaryDirectory() as folder:
            air = VirtualAir()
            for i in range(watches):
                air.add_watch(mac_for(i), key_for(i))
            app = build_hub(config_for(port, watches), backend=air.backend,
                            database=Path(folder) / "hub.db", serial_factory=TimedSerial)
            try:
                latencies = asyncio.run(measure(app, air, watches, presses))
            finally:
                app.close()
    finally:
        modem.stop()
        logging.disable(logging.NOTSET)
    p50, p99 = statistics.median(latencies), percentile(latencies, 0.99)
    print(f"SOS latency, frame arrival -> first AT+CMGS written ({watches} watches sending "
          f"heartbeats, {presses} SOS presses, cancel window 0):")
    print(f"  p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   max {max(latencies):6.2f} ms   "
          f"target p99 <= 50 ms: {'PASS' if p99 <= 50 else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
