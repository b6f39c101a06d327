"""Footprint of the command line and of the running hub, as the issue on layout asks.

- `edge-hub --help`, wall time from exec to exit (min and median of 7 runs); goal: the
  median under 0.3 s.
  Same-run baseline: `python -c pass`, the interpreter alone.
- The running hub's resident memory: `edge-hub simulate` on the demo building
  (config/demo.toml), read from /proc after it is ready and has run 3 s, twice: offline
  (no [uplink]), and with an [uplink] to a broker and an HTTPS fallback (nothing answers
  there; the hub keeps trying, as on a site whose server is down). Same-run baseline:
  the same command in a process that first imports everything the command line and the
  hub used to import up front (the receiver, doctor, pairing, the demo, the uplink and
  panel wiring with paho, requests and gpiozero); the goal is the hub at least 10 MB
  below that. (The code before the layout issue measured 55.3 MB offline and 55.5 MB with
  the uplink; the baseline here comes within 1 MB of both.)
Run: .venv/bin/python tests/bench/footprint.py [--quick]
"""

from __future__ import annotations

import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EDGE_HUB = Path(sys.executable).parent / "edge-hub"
HELP_GOAL_S = 0.3
RSS_SAVING_GOAL_MB = 10.0
# What the command line and the hub imported up front before the layout issue (the
# receiver of then: its service and store on http.server, without today's ASGI stack; and
# the cryptography package, whose AES-CCM the hub used before it used the system's libcrypto).
EAGER = ("import requests, gpiozero, bleak, paho.mqtt.client, serial, sqlite_utils, http.server, "
         "cryptography.hazmat.primitives.ciphers.aead; "
         "import edge.tools.doctor, edge.tools.pairing, cloud_sync.server.service, "
         "cloud_sync.server.store, cloud_sync.server.roster, cloud_sync.uplink.https, "
         "edge.uplink.service, edge.panel.driver")


def wall(command: list[str], runs: int = 7) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return times


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def hub_rss(prelude: str | None, uplink: bool = False) -> float:
    """RSS of `edge-hub simulate` on the demo building, 3 s after it is ready."""
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        config = ROOT / "config" / "demo.toml"
        where = ["--offline"]
        if uplink:
            config = Path(folder) / "demo-uplink.toml"
            nobody = free_port()
            config.write_text((ROOT / "config" / "demo.toml").read_text(encoding="utf-8") +
                              f'\n[uplink]\nbroker = "mqtt://127.0.0.1:{nobody}"\n'
                              f'http_url = "http://127.0.0.1:{nobody}"\n', encoding="utf-8")
            where = ["--broker", f"mqtt://127.0.0.1:{nobody}"]
        arguments = ["simulate", "--config", str(config),
                     "--db", f"{folder}/hub.db", "--pdu-log", f"{folder}/pdu.log",
                     "--control", f"127.0.0.1:{port}", "--control-token", f"{folder}/token",
                     *where]
        if prelude is None:
            command = [str(EDGE_HUB), *arguments]
        else:
            command = [sys.executable, "-c", f"import sys; {prelude}; from edge.tools.cli import main; "
                       f"sys.argv = ['edge-hub'] + sys.argv[1:]; sys.exit(main())", *arguments]
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    raise RuntimeError(f"simulate exited with {process.returncode}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
            time.sleep(3)
            return rss_mb(process.pid)
        finally:
            process.terminate()
            process.wait(30)


def main(argv: list[str] | None = None) -> int:
    runs = 3 if argv and "--quick" in argv else 7
    wall([str(EDGE_HUB), "--help"], runs=2)  # warm the byte-code and page caches
    python = wall([sys.executable, "-c", "pass"], runs)
    help_times = wall([str(EDGE_HUB), "--help"], runs)
    help_ok = statistics.median(help_times) < HELP_GOAL_S
    print(f"edge-hub --help: min {min(help_times):.3f} s, median {statistics.median(help_times):.3f} s "
          f"(goal < {HELP_GOAL_S} s; python -c pass {min(python):.3f} s) "
          f"{'PASS' if help_ok else 'FAIL'}")
    rss_ok = True
    for uplink, what in ((False, "offline"), (True, "with [uplink] and http_url")):
        hub, eager = hub_rss(None, uplink), hub_rss(EAGER, uplink)
        saving = eager - hub
        rss_ok = rss_ok and saving >= RSS_SAVING_GOAL_MB
        print(f"running hub RSS (demo building, {what}): {hub:.1f} MB; with the old up-front "
              f"imports {eager:.1f} MB; {saving:.1f} MB lower (goal >= {RSS_SAVING_GOAL_MB:.0f} "
              f"MB) {'PASS' if saving >= RSS_SAVING_GOAL_MB else 'FAIL'}")
    return 0 if help_ok and rss_ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
