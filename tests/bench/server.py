"""Server benchmark: how soon a press reaches the duty desk's live feed, and how fast the
server stores events on PostgreSQL.

(a) Live feed: a loopback Mosquitto, the server on PostgreSQL with its HTTP front, and a
    console logged in and listening on /api/stream. 1,000 hubs' heartbeats flow (a status
    and a telemetry batch from each hub every 10 s: 200 messages a second). One hub
    publishes an SOS batch at a time; the time is from its PUBACK-less publish call to
    the "changed" line on the console's stream. Goal: p99 <= 1 s.
(b) Storing: the same batches of 50 events stored by the server's store (one transaction
    per batch, with its acknowledgement and alert folding) against raw multi-row INSERTs
    of the same rows into a bare table, in the same run and database. Goal: >= 0.5x.
Needs PostgreSQL at postgresql://postgres@127.0.0.1:5432/test and Mosquitto.
Run: .venv/bin/python tests/bench/server.py [--alerts N] [--batches N]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import requests
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cloud_sync.server.receiver import Receiver  # noqa: E402
from cloud_sync.server.store import open_store  # noqa: E402
from cloud_sync.server.wire import parse_batch  # noqa: E402
from cloud_sync.uplink.local_broker import LocalMosquitto  # noqa: E402
from tests.test_receiver_helpers import (  # noqa: E402
    COMMUNITY,
    alert_event,
    batch,
    event,
    postgres_schema,
    status,
)

ROOT = "eldercare/v1/"
HUBS = 1000


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def heartbeats(client: mqtt.Client, stop: threading.Event) -> int:
    """A status and a telemetry batch from each of 1,000 hubs every 10 s."""
    sent, seq = 0, 0
    while not stop.is_set():
        start = time.monotonic()
        seq += 1
        for number in range(HUBS):
            if stop.is_set():
                break
            hub = f"load-{number}"
            client.publish(f"{ROOT}{COMMUNITY}/{hub}/status",
                           json.dumps(status(hub=hub)).encode(), qos=1)
            client.publish(f"{ROOT}{COMMUNITY}/{hub}/events",
                           json.dumps(batch([event(seq, battery=80)], hub=hub)).encode(), qos=1)
            sent += 2
            time.sleep(max(0.0, start + (number + 1) * 10.0 / HUBS - time.monotonic()))
    return sent


def live_feed(db: str, folder: Path, alerts: int) -> tuple[list[float], int]:
    """Seconds from an SOS publish to the console's "changed", under the heartbeat load."""
    broker = LocalMosquitto(folder).start()
    server = Receiver(broker.url, db, http=("127.0.0.1", 0))
    password = server.people.add("desk", "值班员", "desk", COMMUNITY, now=time.time())
    server.start()
    host, port = server.http_address or ("", 0)
    base = f"http://{host}:{port}"
    desk = requests.Session()
    desk.post(f"{base}/login", data={"username": "desk", "password": password}, timeout=5)
    changed: list[float] = []
    stream = desk.get(f"{base}/api/stream", stream=True, timeout=60)

    def listen() -> None:
        try:
            for line in stream.iter_lines():
                if line == b"data: changed":
                    changed.append(time.perf_counter())
        except (requests.RequestException, OSError):
            return  # the server stopped at the end of the run

    threading.Thread(target=listen, daemon=True).start()
    load = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-load", protocol=mqtt.MQTTv5)
    load.max_queued_messages_set(0)
    load.connect("127.0.0.1", broker.port)
    load.loop_start()
    stop = threading.Event()
    flowing: list[int] = []
    loader = threading.Thread(target=lambda: flowing.append(heartbeats(load, stop)), daemon=True)
    loader.start()
    press = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-press", protocol=mqtt.MQTTv5)
    press.connect("127.0.0.1", broker.port)
    press.loop_start()
    latencies: list[float] = []
    try:
        time.sleep(3.0)  # the load is flowing and the stream has said its first word
        for number in range(alerts):
            before = len(changed)
            sent = time.perf_counter()
            sos = batch([alert_event(1, f"u-{number}", ref=f"A{number:03d}",
                                     counter=10_000 + number)], hub=f"press-{number}")
            press.publish(f"{ROOT}{COMMUNITY}/press-{number}/events", json.dumps(sos).encode(),
                          qos=1)
            while len(changed) == before and time.perf_counter() < sent + 10:
                time.sleep(0.001)
            if len(changed) > before:
                latencies.append(changed[before] - sent)
            time.sleep(0.2)
    finally:
        stop.set()
        loader.join(15)
        for client in (load, press):
            client.disconnect()
            client.loop_stop()
        server.stop()
        broker.stop()
    return latencies, sum(flowing)


def storing(db: str, batches: int, size: int = 50) -> tuple[float, float]:
    """Events stored per second by the server's store, and by raw multi-row INSERTs."""
    import psycopg

    payloads = [json.dumps(batch([event(n * size + k + 1, battery=50) for k in range(size)],
                                 hub=f"store-{n % 100}", epoch=f"e{n % 100}")).encode()
                for n in range(batches)]
    parsed = [parse_batch(payload) for payload in payloads]
    store = open_store(db)
    start = time.perf_counter()
    for one in parsed:
        store.store_batch(one, via="mqtt", now=time.time())
    ours = batches * size / (time.perf_counter() - start)
    store.close()
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("CREATE TABLE raw_events (event_id TEXT PRIMARY KEY, community TEXT, "
                     "hub TEXT, seq BIGINT, type TEXT, at_epoch DOUBLE PRECISION, body TEXT, "
                     "received_at DOUBLE PRECISION)")
        rows = [[(e.event_id, one.community, one.hub, e.seq, e.type, e.at_epoch,
                  e.body, time.time()) for e in one.events] for one in parsed]
        start = time.perf_counter()
        for chunk in rows:
            with conn.transaction():
                marks = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
                conn.execute(f"INSERT INTO raw_events VALUES {marks}",
                             [value for row in chunk for value in row])
        raw = batches * size / (time.perf_counter() - start)
    return ours, raw


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--alerts", type=int, default=100)
    parser.add_argument("--batches", type=int, default=400)
    args = parser.parse_args(argv)
    import tempfile

    with postgres_schema() as db, tempfile.TemporaryDirectory() as folder:
        latencies, flowed = live_feed(db, Path(folder), args.alerts)
    missed = args.alerts - len(latencies)
    p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
    ok_feed = missed == 0 and p99 <= 1.0
    print(f"(a) SOS publish -> console live feed, {len(latencies)} of {args.alerts} alerts, "
          f"{flowed} heartbeat messages from {HUBS} hubs flowing: p50 {p50 * 1000:.0f} ms, "
          f"p99 {p99 * 1000:.0f} ms (goal p99 <= 1000 ms) {'PASS' if ok_feed else 'FAIL'}")
    with postgres_schema() as db:
        ours, raw = storing(db, args.batches)
    ratio = ours / raw
    print(f"(b) events stored on PostgreSQL: server {ours:,.0f}/s, raw multi-row INSERT "
          f"{raw:,.0f}/s, ratio {ratio:.2f} (goal >= 0.5) {'PASS' if ratio >= 0.5 else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
