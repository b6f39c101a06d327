"""Idle CPU and memory: how much of a core the running hub uses when little happens, and
how much memory it holds when much does.

The production hub runs on real time with the emulated modem on a pseudo-terminal, the
way `edge-hub simulate` runs it: first with 300 watches each sending one heartbeat every
30 s (10 frames a second in all), then with the same watches silent, each in three
windows, as the issue measured (min/median/max of 3); the goal is judged on the median.
The frames are encrypted before each window (a watch does that, not the hub), and the
modem emulator's thread is left out: what is counted is the hub's own threads' CPU time
(/proc/self/task: the scheduler's nanoseconds, where the kernel keeps them, else clock
ticks), divided by the wall time, and how often those threads were woken (their voluntary
context switches): the figure that does not depend on what the machine charges for a
wake. The same-run baselines are a bare event loop woken by each frame's moment and
doing nothing, and one that also decodes each frame and commits its counter to SQLite, a
commit a frame (the least any hub that keeps counters durable does); the hub's figure is
also given as a multiple of the second. Last, the same heartbeats with the hub's uplink
connected, as an installed hub runs: a loopback Mosquitto and the community server in a
process of its own (not counted) storing each event and acknowledging each batch.

Memory: in a process of its own, the hub with 500 watches each sending a heartbeat every
second (frames made as they are sent), its resident memory (VmRSS) after 30 s, and the
most it held (VmHWM). That process also holds the simulated radio and modem: the modules
they and this bench load beyond the hub's own (measured in the same run: the same imports
alone, against `edge.app` and the command line alone) are taken off to judge the goal;
their objects at run time are not, so the figure is still an upper bound of the hub's.
Run: .venv/bin/python tests/bench/idle.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from edge.app import HubApp, build_hub  # noqa: E402
from firmware_bridge.ble.bthome import BTHomeKey, decode_frame  # noqa: E402
from firmware_bridge.simulators.modem_emulator import ModemEmulator  # noqa: E402
from firmware_bridge.simulators.virtual_air import (  # noqa: E402
    OBJ_BATTERY,
    OBJ_PACKET_ID,
    VirtualAir,
)
from tests.bench.building import config_for, population  # noqa: E402
from tests.building import mac_for  # noqa: E402

WATCHES = 300
EVERY_S = 30.0
TICK_S = 0.1
GOAL_BUSY, GOAL_SILENT = 1.0, 0.2  # percent of one core
RSS_WATCHES, RSS_GOAL_MB = 500, 45.0


def hub_usage(left_out: set[int]) -> tuple[float, int]:
    """CPU seconds used so far by this process's threads, but those in `left_out`, and how
    often they went to sleep and were woken (voluntary context switches)."""
    total, wakes = 0.0, 0
    for task in Path("/proc/self/task").iterdir():
        if int(task.name) in left_out:
            continue
        try:
            total += thread_cpu_s(task)
            status = (task / "status").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue  # the thread ended meanwhile
        wakes += int(status.split("voluntary_ctxt_switches:")[1].split()[0])
    return total, wakes


def thread_cpu_s(task: Path) -> float:
    """One thread's CPU seconds: the scheduler's count in nanoseconds (schedstat), or,
    where the kernel keeps none, utime + stime in clock ticks (10 ms steps)."""
    try:
        return int((task / "schedstat").read_text().split()[0]) / 1e9
    except (FileNotFoundError, IndexError, ValueError):
        fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / 100.0


def frames_for(air: VirtualAir, watches: int, seconds: float) -> list[tuple[str, bytes]]:
    """The watches' heartbeats for `seconds` (each one every EVERY_S, in turn), encrypted
    now, in the order they are sent."""
    frames = []
    for n in range(int(watches * seconds / EVERY_S)):
        watch = air.watches[mac_for(n % watches).upper()]
        watch.battery = 59 if watch.battery == 60 else 60  # a change, however long the window
        watch.packet_id = (watch.packet_id + 1) % 256
        frames.append((watch.mac, watch.frame([(OBJ_PACKET_ID, watch.packet_id),
                                               (OBJ_BATTERY, watch.battery)])))
    return frames


async def window(air: VirtualAir, frames: list[tuple[str, bytes]], seconds: float,
                 left_out: set[int]) -> tuple[float, float]:
    """Send `frames` evenly over `seconds`, each from a loop callback of its own, as
    BlueZ's adverts reach bleak (a D-Bus reader callback); the hub's share of a core, in
    percent, and its threads' wake-ups a second. Without frames nothing but the hub wakes."""
    loop = asyncio.get_running_loop()
    (started_cpu, started_wakes), started = hub_usage(left_out), loop.time()
    every = seconds / len(frames) if frames else seconds

    def send(n: int) -> None:
        mac, data = frames[n]
        air.emit(mac, data, -60)
        if n + 1 < len(frames):
            loop.call_at(started + (n + 1) * every, send, n + 1)

    if frames:
        loop.call_at(started, send, 0)
    await asyncio.sleep(seconds)
    (cpu, wakes), elapsed = hub_usage(left_out), loop.time() - started
    return (cpu - started_cpu) / elapsed * 100, (wakes - started_wakes) / elapsed


