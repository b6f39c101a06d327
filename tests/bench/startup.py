"""Start-up benchmark: a building of 3,000 watches, from hub.toml to READY=1.

- Configuration load: `load_config` of a hub.toml with 3,000 residents, 3,000 watches
  (their keys in a keys file, as on a real hub) and 3,000 contacts, each run in a fresh
  process so nothing is cached; goal: the median at most 0.3 s.
  Same-run baseline: `tomli` (the TOML parser the hub uses) alone reading the same two
  files in a fresh process, and the ratio of the two (what our checks cost on top of
  TOML parsing); Python's own tomllib on them too, for comparison.
- Start-up to ready: `edge-hub simulate --offline` on that building (the hub built by the
  same composition as `edge-hub run`, its watches on the virtual air and its modem the AT
  emulator), from the process's start until it sends READY=1 to NOTIFY_SOCKET, as
  systemd sees a Type=notify unit get ready; once on a fresh database (the roster is
  written in full) and once restarted on it (the roster is already stored); goal: each
  median at most 2 s.
  Same-run baseline: the same command on the demo building (config/demo.toml, 14 watches).
Run: .venv/bin/python tests/bench/startup.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.building import key_for, mac_for  # noqa: E402

EDGE_HUB = Path(sys.executable).parent / "edge-hub"
WATCHES = 3000
LOAD_GOAL_S = 0.3
READY_GOAL_S = 2.0
READY_TIMEOUT_S = 60.0

LOAD = ("import sys, time\nfrom edge.config.loader import load_config\n"
        "start = time.perf_counter(); load_config(sys.argv[1])\n"
        "print(time.perf_counter() - start)\n")
PARSE = ("import sys, time, tomli\nstart = time.perf_counter()\n"
         "for name in sys.argv[1:]:\n    with open(name, 'rb') as f: tomli.load(f)\n"
         "print(time.perf_counter() - start)\n")


def building_toml(count: int, keys_file: Path) -> str:
    """The demo building's sections with `count` residents, watches and contacts."""
    demo = (ROOT / "config" / "demo.toml").read_text(encoding="utf-8")
    sections = demo.split("\n[[residents]]", 1)[0]
    sections = sections.replace('database = "demo.db"',
                                f'database = "hub.db"\nkeys_file = "{keys_file.name}"')
    parts = [sections]
    for i in range(count):
        parts.append(f'[[residents]]\nid = "r-{i:04d}"\nname = "住户{i:04d}"\n'
                     f'room = "{i // 20 + 1}{i % 20:02d}"\nphone = "+86 139 0571 {i:04d}"\n')
    for i in range(count):
        parts.append(f'[[watches]]\nmac = "{mac_for(i)}"\nresident = "r-{i:04d}"\n'
                     f'label = "wrist watch {i}"\n')
    for i in range(count):
        parts.append(f'[[contacts]]\nid = "family-{i:04d}"\nname = "家属 {i:04d}"\n'
                     f'phone = "+86138{i:08d}"\nrole = "family"\ntier = {1 + i % 2}\n'
                     f'resident = "r-{i:04d}"\nalways_sms = {"true" if i % 10 == 0 else "false"}\n')
    return "\n".join(parts)


def keys_toml(count: int) -> str:
    lines = ["[keys]"] + [f'"{mac_for(i)}" = "{key_for(i).hex()}"' for i in range(count)]
    return "\n".join(lines) + "\n"


def write_building(folder: Path, count: int) -> Path:
    """hub.toml and its keys file (mode 0600) for `count` watches, in folder."""
    keys = folder / "keys.toml"
    keys.write_text(keys_toml(count), encoding="utf-8")
    os.chmod(keys, 0o600)
    config = folder / "hub.toml"
    config.write_text(building_toml(count, keys), encoding="utf-8")
    return config


def fresh_process_seconds(script: str, arguments: Sequence[str], runs: int) -> list[float]:
    """What the script prints (its own timing), each run in a new interpreter."""
    times = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", script, *arguments], cwd=ROOT, check=True,
                              capture_output=True, text=True)
        times.append(float(done.stdout.strip().splitlines()[-1]))
    return times


