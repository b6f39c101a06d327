"""sd_notify without a dependency: tell systemd the hub is ready, alive and stopping.

systemd passes NOTIFY_SOCKET (a path, or "@name" for an abstract socket) to a Type=notify
service, and WATCHDOG_USEC/WATCHDOG_PID when WatchdogSec= is set. Without them every
method here does nothing, so the same code runs under systemd, in a terminal and in tests.
A failed send is logged once and otherwise ignored: telling systemd must never stop the
hub from raising an alert.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

_log = logging.getLogger(__name__)


class SystemdNotifier:
    """Sends READY=1, STATUS=, WATCHDOG=1 and STOPPING=1 to systemd's notify socket."""

    def __init__(self, environ: Mapping[str, str] | None = None, *,
                 pid: int | None = None) -> None:
        env = os.environ if environ is None else environ
        self._address = _socket_address(env.get("NOTIFY_SOCKET", ""))
        self._watchdog_usec = _watchdog_usec(env, os.getpid() if pid is None else pid)
        self._socket: socket.socket | None = None
        self._failed = False

    @property
    def enabled(self) -> bool:
        """True when systemd gave this process a notify socket."""
        return self._address is not None

    @property
    def watchdog_interval_s(self) -> float | None:
        """How often to call watchdog(): half of WatchdogSec=, or None without a watchdog."""
        if self._address is None or self._watchdog_usec is None:
            return None
        return self._watchdog_usec / 2_000_000

    def ready(self, status: str = "") -> None:
        """Start-up is done (Type=notify: systemd starts the units ordered after us)."""
        self._send("READY=1" + (f"\nSTATUS={_one_line(status)}" if status else ""))

    def status(self, text: str) -> None:
        """One line shown by `systemctl status edge-hub`."""
        self._send(f"STATUS={_one_line(text)}")

    def watchdog(self) -> None:
        """Still alive: without this within WatchdogSec=, systemd restarts the hub."""
        self._send("WATCHDOG=1")

    def stopping(self) -> None:
        """Shutting down on purpose (a slow stop is then not taken for a hang)."""
        self._send("STOPPING=1")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _send(self, message: str) -> None:
        if self._address is None:
            return
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._socket.sendto(message.encode("utf-8", "replace"), self._address)
        except Exception as error:  # noqa: BLE001 - a status message must never take the hub down
            if not self._failed:
                _log.warning("Cannot notify systemd at %r (%s); carrying on without it.",
                             self._address, error)
            self._failed = True


def _socket_address(value: str) -> bytes | None:
    """NOTIFY_SOCKET as a sendto address: "@name" is the abstract socket "\\0name"."""
    if value.startswith("@") and len(value) > 1:
        return b"\0" + os.fsencode(value[1:])
    if value.startswith("/"):
        return os.fsencode(value)
    return None  # unset, empty, or a form we do not speak (e.g. vsock:): stay silent


def _watchdog_usec(env: Mapping[str, str], pid: int) -> int | None:
    """WATCHDOG_USEC when it is meant for this process (WATCHDOG_PID unset or ours)."""
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
        owner = env.get("WATCHDOG_PID")
        if owner is not None and int(owner) != pid:
            return None
    except ValueError:
        return None
    return usec if usec > 0 else None


def _one_line(text: str) -> str:
    """A newline would start another field of the message (or forge READY=1)."""
    return " ".join(text.splitlines())