async def wake_floor(seconds: float, wakes: int) -> float:
    """The same-run baseline: an event loop woken `wakes` times, evenly over `seconds`, by
    callbacks that do nothing; its thread's share of a core, in percent. What this machine
    charges for waking a sleeping Python process that often (a virtual machine may charge
    milliseconds a wake, a Pi some microseconds)."""
    loop = asyncio.get_running_loop()
    started_cpu, started = time.thread_time(), loop.time()
    every = seconds / max(wakes, 1)
    for n in range(wakes):
        loop.call_at(started + n * every, lambda: None)
    await asyncio.sleep(seconds)
    return (time.thread_time() - started_cpu) / (loop.time() - started) * 100


Windows = list[tuple[float, float]]  # (percent of a core, wake-ups a second) of each


async def work_floor(air: VirtualAir, frames: list[tuple[str, bytes]], seconds: float,
                     database: Path) -> float:
    """The same-run floor of the work: an event loop woken by each frame, evenly over
    `seconds`, that decodes it (BTHome, AES-CCM) and commits its counter in a transaction
    of its own to a SQLite file in WAL mode (synchronous=NORMAL), and does nothing else:
    the least a hub that keeps each watch's counter durable within 50 ms does. Its
    thread's share of a core, in percent."""
    keys = {mac: BTHomeKey(watch.key) for mac, watch in air.watches.items() if watch.key}
    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE counters (mac TEXT PRIMARY KEY, counter INTEGER NOT NULL)")
    loop = asyncio.get_running_loop()
    started_cpu, started = time.thread_time(), loop.time()
    every = seconds / max(len(frames), 1)

    def handle(mac: str, data: bytes) -> None:
        frame = decode_frame(data, mac, keys[mac])
        conn.execute("BEGIN")
        conn.execute("INSERT INTO counters VALUES (?, ?) ON CONFLICT(mac) DO UPDATE SET "
                     "counter = excluded.counter", (mac, frame.counter))
        conn.execute("COMMIT")

    try:
        for n, (mac, data) in enumerate(frames):
            loop.call_at(started + n * every, handle, mac, data)
        await asyncio.sleep(seconds)
        return (time.thread_time() - started_cpu) / (loop.time() - started) * 100
    finally:
        conn.close()


async def measure(app: HubApp, air: VirtualAir, seconds: float, left_out: set[int],
                  windows: int, silent_too: bool = True) -> tuple[Windows, Windows]:
    stop = asyncio.Event()
    hub = asyncio.create_task(app.run(stop))
    while not (air.scanners and app.worker is not None and app.worker.ready
               and (app.uplink is None or app.uplink.sync.connected)):
        await asyncio.sleep(0.05)
    await asyncio.sleep(min(3.0, seconds))  # start-up work (roster, first supervision) done
    busy = []
    for _ in range(windows):
        busy.append(await window(air, frames_for(air, WATCHES, seconds), seconds, left_out))
        await asyncio.sleep(2.0)
    silent = [await window(air, [], seconds, left_out) for _ in range(windows if silent_too else 0)]
    stop.set()
    await hub
    return busy, silent


