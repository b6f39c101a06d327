"""Telemetry enqueue benchmark: the hub's durable path for watch telemetry against raw SQLite.

Heartbeats from 300 watches (each with a new battery level; every tenth a position fix
instead) are verified by the gate first, outside the timing. Then, timed:

- the hub: each verified frame handed to the hub as the radio would (Hub.keep), 100
  frames in each turn of the event loop, until everything is committed;
- raw SQLite: the same rows (each frame's counter, history entry, watch state and outbox
  events, with the same JSON body and wire text and a fresh event id) written with
  plain sqlite3 executemany, 100 frames a commit, into the same schema with the same
  settings (WAL, synchronous=NORMAL).

Goal: the hub at >= 0.8x raw. Also printed, for information: the SQL statements the
hub runs per heartbeat. Run: .venv/bin/python tests/bench/enqueue.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from edge.alerts.gate import Admitted  # noqa: E402
from edge.alerts.hub import Hub  # noqa: E402
from edge.alerts.reports import WatchReport, read_report  # noqa: E402
from edge.clock import FakeClock, utc_text  # noqa: E402
from edge.storage.store import TELEMETRY_PRIORITY, Store  # noqa: E402
from firmware_bridge.ble.bthome import BTHomeKey, encode_frame  # noqa: E402
from firmware_bridge.ble.gnss_fix import GnssFix, pack_fix  # noqa: E402
from tests.building import Timing, key_for, mac_for, make_roster  # noqa: E402

PER_TURN = 100  # frames handed to the hub in one turn of the loop; rows a raw commit
GOAL = 0.8
Verified = tuple[Admitted, WatchReport]


def heartbeats(count: int, watches: int) -> list[tuple[str, bytes]]:
    """Encrypted heartbeats with a battery level, counters rising; every tenth is a GNSS fix."""
    keys = [BTHomeKey(key_for(i)) for i in range(watches)]
    adverts = []
    for n in range(count):
        i = n % watches
        objects: list[tuple[int, object]] = [(0x00, n % 256), (0x01, 5 + n % 90)]
        if n % 10 == 0:
            objects = [(0x54, pack_fix(GnssFix(31.2 + i / 1e4, 121.4 + n / 1e6, 8, 4)))]
        adverts.append((mac_for(i), encode_frame(objects, mac=mac_for(i), key=keys[i],
                                                 counter=1 + n // watches)))
    return adverts


def verified(hub: Hub, adverts: Sequence[tuple[str, bytes]]) -> list[Verified]:
    """The gate's work, done before the timing starts."""
    out = []
    for mac, data in adverts:
        admitted = hub.gate.admit(mac, data)
        out.append((admitted, read_report(admitted.frame)))
    return out


def new_hub(folder: Path, watches: int) -> Hub:
    store = Store.open(folder / "hub.db")
    store.apply_roster(make_roster(watches))
    hub = Hub("bench", store, FakeClock(), Timing(repeat_window_s=0))
    hub.start()
    return hub


async def _feed(hub: Hub, frames: Sequence[Verified]) -> None:
    """Each verified frame handed to the hub as the radio's callback would, PER_TURN a turn."""
    for start in range(0, len(frames), PER_TURN):
        for admitted, report in frames[start:start + PER_TURN]:
            hub.keep(admitted, report, -60)
        await asyncio.sleep(0)  # the end of a loop turn: the group is written
    hub.store.flush_telemetry()  # nothing left waiting when the clock stops


def hub_rate(folder: Path, adverts: Sequence[tuple[str, bytes]], watches: int) -> tuple[
        float, int, float]:
    """Frames/s through the hub, outbox rows written, SQL statements per frame."""
    hub = new_hub(folder, watches)
    frames = verified(hub, adverts)
    statements = [0]
    hub.store.db.conn.set_trace_callback(lambda sql: statements.__setitem__(0, statements[0] + 1))
    start = time.perf_counter()
    asyncio.run(_feed(hub, frames))
    elapsed = time.perf_counter() - start
    hub.store.db.conn.set_trace_callback(None)
    rows = int(hub.store.db.execute("SELECT count(*) FROM outbox").fetchone()[0])
    hub.store.close()
    return len(frames) / elapsed, rows, statements[0] / len(frames)


