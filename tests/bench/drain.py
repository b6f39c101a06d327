"""Drain benchmark: a 100,000-event backlog to a loopback Mosquitto, the receiver acking.

The hub side is the production uplink (OutboxSync + PahoUplink + command handling) on a
store filled with telemetry; the reference receiver stores every event and acknowledges.
The same batch payloads are then published by a bare paho client at QoS 1 to the same
topic (the receiver consumes them too, as duplicates), waiting only for the broker's
PUBACKs: the limit measured in the same run. Both are timed from connecting.
Run: .venv/bin/python tests/bench/drain.py [--events N]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cloud_sync.local_broker import LocalMosquitto  # noqa: E402
from cloud_sync.receiver_store import open_store  # noqa: E402
from edge import wire  # noqa: E402
from edge.clock import SystemClock  # noqa: E402
from edge.config import parse_config  # noqa: E402
from edge.config_uplink import UplinkSection  # noqa: E402
from edge.hub import Hub  # noqa: E402
from edge.store import TELEMETRY_PRIORITY, Store  # noqa: E402
from edge.uplink_app import build_uplink  # noqa: E402
from tests.building import Timing  # noqa: E402

BATCH = 500
TOPIC = "eldercare/v1/c/bench/events"  # the raw run goes where the hub's went, receiver too


def fill(store: Store, count: int) -> None:
    with store.transaction(durable=False):
        for n in range(count):
            body = {"hub": "bench", "watch": f"A4:C1:38:00:{n >> 8 & 0xFF:02X}:{n & 0xFF:02X}",
                    "resident": f"r{n % 300}", "battery": n % 100}
            store.append_event("watch.battery", 1_795_000_000.0 + n, body, TELEMETRY_PRIORITY)


async def drain(store: Store, broker: LocalMosquitto, count: int) -> tuple[float, float]:
    """(seconds until the broker took every batch, seconds until the receiver acked all)."""
    config = parse_config({"hub": {"id": "bench", "community": "c", "building": "b",
                                   "address": "a"}}, source="bench", base_dir=Path("."))
    section = UplinkSection(broker=broker.url, batch_size=BATCH, window=100,
                            resend_after_s=30)
    hub = Hub("bench", store, SystemClock(), Timing())
    uplink = build_uplink(config, section, hub, SystemClock(), None, lambda: "no modem")
    stop = asyncio.Event()
    start, published = time.perf_counter(), 0.0  # from connecting, as for raw paho
    runner = asyncio.create_task(uplink.run(stop))
    while uplink.sync.acked_seq < count:
        if not published and uplink.sync.published >= count and not uplink.sync.in_flight:
            published = time.perf_counter() - start
        await asyncio.sleep(0.001)
    elapsed = time.perf_counter() - start
    stop.set()
    await runner
    return published or elapsed, elapsed


def start_receiver(broker: LocalMosquitto, folder: Path) -> subprocess.Popen[bytes]:
    """The reference receiver in its own process, as a server would run it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "receiver", "--broker", broker.url, "--db",
         f"sqlite:///{folder}/receiver.db"], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, cwd=Path(__file__).resolve().parents[2])
    time.sleep(1.5)  # let it connect and subscribe
    return process


def payloads(store: Store) -> list[bytes]:
    """The batches the hub sent, byte for byte, built beforehand for the bare paho client."""
    texts = [row[0] for row in store.db.execute("SELECT wire FROM outbox ORDER BY seq")]
    epoch = store.meta("outbox_epoch")
    return [wire.batch("bench", "c", epoch, 1, texts[i:i + BATCH])
            for i in range(0, len(texts), BATCH)]


def raw_publish(broker: LocalMosquitto, messages: Sequence[bytes]) -> float:
    """Bare paho, QoS 1, same payloads and window, until every PUBACK is back."""
    done = threading.Event()
    acked = [0]
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(100)

    def on_publish(*_: object) -> None:
        acked[0] += 1
        if acked[0] == len(messages):
            done.set()

    client.on_publish = on_publish
    start = time.perf_counter()  # from connecting, as for the hub
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    for payload in messages:
        client.publish(TOPIC, payload, qos=1)
    done.wait(120)
    elapsed = time.perf_counter() - start
    client.loop_stop()
    client.disconnect()
    return elapsed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        broker = LocalMosquitto(Path(folder)).start()
        receiver = start_receiver(broker, Path(folder))
        store = Store.open(Path(folder) / "hub.db")
        try:
            fill(store, args.events)
            published, ours = asyncio.run(drain(store, broker, args.events))
            messages = payloads(store)
            raw = sorted(raw_publish(broker, messages) for _ in range(3))[1]  # median
        finally:
            store.close()
            receiver.terminate()
            receiver.wait(timeout=10)
            broker.stop()
            logging.disable(logging.NOTSET)
        receiver_store = open_store(f"sqlite:///{folder}/receiver.db")
        stored = len(receiver_store.event_seqs("c", "bench"))
        receiver_store.close()
    pub_rate, raw_rate, drain_rate = (args.events / published, args.events / raw,
                                      args.events / ours)
    print(f"drain benchmark: {args.events:,} events in batches of {BATCH}, window 100, "
          f"loopback Mosquitto, receiver (own process) storing in SQLite and acknowledging")
    print(f"  hub uplink, every batch taken by the broker: {published:6.2f} s "
          f"{pub_rate:>11,.0f} events/s")
    print(f"  raw paho QoS 1, same payloads (median of 3):  {raw:5.2f} s {raw_rate:>11,.0f} events/s")
    print(f"  ratio {pub_rate / raw_rate:4.2f}x raw   target >= 0.8x: "
          f"{'PASS' if pub_rate >= 0.8 * raw_rate else 'FAIL'}")
    print(f"  whole backlog stored and acknowledged by the receiver: {ours:6.2f} s "
          f"{drain_rate:>9,.0f} events/s (receiver stored {stored:,})   target <= 15 s: "
          f"{'PASS' if ours <= 15 else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