def with_uplink(port: str, seconds: float, windows: int, folder: Path,
                left_out: set[int]) -> tuple[Windows, int, int]:
    """The same hub and heartbeats with its uplink connected (a loopback Mosquitto) to the
    community server, in a process of its own, storing and acknowledging every event:
    the hub's busy windows, the events it wrote and how many the server stored."""
    from cloud_sync.uplink.local_broker import LocalMosquitto, free_port
    from tests.bench.sos_latency import server

    broker = LocalMosquitto(folder, port=free_port()).start()
    try:
        with server(broker, folder):
            air = population(WATCHES)
            app = build_hub(config_for(port, WATCHES, broker.url), backend=air.backend,
                            database=folder / "uplink.db")
            try:
                busy, _ = asyncio.run(measure(app, air, seconds, left_out, windows, False))
                written = app.store.db.execute("SELECT count(*) FROM outbox").fetchone()[0]
            finally:
                app.close()
            time.sleep(1.0)  # the server stores what came last
        with sqlite3.connect(folder / "server.db") as stored:
            return busy, written, stored.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        broker.stop()


def spread(windows: Windows) -> tuple[str, float, float]:
    """'min/median/max' of the windows' CPU figures, the median, and the median's wake-ups."""
    ordered = sorted(windows)
    cpu, wakes = ordered[len(ordered) // 2]
    return "/".join(f"{c:.2f}" for c in (ordered[0][0], cpu, ordered[-1][0])), cpu, wakes


async def busy_for(app: HubApp, air: VirtualAir, seconds: float) -> None:
    """Each watch sends a heartbeat every second, for `seconds`."""
    stop = asyncio.Event()
    hub = asyncio.create_task(app.run(stop))
    while not (air.scanners and app.worker is not None and app.worker.ready):
        await asyncio.sleep(0.05)
    started, sent = time.monotonic(), 0
    while time.monotonic() - started < seconds:
        due = int((time.monotonic() - started) * RSS_WATCHES)
        for n in range(sent, due):
            air.battery(mac_for(n % RSS_WATCHES), 50 + (n // RSS_WATCHES) % 2)
        sent = due
        for watch in air.watches.values():
            watch.sent.clear()  # the simulator's own record of frames: not the hub's memory
        await asyncio.sleep(TICK_S)
    stop.set()
    await hub


def status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def memory_phase(seconds: float, baseline: bool) -> int:
    """Print this process's VmRSS and VmHWM: the busy hub's, or with `baseline` only the
    imports'."""
    if baseline:
        print(f"{status_mb('VmRSS'):.1f} {status_mb('VmHWM'):.1f}")
        return 0
    logging.disable(logging.CRITICAL)
    modem = ModemEmulator()
    try:
        port = modem.start()
        with tempfile.TemporaryDirectory() as folder:
            air = population(RSS_WATCHES)
            app = build_hub(config_for(port, RSS_WATCHES), backend=air.backend,
                            database=Path(folder) / "hub.db")
            try:
                asyncio.run(busy_for(app, air, seconds))
                print(f"{status_mb('VmRSS'):.1f} {status_mb('VmHWM'):.1f}")
            finally:
                app.close()
    finally:
        modem.stop()
    return 0


def memory(seconds: float) -> tuple[list[float], list[float], list[float]]:
    """(VmRSS, VmHWM) of the busy hub, of its imports alone, and of the hub's imports
    without the simulators and this bench, each in a process of its own."""
    def run(*extra: str) -> list[float]:
        answer = subprocess.run([sys.executable, __file__, "--memory-phase", str(seconds),
                                 *extra], check=True, capture_output=True, text=True)
        return [float(word) for word in answer.stdout.split()]
    hub_only = subprocess.run(
        [sys.executable, "-c", "import edge.app, edge.tools.cli; from pathlib import Path; "
         "kept = dict(line.split(':', 1) for line in Path('/proc/self/status').read_text()"
         ".splitlines()); print(*(int(kept[k].split()[0]) / 1024 for k in ('VmRSS', 'VmHWM')))"],
        check=True, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2])
    return run(), run("--baseline"), [float(word) for word in hub_only.stdout.split()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10 s windows instead of 60 s")
    parser.add_argument("--seconds", type=float, help="windows this long (a smoke test)")
    parser.add_argument("--windows", type=int, default=3,
                        help="windows of each kind (busy, silent); the median is judged")
    parser.add_argument("--memory-phase", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_phase is not None:
        return memory_phase(args.memory_phase, args.baseline)
    seconds = args.seconds or (10.0 if args.quick else 60.0)
    logging.disable(logging.CRITICAL)
    modem = ModemEmulator()
    try:
        port = modem.start()
        left_out = {thread.native_id for thread in threading.enumerate()
                    if thread.name == "modem-emulator" and thread.native_id is not None}
        with tempfile.TemporaryDirectory() as folder:
            air = population(WATCHES)
            app = build_hub(config_for(port, WATCHES), backend=air.backend,
                            database=Path(folder) / "hub.db")
            try:
                busy, silent = asyncio.run(measure(app, air, seconds, left_out,
                                                   max(1, args.windows)))
                floor = asyncio.run(wake_floor(seconds, int(WATCHES * seconds / EVERY_S)))
                work = asyncio.run(work_floor(air, frames_for(air, WATCHES, seconds), seconds,
                                              Path(folder) / "floor.db"))
            finally:
                app.close()
            online, written, stored = with_uplink(port, seconds, max(1, args.windows),
                                                  Path(folder), left_out)
    finally:
        modem.stop()
        logging.disable(logging.NOTSET)
    plural = "s" if len(busy) > 1 else ""
    print(f"Idle CPU of the running hub (its own threads; {len(busy)} window{plural} of "
          f"{seconds:.0f} s each, min/median/max; the median is judged):")
    (busy_spread, busy_cpu, busy_wakes) = spread(busy)
    (silent_spread, silent_cpu, silent_wakes) = spread(silent)
    print(f"  {WATCHES} watches, one heartbeat each every {EVERY_S:.0f} s, each a battery "
          f"change: {busy_spread} % of a core (goal <= {GOAL_BUSY} %) "
          f"{'PASS' if busy_cpu <= GOAL_BUSY else 'FAIL'}; {busy_wakes:.1f} wake-ups a second")
    print(f"    same-run baselines: a bare event loop woken by each frame, doing nothing: "
          f"{floor:5.2f} % of a core;")
    print(f"      one that also decodes the frame and commits its counter to SQLite (WAL, "
          f"a commit a frame), nothing else: {work:5.2f} % of a core; the hub is "
          f"{busy_cpu / work if work else float('inf'):.1f}x that")
    print(f"  the same watches silent: {silent_spread} % of a core (goal <= {GOAL_SILENT} %) "
          f"{'PASS' if silent_cpu <= GOAL_SILENT else 'FAIL'}; {silent_wakes:.1f} wake-ups "
          f"a second")
    (online_spread, online_cpu, online_wakes) = spread(online)
    print(f"  the same heartbeats with the uplink connected (loopback Mosquitto; the community "
          f"server in its own process stored {stored:,} of the {written:,} events the hub "
          f"wrote, acknowledging each batch): {online_spread} % of a core (goal <= "
          f"{GOAL_BUSY} %) {'PASS' if online_cpu <= GOAL_BUSY else 'FAIL'}; "
          f"{online_wakes:.1f} wake-ups a second")
    (rss, peak), (base, _), (hub_only, _) = memory(min(seconds, 30.0))
    print(f"Memory of the running hub, {RSS_WATCHES} watches each sending a heartbeat every "
          f"second (with the simulated radio and modem):")
    simulators = base - hub_only
    alone = rss - simulators
    print(f"  VmRSS {rss:.1f} MB, at most {peak:.1f} MB; the same imports alone {base:.1f} MB, "
          f"of which the simulators' and this bench's own modules {simulators:.1f} MB")
    print(f"  the hub alone (VmRSS less those modules): {alone:.1f} MB (goal <= "
          f"{RSS_GOAL_MB:.0f} MB) {'PASS' if alone <= RSS_GOAL_MB else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
