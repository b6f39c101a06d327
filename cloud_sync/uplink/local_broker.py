"""A Mosquitto broker started on a free loopback port: for the demo and the tests."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from pathlib import Path

from cloud_sync.uplink.errors import UplinkError


def mosquitto_binary() -> str | None:
    """The mosquitto executable, or None when it is not installed."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 5.0, up: bool = True) -> None:
    """Wait until something listens on (or stops listening on) a loopback port."""
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
    raise UplinkError(f"port {port} did not come {'up' if up else 'down'} in {timeout:.0f} s")


class LocalMosquitto:
    """mosquitto on its own port and folder, so it can be stopped and started again."""

    def __init__(self, folder: Path, *, acl: str | None = None, port: int | None = None,
                 password_file: Path | None = None, acl_file: Path | None = None) -> None:
        binary = mosquitto_binary()
        if binary is None:
            raise UplinkError("mosquitto is not installed; run: sudo apt-get install mosquitto")
        self.binary = binary
        self.folder = folder
        self.port = port or free_port()
        self.acl = acl
        self.password_file = password_file
        self.acl_file = acl_file
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _config(self) -> Path:
        # Run as our own user: started as root, mosquitto would switch to the
        # "mosquitto" user, which cannot read a private temporary folder.
        anonymous = "false" if self.password_file is not None else "true"
        lines = [f"user {getpass.getuser()}", f"listener {self.port} 127.0.0.1",
                 f"allow_anonymous {anonymous}", "persistence false",
                 f"log_dest file {self.folder / 'mosquitto.log'}",
                 "max_inflight_messages 0", "max_queued_messages 0"]
        if self.acl is not None:
            acl = self.folder / "acl"
            acl.write_text(self.acl)
            lines.append(f"acl_file {acl}")
        if self.acl_file is not None:
            lines.append(f"acl_file {self.acl_file}")
        if self.password_file is not None:  # logins required: no anonymous clients
            lines += [f"password_file {self.password_file}",
                      "use_username_as_clientid true"]  # nobody takes over another's session
        path = self.folder / "mosquitto.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self) -> LocalMosquitto:
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
