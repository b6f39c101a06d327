"""What the modem's set-up and recovery steps need of a modem: the port and the commands.
SerialModem has this form; the steps depend on it, not on SerialModem, so the modules do
not import each other."""

from __future__ import annotations

import logging
from typing import Protocol

from firmware_bridge.errors import ModemError
from firmware_bridge.modem.at_protocol import Final
from firmware_bridge.modem.port import Reply


class PowerKey(Protocol):
    """The modem's PWRKEY line, e.g. a gpiozero OutputDevice driving its transistor."""

    def on(self) -> None: ...

    def off(self) -> None: ...


class ModemLink(Protocol):
    """A modem on a serial port, as its set-up and recovery steps use it."""

    log: logging.Logger
    poll_s: float
    boot_wait_s: float
    power_key: PowerKey | None
    power_key_pulse_s: float

    @property
    def port(self) -> str: ...
    @property
    def probe_timeout_s(self) -> float: ...

    def open(self) -> None: ...
    def close_port(self) -> None: ...
    def port_alive(self) -> bool: ...
    def command(self, command: str, timeout_s: float | None = None) -> Reply: ...
    def check(self, command: str, timeout_s: float | None = None) -> tuple[str, ...]: ...
    def query(self, command: str) -> tuple[str, ...]: ...
    def probe(self, *, esc: bool = True) -> bool: ...
    def refusal(self, command: str, final: Final) -> ModemError: ...
