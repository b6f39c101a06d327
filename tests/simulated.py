"""`edge-hub simulate` in its own process, driven through its control API, as fault tests
and the campaign drive it: press, reply, inject modem faults, kill -9, start again."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.sms_building import phones

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config" / "demo.toml"
DESK, SON, GRID = "+8613800138001", "+8613800138021", "+8613800138002"  # r-101's tier 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SimulatedHub:
    """One simulated building on a database that outlives the process."""

    def __init__(self, folder: Path, *, config: Path = CONFIG, broker: str | None = None,
                 database: Path | None = None, wrap: list[str] | None = None) -> None:
        self.folder = folder
        self.config = config
        self.broker = broker
        self.database = database or folder / "hub.db"
        self.pdu_log = folder / "pdus.txt"
        self.log = folder / "simulate.log"
        self.wrap = wrap or []  # e.g. unshare and a mount before the command
        self.port = free_port()
        self.token_file = folder / "control-token"
        self.process: subprocess.Popen[bytes] | None = None
        self.token = ""

    # -- the process --------------------------------------------------------------

    def command(self) -> list[str]:
        where = ["--broker", self.broker] if self.broker else ["--offline"]
        return [sys.executable, "-m", "edge.tools.cli", "simulate", "--config", str(self.config),
                "--db", str(self.database), "--pdu-log", str(self.pdu_log),
                "--control", f"127.0.0.1:{self.port}", "--control-token",
                str(self.token_file), *where]

    def start(self, timeout: float = 60.0) -> SimulatedHub:
        log = self.log.open("ab")
        self.process = subprocess.Popen(self.wrap + self.command(), cwd=ROOT, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"simulate exited with {self.process.returncode}:\n"
                                     + self.log.read_text(errors="replace")[-3000:])
            if self._listening():
                self.token = self.token_file.read_text(encoding="ascii").strip()
                return self
            time.sleep(0.05)
        raise AssertionError("simulate did not get ready:\n"
                             + self.log.read_text(errors="replace")[-3000:])

    def _listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def kill(self) -> None:
        """kill -9: no clean stop at all."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, as systemd stops it; returns the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise
        return int(self.process.returncode)

    # -- the control API ----------------------------------------------------------

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             token: str | None = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
            headers={"Authorization": f"Bearer {self.token if token is None else token}",
                     "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def post(self, path: str, body: dict[str, Any]) -> Any:
        status, answer = self.call("POST", path, body)
        assert status == 200, answer
        return answer

    def state(self) -> dict[str, Any]:
        status, answer = self.call("GET", "/state")
        assert status == 200, answer
        return answer  # type: ignore[no-any-return]

    # -- what the phones received -------------------------------------------------

    def inbox(self) -> dict[str, list[str]]:
        if not self.pdu_log.exists():
            return {}
        return phones(self.pdu_log.read_text(encoding="ascii").split())

    def sos_to(self, ref: str | None = None) -> set[str]:
        """Who has an SOS text (of alert `ref`, if given)."""
        return {phone for phone, texts in self.inbox().items()
                if any("回复1" in t and (ref is None or ref in t) for t in texts)}

    def wait_for(self, condition: Any, timeout: float = 30.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"not reached in {timeout:.0f} s: {what}\n"
                                     + self.log.read_text(errors="replace")[-3000:])
            time.sleep(0.1)