def raw_rate(folder: Path, frames: Sequence[Verified], watches: int) -> tuple[float, int]:
    """Frames/s writing the same rows with plain sqlite3, PER_TURN frames a commit."""
    Store.open(folder / "raw.db").close()  # the same schema and indexes
    conn = sqlite3.connect(folder / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    now, seq, rows = FakeClock().now(), 0, 0
    start = time.perf_counter()
    for first in range(0, len(frames), PER_TURN):
        counters, history, state, fixes, events = [], [], [], [], []
        for admitted, report in frames[first:first + PER_TURN]:
            mac, counter = admitted.watch.mac, admitted.frame.counter
            counters.append((mac, counter, now))
            history.append((mac, counter, admitted.mic, 0, now))
            state.append((now, -60, report.battery, now, mac))
            if report.battery is not None:
                seq = _raw_event(events, seq, now, "watch.battery",
                                 {"watch": mac, "resident": admitted.watch.resident_id,
                                  "battery": report.battery})
            if report.fix is not None:
                fix = report.fix
                fixes.append((mac, fix.lat, fix.lon, fix.accuracy_m, now - fix.age_s, now))
                seq = _raw_event(events, seq, now, "watch.fix", {
                    "watch": mac, "resident": admitted.watch.resident_id, "lat": fix.lat,
                    "lon": fix.lon, "accuracy_m": fix.accuracy_m, "fixed_at": now - fix.age_s})
        conn.execute("BEGIN")
        _raw_writes(conn, counters, history, state, fixes, events)
        conn.execute("COMMIT")
        rows += len(events)
    elapsed = time.perf_counter() - start
    conn.close()
    return len(frames) / elapsed, rows


def _raw_event(events: list[tuple[Any, ...]], seq: int, at: float, type_: str,
               body: dict[str, Any]) -> int:
    seq += 1
    event_id = uuid.uuid4().hex
    wire = {**body, "event_id": event_id, "seq": seq, "type": type_, "at": utc_text(at),
            "at_epoch": at, "clock_synced": False}
    events.append((seq, event_id, type_, at, TELEMETRY_PRIORITY,
                   json.dumps(body, ensure_ascii=False, sort_keys=True),
                   json.dumps(wire, ensure_ascii=False, separators=(",", ":"))))
    return seq


def _raw_writes(conn: sqlite3.Connection, counters: list[Any], history: list[Any],
                state: list[Any], fixes: list[Any], events: list[Any]) -> None:
    conn.executemany(
        "INSERT INTO watch_counters (mac, last_counter, accepted_at) VALUES (?, ?, ?) "
        "ON CONFLICT(mac) DO UPDATE SET last_counter = excluded.last_counter, "
        "accepted_at = excluded.accepted_at", counters)
    conn.executemany("INSERT INTO watch_frames (mac, counter, mic, press, at) "
                     "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", history)
    conn.executemany("UPDATE watches SET last_heard_at = ?1, rssi = ?2, battery = "
                     "coalesce(?3, battery), battery_at = iif(?3 IS NULL, battery_at, ?4) "
                     "WHERE mac = ?5", state)
    conn.executemany(
        "INSERT INTO fixes (watch_mac, lat, lon, accuracy_m, fixed_at, received_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(watch_mac) DO UPDATE SET lat = excluded.lat, "
        "lon = excluded.lon, accuracy_m = excluded.accuracy_m, fixed_at = excluded.fixed_at, "
        "received_at = excluded.received_at", fixes)
    conn.executemany("INSERT INTO outbox (seq, event_id, type, at, priority, body, wire) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)", events)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts, for a smoke run")
    parser.add_argument("--runs", type=int, default=3, help="best of this many runs")
    args = parser.parse_args(argv)
    logging.disable(logging.CRITICAL)  # a fix is logged per frame; not what is measured
    try:
        return _measure(2_000 if args.quick else 30_000, 300, 1 if args.quick else args.runs)
    finally:
        logging.disable(logging.NOTSET)


def _measure(count: int, watches: int, runs: int) -> int:
    adverts = heartbeats(count, watches)
    best_hub = best_raw = 0.0
    hub_rows = raw_rows = 0
    per_frame = 0.0
    for _ in range(runs):  # interleaved, so both see the same machine
        with tempfile.TemporaryDirectory() as folder:
            rate, hub_rows, per_frame = hub_rate(Path(folder), adverts, watches)
            best_hub = max(best_hub, rate)
        with tempfile.TemporaryDirectory() as folder:
            frames = verified(new_hub(Path(folder), watches), adverts)
            rate, raw_rows = raw_rate(Path(folder), frames, watches)
            best_raw = max(best_raw, rate)
    ratio = best_hub / best_raw
    print(f"enqueue benchmark: {count:,} heartbeats from {watches} watches (battery, or a fix "
          f"every tenth), {PER_TURN} frames a loop turn / a raw commit; best of {runs}")
    print(f"hub telemetry enqueue: {best_hub:>9,.0f} frames/s ({hub_rows:,} outbox rows, "
          f"{per_frame:.1f} SQL statements a frame)")
    print(f"raw SQLite, same rows: {best_raw:>9,.0f} frames/s ({raw_rows:,} outbox rows, "
          f"executemany, {PER_TURN} frames a commit)")
    print(f"ratio {ratio:.2f}x  goal >= {GOAL}x: {'PASS' if ratio >= GOAL else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
