"""SOS latency on both paths, quiet and busy: from a watch frame's arrival to the alert's
MQTT PUBLISH, and to the first AT+CMGS written to the modem.

300 virtual watches send heartbeats (30 every tenth of a second: each watch about once a
second, up to 300 frames a second) while watches press SOS one at a time (1,000 presses
a path unless told otherwise); the cancel window is 0 and each alert is taken
(acknowledged) once measured, so that every press opens a new one. The production hub
runs on real time:
- MQTT: the hub with an [uplink] to a Mosquitto on loopback and no modem, with the
  reference server (`edge-hub server`, a process of its own) acknowledging its batches.
  The time is when a subscriber on the same broker (a process of its own, as a server
  is) receives the PUBLISH carrying the alert, so it includes the broker's hop: an upper
  bound of the PUBLISH on the wire.
  Same-run baseline: a raw paho client publishing a message of the same size to that
  subscriber, one at a time.
- SMS: the hub without an uplink and with the emulated modem on a pseudo-terminal; the
  serial port is wrapped only to timestamp the bytes "AT+CMGS=" as they are written.
Each path runs quiet, then busy: a process spinning on each core of the machine.
Run: .venv/bin/python tests/bench/sos_latency.py [--quick] [--presses N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import serial
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cloud_sync.uplink.local_broker import LocalMosquitto, free_port  # noqa: E402
from edge.app import HubApp, build_hub  # noqa: E402
from firmware_bridge.simulators.modem_emulator import ModemEmulator  # noqa: E402
from firmware_bridge.simulators.virtual_air import VirtualAir  # noqa: E402
from tests.bench.building import config_for, population  # noqa: E402
from tests.building import mac_for  # noqa: E402

CMGS_WRITES: list[float] = []
MQTT_GOAL_MS, SMS_GOAL_MS = 20.0, 50.0
WATCHES = 300


class TimedSerial(serial.Serial):
    """pyserial's port, noting when each AT+CMGS command leaves for the modem."""

    def write(self, data: Any) -> int | None:
        if bytes(data).startswith(b"AT+CMGS="):
            CMGS_WRITES.append(time.perf_counter())
        return super().write(data)


class Subscriber:
    """A paho client on the broker, in a process of its own, noting when each alert's
    PUBLISH arrives (by watch) and each of the floor's messages.

    A process of its own, as the server is: a thread in this one would have to wait for
    this interpreter's lock (held by the hub's loop) before it could even note the time,
    which no real subscriber does. Its times are perf_counter's, the machine's monotonic
    clock, which both processes read alike."""

    def __init__(self, port: int, topic: str) -> None:
        self.raised: dict[str, list[float]] = {}
        self.arrivals: list[float] = []
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--subscriber", str(port), topic],
            stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "subscribed":
            self.process.kill()
            raise RuntimeError("the bench's subscriber could not subscribe")
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for text in self.process.stdout:
            kind, at, *watches = text.split()
            if kind == "raw":
                self.arrivals.append(float(at))
            for mac in watches:
                self.raised.setdefault(mac, []).append(float(at))

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self._reader.join(5)


def subscribe(port: int, topic: str) -> None:
    """The subscriber's process: a line per message, "raw <time>" or "raised <time>
    <watch>...", until it is terminated."""
    def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        at = time.perf_counter()
        if message.topic == "bench/raw":
            print("raw", at, flush=True)
        elif b"alert.raised" in message.payload:
            watches = [str(event.get("watch", "")).upper()
                       for event in json.loads(message.payload).get("events", [])
                       if event.get("type") == "alert.raised"]
            print("raised", at, *watches, flush=True)

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-{os.getpid()}")
    client.on_connect = lambda c, u, f, rc, p: c.subscribe([(topic, 1), ("bench/raw", 0)])
    client.on_subscribe = lambda c, u, mid, rcs, p: print("subscribed", flush=True)
    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.loop_forever()


async def heartbeats(air: VirtualAir, stop: asyncio.Event) -> None:
    sent = 0
    while not stop.is_set():
        for i in range(0, WATCHES, 10):
            air.battery(mac_for((sent + i) % WATCHES), 50 + sent % 50)
        sent += 30
        for watch in air.watches.values():
            watch.sent.clear()  # the simulator's record of its frames: not needed here
        await asyncio.sleep(0.1)


async def presses(app: HubApp, air: VirtualAir, count: int,
                  heard: Callable[[str, int, float], float | None]) -> list[float]:
    """Press `count` times (each watch in turn), each time until `heard` reports when the
    press got out; then the alert is taken so that the next press opens a new one, and
    the texts that says so are out before the next press."""
    stop = asyncio.Event()
    hub = asyncio.create_task(app.run(stop))
    while not (air.scanners and (app.worker is None or app.worker.ready)
               and (app.uplink is None or app.uplink.sync.connected)):
        await asyncio.sleep(0.02)
    beats = asyncio.create_task(heartbeats(air, stop))
    latencies = []
    for n in range(count):
        mac = mac_for(n % WATCHES).upper()
        before = n // WATCHES
        arrived = time.perf_counter()
        air.press(mac)
        while (out := heard(mac, before, arrived)) is None:
            if time.perf_counter() - arrived > 10:
                raise RuntimeError(f"press {n} ({mac}) did not get out within 10 s "
                                   f"({'SMS' if app.worker else 'MQTT'} path)")
            await asyncio.sleep(0.0005)
        latencies.append((out - arrived) * 1000)
        app.hub.acknowledge_open("bench")
        await asyncio.sleep(0.03)
        while app.worker is not None and (app.sms.queue_depth() or
                                          time.perf_counter() - max(CMGS_WRITES) < 0.2):
            await asyncio.sleep(0.01)
    stop.set()
    await asyncio.gather(hub, beats)
    return latencies


