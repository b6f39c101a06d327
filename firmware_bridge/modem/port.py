"""One open AT port: pyserial underneath, a reader thread, replies routed to the caller.

The reader thread splits the bytes with `AtReader`: URCs go to `on_urc` (on the reader
thread), response lines and prompts go through a queue to the one command in flight.
When the port vanishes the reader stops, calls `on_lost` and every waiting or later
command fails with `ModemError(kind="dead")`.
"""

from __future__ import annotations

import errno
import glob
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import serial

from firmware_bridge.errors import ModemError
from firmware_bridge.modem.at_protocol import (
    AtReader,
    Final,
    Item,
    Line,
    Prompt,
    Urc,
    command_prefix,
    parse_final,
)

# The reader blocks until the modem sends something (no polling: an idle hub sleeps);
# close() wakes it with pyserial's cancel_read.
READ_TIMEOUT_S = None
SerialFactory = Callable[..., Any]


class _Lost:
    """Queued by the reader when the port disappears."""


_LOST = _Lost()


@dataclass(frozen=True, slots=True)
class Reply:
    """The information lines of a response and its final result."""

    lines: tuple[str, ...]
    final: Final


def resolve_port(pattern: str) -> str:
    """The device for a path or glob ("/dev/serial/by-id/*SIM7600*if02*"): first match, sorted."""
    if not glob.has_magic(pattern):
        return pattern
    matches = sorted(glob.glob(pattern))
    if not matches:
        raise ModemError(
            f"No serial port matches {pattern}: is the modem plugged in and powered? "
            f"(see ls -l /dev/serial/by-id/)", kind="dead")
    return matches[0]


def open_serial(factory: SerialFactory, path: str, baudrate: int) -> Any:
    """Open `path` for this process only; pyserial and OS errors become ModemError."""
    try:
        return factory(path, baudrate=baudrate, timeout=READ_TIMEOUT_S, exclusive=True)
    except (serial.SerialException, OSError) as error:
        raise _open_error(path, error) from error


def _open_error(path: str, error: BaseException) -> ModemError:
    code = getattr(error, "errno", None)
    if code in (errno.EAGAIN, errno.EWOULDBLOCK) or "exclusively lock" in str(error):
        return ModemError(
            f"The modem port {path} is already open in another program. Only one program "
            f"may own the modem: ModemManager often holds it (sudo systemctl disable --now "
            f"ModemManager, or a udev rule with ENV{{ID_MM_DEVICE_IGNORE}}=\"1\"); also check "
            f"that no second hub is running.", kind="config")
    if code == errno.EACCES:
        return ModemError(
            f"Permission denied opening the modem port {path}: add the hub's user to the "
            f"dialout group (sudo usermod -aG dialout <user>) and restart the hub.",
            kind="config")
    return ModemError(
        f"Could not open the modem port {path} ({error}); check the cable and the modem's "
        f"power", kind="dead")


