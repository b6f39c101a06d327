"""A real Mosquitto on a free loopback port, and a TCP proxy that can cut connections."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 5.0, up: bool = True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                if up:
                    return
        except OSError:
            if not up:
                return
        time.sleep(0.02)
    raise RuntimeError(f"port {port} did not come {'up' if up else 'down'} in {timeout} s")


class Broker:
    """mosquitto started by the test on its own port, so the test can stop and restart it."""

    def __init__(self, folder: Path, *, acl: str | None = None) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            raise RuntimeError("mosquitto is not installed; run: sudo apt-get install mosquitto")
        self.binary = binary
        self.folder = folder
        self.port = free_port()
        self.acl = acl
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _config(self) -> Path:
        lines = [f"listener {self.port} 127.0.0.1", "allow_anonymous true",
                 "persistence false", f"log_dest file {self.folder / 'mosquitto.log'}",
                 "max_inflight_messages 0", "max_queued_messages 0"]
        if self.acl is not None:
            acl = self.folder / "acl"
            acl.write_text(self.acl)
            lines.append(f"acl_file {acl}")
        path = self.folder / "mosquitto.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self) -> Broker:
        self.process = subprocess.Popen([self.binary, "-c", str(self._config())],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=5)
            self.process = None
            wait_for_port(self.port, up=False)

    def restart(self) -> None:
        self.stop()
        self.start()


class TcpProxy:
    """Forwards a local port to the broker; `cut()` drops every connection at once."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> int:
        """Drop every connection through the proxy, as a NAT box or a flaky link would."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
        return len(pairs)

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._server.close()