def sms_path(count: int, folder: Path) -> list[float]:
    """Press -> first AT+CMGS, the hub offline with the emulated modem."""
    modem = ModemEmulator()
    CMGS_WRITES.clear()
    try:
        port = modem.start()
        air = population()
        app = build_hub(config_for(port, WATCHES), backend=air.backend,
                        database=folder / f"sms-{time.monotonic_ns()}.db",
                        serial_factory=TimedSerial)

        def heard(mac: str, before: int, arrived: float) -> float | None:
            return next((at for at in CMGS_WRITES if at >= arrived), None)

        return run_and_close(app, air, count, heard)
    finally:
        modem.stop()


def mqtt_path(count: int, folder: Path, broker: LocalMosquitto) -> list[float]:
    """Press -> the alert's PUBLISH at a subscriber, the hub online without a modem."""
    subscriber = Subscriber(broker.port, "eldercare/v1/c/bench/events")
    try:
        air = population()
        app = build_hub(config_for(None, WATCHES, broker.url), backend=air.backend,
                        database=folder / f"mqtt-{time.monotonic_ns()}.db")

        def heard(mac: str, before: int, arrived: float) -> float | None:
            arrivals = subscriber.raised.get(mac, [])
            return arrivals[before] if len(arrivals) > before else None

        return run_and_close(app, air, count, heard)
    finally:
        subscriber.close()


def run_and_close(app: HubApp, air: VirtualAir, count: int,
                  heard: Callable[[str, int, float], float | None]) -> list[float]:
    try:
        return asyncio.run(presses(app, air, count, heard))
    finally:
        app.close()


def raw_paho(count: int, broker: LocalMosquitto) -> list[float]:
    """The floor: a raw paho client's PUBLISH (QoS 1, 1 kB) to the same subscriber."""
    subscriber = Subscriber(broker.port, "bench/none")
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-raw-{os.getpid()}")
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    latencies = []
    try:
        for n in range(count + 5):  # the first five warm the connections up: not counted
            seen = len(subscriber.arrivals)
            sent = time.perf_counter()
            client.publish("bench/raw", b"x" * 1024, qos=1)
            while len(subscriber.arrivals) == seen:
                time.sleep(0.0002)
            if n >= 5:
                latencies.append((subscriber.arrivals[seen] - sent) * 1000)
            time.sleep(0.01)
    finally:
        client.disconnect()
        client.loop_stop()
        subscriber.close()
    return latencies


@contextmanager
def server(broker: LocalMosquitto, folder: Path) -> Iterator[None]:
    """The reference server acknowledging the hub's batches, in a process of its own."""
    command = [str(Path(sys.executable).parent / "edge-hub"), "server", "--broker", broker.url,
               "--db", f"sqlite:///{folder / 'server.db'}"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.5)
        yield
    finally:
        process.terminate()
        process.wait(10)


@contextmanager
def cpu_hogs(busy: bool) -> Iterator[None]:
    """With `busy`, a process spinning on each core while the block runs."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(os.cpu_count() or 1)] if busy else []
    try:
        time.sleep(0.5 if hogs else 0)
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def line(what: str, figures: dict[str, list[float]], goal_ms: float | None) -> str:
    parts = [f"{load} p50 {statistics.median(values):6.2f} ms p99 "
             f"{percentile(values, 0.99):6.2f} ms" for load, values in figures.items()]
    verdict = "" if goal_ms is None else (
        f"  goal p99 <= {goal_ms:.0f} ms: " + ("PASS" if all(
            percentile(values, 0.99) <= goal_ms for values in figures.values()) else "FAIL"))
    return f"  {what}\n    " + ";  ".join(parts) + verdict


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20 presses a path")
    parser.add_argument("--presses", type=int, help="presses a path (default 1,000)")
    parser.add_argument("--quiet-only", action="store_true", help="skip the busy runs")
    parser.add_argument("--subscriber", nargs=2, metavar=("PORT", "TOPIC"),
                        help=argparse.SUPPRESS)  # the subscriber's own process
    args = parser.parse_args(argv)
    if args.subscriber:
        subscribe(int(args.subscriber[0]), args.subscriber[1])
        return 0
    count = args.presses or (20 if args.quick else 1000)
    loads = ("quiet",) if args.quiet_only else ("quiet", "busy")
    results: dict[str, dict[str, list[float]]] = {"raw": {}, "mqtt": {}, "sms": {}}
    logging.disable(logging.CRITICAL)
    try:
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            broker = LocalMosquitto(folder, port=free_port()).start()
            try:
                with server(broker, folder):
                    for load in loads:
                        with cpu_hogs(load == "busy"):
                            results["raw"][load] = raw_paho(count, broker)
                            results["mqtt"][load] = mqtt_path(count, folder, broker)
                            results["sms"][load] = sms_path(count, folder)
            finally:
                broker.stop()
    finally:
        logging.disable(logging.NOTSET)
    print(f"SOS latency, {WATCHES} watches sending heartbeats, cancel window 0, {count} presses "
          f"a path; busy = a process spinning on each of the {os.cpu_count()} cores:")
    print(line("raw paho PUBLISH -> subscriber (the same-run floor):", results["raw"], None))
    print(line("press -> the alert's PUBLISH at a subscriber (MQTT path):", results["mqtt"],
               MQTT_GOAL_MS))
    print(line("press -> first AT+CMGS written (SMS path):", results["sms"], SMS_GOAL_MS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