def seconds_to_ready(config: Path, database: Path) -> float:
    """From starting `edge-hub simulate` until its READY=1 arrives; then stop it."""
    folder = database.parent
    notify = folder / "notify.sock"
    notify.unlink(missing_ok=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(str(notify))
        systemd.settimeout(0.1)
        control = free_port()
        command = [str(EDGE_HUB), "simulate", "--offline", "--config", str(config),
                   "--db", str(database), "--control", f"127.0.0.1:{control}",
                   "--control-token", str(folder / "token")]
        environment = {**os.environ, "NOTIFY_SOCKET": str(notify)}
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            return _await_ready(systemd, process, start)
        finally:
            process.terminate()
            process.wait(30)


def _await_ready(systemd: socket.socket, process: subprocess.Popen[bytes], start: float) -> float:
    while time.perf_counter() - start < READY_TIMEOUT_S:
        try:
            message = systemd.recv(4096).decode()
        except TimeoutError:
            if process.poll() is not None:
                raise RuntimeError(f"edge-hub simulate exited with {process.returncode} "
                                   "before it was ready") from None
            continue
        if message.split("\n")[0] == "READY=1":
            return time.perf_counter() - start
    raise RuntimeError(f"edge-hub simulate sent no READY=1 within {READY_TIMEOUT_S:.0f} s")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ready_times(config: Path, folder: Path, runs: int) -> tuple[list[float], list[float]]:
    """Start-up on a fresh database, and restarts on the database the first run left."""
    fresh, again = [], []
    for run in range(runs):
        database = folder / f"run{run}" / "hub.db"
        database.parent.mkdir(parents=True)
        fresh.append(seconds_to_ready(config, database))
        again.append(seconds_to_ready(config, database))
    return fresh, again


def spread(times: Sequence[float]) -> str:
    return f"median {statistics.median(times):.3f} s (min {min(times):.3f}, max {max(times):.3f})"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def bench_load(config: Path, watches: int, runs: int) -> bool:
    loads = fresh_process_seconds(LOAD, [str(config)], runs)
    files = [str(config), str(config.with_name("keys.toml"))]
    parse = statistics.median(fresh_process_seconds(PARSE, files, runs))
    stdlib = statistics.median(fresh_process_seconds(PARSE.replace("tomli", "tomllib"), files,
                                                     runs))
    load = statistics.median(loads)
    ok = load <= LOAD_GOAL_S
    print(f"config load, {watches:,} residents/watches/contacts (keys file): {spread(loads)} "
          f"(goal <= {LOAD_GOAL_S} s; same-run baseline tomli alone {parse:.3f} s, "
          f"load = {load / parse:.1f}x tomli; Python's own tomllib alone {stdlib:.3f} s) "
          f"{verdict(ok)}")
    return ok


def bench_ready(config: Path, watches: int, folder: Path, runs: int) -> bool:
    fresh, again = ready_times(config, folder / "big", runs)
    demo, _ = ready_times(ROOT / "config" / "demo.toml", folder / "demo", runs)
    ok = max(statistics.median(fresh), statistics.median(again)) <= READY_GOAL_S
    print(f"start-up to READY=1, {watches:,} watches: fresh database {spread(fresh)}; "
          f"restart {spread(again)} (goal <= {READY_GOAL_S:g} s; same-run baseline demo "
          f"building, 14 watches: {statistics.median(demo):.3f} s) {verdict(ok)}")
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 runs of each instead of 5")
    parser.add_argument("--watches", type=int, default=WATCHES,
                        help=f"residents, watches and contacts (default {WATCHES:,}; the goals "
                             f"are for {WATCHES:,})")
    parser.add_argument("--runs", type=int, help="runs of each measurement")
    args = parser.parse_args(argv)
    runs = args.runs or (3 if args.quick else 5)
    with tempfile.TemporaryDirectory(prefix="edge-hub-bench-startup-") as scratch:
        folder = Path(scratch)
        config = write_building(folder, args.watches)
        fresh_process_seconds(LOAD, [str(config)], 1)  # warm the byte-code and page caches
        load_ok = bench_load(config, args.watches, runs)
        ready_ok = bench_ready(config, args.watches, folder, runs)
    return 0 if load_ok and ready_ok else 1


if __name__ == "__main__":
    sys.exit(main())
