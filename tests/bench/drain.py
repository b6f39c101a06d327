"""Drain benchmark: a 100,000-event backlog to a loopback Mosquitto, the receiver acking.

The hub side is the production uplink (OutboxSync + PahoUplink + command handling) on a
store filled with telemetry, folded into segments by the uplink's own offline ticks before
timing starts (as the hours offline that build a real backlog would); the reference
receiver (its own process) stores every event and acknowledges. The limit measured in the same run is a bare paho client publishing the
same batches at QoS 1, waiting only for the broker's PUBACKs. Hub and raw runs alternate;
each run is a fresh hub id, so the receiver stores every event of both (the same work
behind either) and is idle again before the next run starts. Both are timed from
connecting; medians are compared.
Run: .venv/bin/python tests/bench/drain.py [--events N] [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cloud_sync.contract import wire  # noqa: E402
from cloud_sync.server.store import open_store  # noqa: E402
from cloud_sync.uplink.local_broker import LocalMosquitto  # noqa: E402
from edge.alerts.hub import Hub  # noqa: E402
from edge.clock import SystemClock  # noqa: E402
from edge.config.loader import parse_config  # noqa: E402
from edge.config.uplink import UplinkSection  # noqa: E402
from edge.storage.store import TELEMETRY_PRIORITY, Store  # noqa: E402
from edge.uplink.service import build_uplink  # noqa: E402
from tests.building import Timing  # noqa: E402

BATCH = 500
WINDOW = 100
ROOT = "eldercare/v1/c"


@dataclass(frozen=True, slots=True)
class Run:
    hub_published: float  # seconds until the broker took every batch of the hub
    hub_acked: float  # seconds until the receiver acknowledged the hub's whole backlog
    raw_published: float  # seconds until the broker took every batch of bare paho
    stored: int  # the hub's events the receiver holds


def fill(store: Store, count: int, hub: str) -> None:
    with store.transaction(durable=False):
        for n in range(count):
            body = {"hub": hub, "watch": f"A4:C1:38:00:{n >> 8 & 0xFF:02X}:{n & 0xFF:02X}",
                    "resident": f"r{n % 300}", "battery": n % 100}
            store.append_event("watch.battery", 1_795_000_000.0 + n, body, TELEMETRY_PRIORITY)


async def drain(store: Store, broker: LocalMosquitto, hub_id: str,
                count: int) -> tuple[float, float]:
    """(seconds until the broker took every batch, seconds until the receiver acked all)."""
    config = parse_config({"hub": {"id": hub_id, "community": "c", "building": "b",
                                   "address": "a"}}, source="bench", base_dir=Path("."))
    section = UplinkSection(broker=broker.url, batch_size=BATCH, window=WINDOW,
                            resend_after_s=30)
    hub = Hub(hub_id, store, SystemClock(), Timing())
    uplink = build_uplink(config, section, hub, SystemClock(), None, lambda: "no modem")
    sync, published = uplink.sync, [0.0]
    publishes_done = sync.publishes_done

    def watched(results: Iterable[tuple[int, bool, str]]) -> None:  # notes the last PUBACK
        publishes_done(results)
        if not published[0] and sync.published >= count and not sync.in_flight:
            published[0] = time.perf_counter()

    sync.publishes_done = watched  # type: ignore[method-assign]
    folded = -1
    while folded != sync.outbox.segments():  # the ticks of the hours offline, untimed
        folded = sync.outbox.segments()
        uplink.tick()
    # A real backlog builds up over hours, checkpointed and written out as it grows: put
    # this one on disk now rather than while the drain is timed.
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    settle()
    stop = asyncio.Event()
    start = time.perf_counter()  # from connecting, as for raw paho
    runner = asyncio.create_task(uplink.run(stop))
    while sync.acked_seq < count:
        await asyncio.sleep(0.02)
    acked = time.perf_counter() - start
    stop.set()
    await runner
    return (published[0] - start if published[0] else acked), acked


def settle() -> None:
    """Before timing: dirty pages written out and Python's garbage collected, so neither
    lands inside the timed run."""
    os.sync()
    gc.collect()


def start_receiver(broker: LocalMosquitto, folder: Path) -> subprocess.Popen[bytes]:
    """The reference receiver in its own process, as a server would run it."""
    process = subprocess.Popen(
        [sys.executable, "-m", "edge.tools.cli", "receiver", "--broker", broker.url, "--db",
         f"sqlite:///{folder}/receiver.db"], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, cwd=Path(__file__).resolve().parents[2])
    time.sleep(1.5)  # let it connect and subscribe
    return process


def payloads(store: Store, hub: str) -> list[bytes]:
    """A store's backlog as the hub's batches, byte for byte, built for the bare client."""
    texts = [row[0] for row in store.db.execute("SELECT wire FROM outbox ORDER BY seq")]
    epoch = store.meta("outbox_epoch") or "raw"
    return [wire.batch(hub, "c", epoch, 1, ",".join(texts[i:i + BATCH]).encode())
            for i in range(0, len(texts), BATCH)]


def raw_publish(broker: LocalMosquitto, hub: str, messages: Sequence[bytes],
                count: int) -> float:
    """Bare paho, QoS 1, same window, until every PUBACK is back; then waits (untimed)
    until the receiver has acknowledged them all, so the next run starts on an idle one."""
    published, stored = threading.Event(), threading.Event()
    acked = [0]
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(WINDOW)

    def on_publish(*_: object) -> None:
        acked[0] += 1
        if acked[0] == len(messages):
            published.set()

    def on_message(_client: object, _userdata: object, message: mqtt.MQTTMessage) -> None:
        command = json.loads(message.payload)
        if command.get("type") == "events_ack" and command.get("seq", 0) >= count:
            stored.set()

    client.on_publish = on_publish
    client.on_message = on_message
    settle()  # as before the hub's run
    start = time.perf_counter()  # from connecting, as for the hub
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    for payload in messages:
        client.publish(f"{ROOT}/{hub}/events", payload, qos=1)
    published.wait(120)
    elapsed = time.perf_counter() - start
    client.subscribe(f"{ROOT}/{hub}/cmd", qos=1)  # acks were sent meanwhile: ask for the
    client.publish(f"{ROOT}/{hub}/events", messages[-1], qos=1).wait_for_publish(10)  # last again
    stored.wait(120)
    client.loop_stop()
    client.disconnect()
    return elapsed


def one_run(broker: LocalMosquitto, folder: Path, number: int, count: int) -> Run:
    hub_id, raw_id = f"hub{number}", f"raw{number}"  # same length: same payload sizes
    raw_store = Store.open(folder / f"{raw_id}.db")
    try:
        fill(raw_store, count, raw_id)
        messages = payloads(raw_store, raw_id)
    finally:
        raw_store.close()
    store = Store.open(folder / f"{hub_id}.db")
    try:
        fill(store, count, hub_id)
        published, acked = asyncio.run(drain(store, broker, hub_id, count))
    finally:
        store.close()
    raw = raw_publish(broker, raw_id, messages, count)
    receiver_store = open_store(f"sqlite:///{folder}/receiver.db")
    stored = len(receiver_store.event_seqs("c", hub_id))
    receiver_store.close()
    return Run(published, acked, raw, stored)


def spread(seconds: Iterable[float]) -> str:
    ordered = sorted(seconds)
    return f"{ordered[0]:.2f}-{ordered[-1]:.2f} s"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=9)  # single runs swing by a third here
    args = parser.parse_args(argv)
    count = args.events
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        broker = LocalMosquitto(folder).start()
        receiver = start_receiver(broker, folder)
        try:
            runs = [one_run(broker, folder, n + 1, count) for n in range(args.runs)]
        finally:
            receiver.terminate()
            receiver.wait(timeout=10)
            broker.stop()
            logging.disable(logging.NOTSET)
    print(f"drain benchmark: {count:,} events in batches of {BATCH}, window {WINDOW}, loopback "
          f"Mosquitto, receiver (own process) storing in SQLite and acknowledging; {args.runs} "
          f"runs, hub and raw paho alternating, each to a fresh hub id")
    for n, run in enumerate(runs, 1):
        print(f"  run {n}: hub uplink {run.hub_published:5.2f} s, raw paho {run.raw_published:5.2f} s, "
              f"hub backlog acknowledged {run.hub_acked:5.2f} s (receiver stored {run.stored:,})")
    published = statistics.median(run.hub_published for run in runs)
    raw = statistics.median(run.raw_published for run in runs)
    acked = statistics.median(run.hub_acked for run in runs)
    slowest = max(run.hub_acked for run in runs)
    rate, raw_rate = count / published, count / raw
    hub_spread = spread(run.hub_published for run in runs)
    raw_spread = spread(run.raw_published for run in runs)
    print(f"  hub uplink, every batch taken by the broker (median): {published:6.2f} s "
          f"{rate:>11,.0f} events/s   runs {hub_spread}")
    print(f"  raw paho QoS 1, same batches (median):                {raw:6.2f} s "
          f"{raw_rate:>11,.0f} events/s   runs {raw_spread}")
    print(f"  ratio {rate / raw_rate:4.2f}x raw   target >= 0.8x: "
          f"{'PASS' if rate >= 0.8 * raw_rate else 'FAIL'}")
    print(f"  whole backlog stored and acknowledged by the receiver: median {acked:5.2f} s "
          f"({count / acked:,.0f} events/s), slowest {slowest:5.2f} s   target <= 15 s: "
          f"{'PASS' if slowest <= 15 else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