class AtPort:
    """An open serial port speaking AT, with its reader thread."""

    def __init__(self, port: Any, path: str, *, on_urc: Callable[[Urc], None],
                 on_lost: Callable[[str], None], log: logging.Logger) -> None:
        self.path = path
        self._serial = port
        self._on_urc, self._on_lost, self._log = on_urc, on_lost, log
        self._reader = AtReader()
        self._items: queue.Queue[Item | _Lost] = queue.Queue()
        self._stop = threading.Event()
        self._alive = True
        self._thread = threading.Thread(target=self._read_loop, daemon=True,
                                        name=f"modem-reader {path}")

    @property
    def alive(self) -> bool:
        return self._alive

    def start(self) -> None:
        self._thread.start()

    def on_reader_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def close(self) -> None:
        """Stop the reader and close the port; errors of a vanished port are ignored."""
        self._stop.set()
        self._alive = False
        try:
            self._serial.cancel_read()
        except (serial.SerialException, OSError, TypeError):
            pass
        if self._thread.is_alive() and not self.on_reader_thread():
            self._thread.join(timeout=2.0)
        try:
            self._serial.close()
        except (serial.SerialException, OSError, TypeError):
            pass

    def _read_loop(self) -> None:
        """Read until stopped; however the loop ends, a port not closed on purpose is lost."""
        reason = "the reader stopped"
        try:
            while not self._stop.is_set():
                try:
                    data = self._serial.read(self._serial.in_waiting or 1)
                except (serial.SerialException, OSError, TypeError, ValueError) as error:
                    reason = f"{type(error).__name__}: {error}"
                    return
                self._take(data)
        except BaseException as error:  # a bug here must not leave a port that looks alive
            reason = f"the reader failed: {type(error).__name__}: {error}"
            self._log.exception("The modem reader on %s failed.", self.path)
        finally:
            if not self._stop.is_set():
                self._lose(reason)

    def _take(self, data: bytes) -> None:
        """Route what `data` completes; bytes the reader cannot split are logged and dropped."""
        try:
            items = self._reader.feed(data)
        except Exception:  # noqa: BLE001 - AtReader.feed never raises; if it does, go on
            self._log.exception("The modem on %s sent bytes the reader could not split; "
                                "they were dropped.", self.path)
            self._reader = AtReader()
            return
        for item in items:
            self._route(item)

    def _route(self, item: Item) -> None:
        if not isinstance(item, Urc):
            self._items.put(item)
            return
        try:
            self._on_urc(item)
        except Exception:  # noqa: BLE001 - a handler bug must not stop the reader
            self._log.exception("Handling the modem's %r failed; the reader carries on.",
                                item.raw)

    def _lose(self, reason: str) -> None:
        self._alive = False
        self._items.put(_LOST)
        try:
            self._on_lost(reason)
        except Exception:  # noqa: BLE001
            self._log.exception("Reporting the lost modem port %s failed.", self.path)

    def _dead(self) -> ModemError:
        return ModemError(
            f"The modem port {self.path} is gone (unplugged, reset or crashed); the hub "
            f"runs recovery to reopen it.", kind="dead")

    # ------------------------------------------------------------ exchanges

    def write(self, data: bytes) -> None:
        if not self._alive:
            raise self._dead()
        try:
            self._serial.write(data)
            self._serial.flush()
        except (serial.SerialException, OSError, TypeError) as error:
            self._alive = False
            raise self._dead() from error

    def flush(self) -> None:
        """Drop lines left over from an earlier, abandoned exchange."""
        while True:
            try:
                item = self._items.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Lost):
                self._items.put(item)
                raise self._dead()
            self._log.debug("Dropped a stale line from the modem on %s: %r", self.path, item)

    def next_item(self, deadline: float) -> Line | Prompt | None:
        """The next line or prompt, None when `deadline` (monotonic) passes first."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        try:
            item = self._items.get(timeout=remaining)
        except queue.Empty:
            return None
        if isinstance(item, _Lost):
            self._items.put(item)
            raise self._dead()
        return item if isinstance(item, (Line, Prompt)) else None

    def start_command(self, command: str) -> None:
        """Send one command line, after dropping stale lines and telling the reader."""
        self.flush()
        self._reader.expect(command_prefix(command))
        self.write(command.encode("ascii") + b"\r")

    def collect(self, echo: str | None, deadline: float) -> Reply | None:
        """Lines up to the final result, the echo of `echo` skipped; None on timeout."""
        lines: list[str] = []
        while (item := self.next_item(deadline)) is not None:
            if isinstance(item, Prompt) or item.text == echo:
                continue
            final = parse_final(item.text)
            if final is not None:
                return Reply(tuple(lines), final)
            lines.append(item.text)
        return None

    def command(self, command: str, timeout_s: float) -> Reply | None:
        """Send `command` and wait up to `timeout_s` for its reply."""
        self.start_command(command)
        return self.collect(command, time.monotonic() + timeout_s)

    def wait_prompt(self, echo: str, deadline: float) -> Prompt | Final | None:
        """The "> " prompt, or the final result if the modem refused, or None on timeout."""
        while (item := self.next_item(deadline)) is not None:
            if isinstance(item, Prompt):
                return item
            final = parse_final(item.text) if item.text != echo else None
            if final is not None:
                return final
        return None
