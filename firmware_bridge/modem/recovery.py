"""Reviving a silent modem, gentlest step first; each step runs only if the last failed.

1. `at`        it may only have been slow: does it answer AT?
2. `esc`       it may be waiting for the rest of an SMS: ESC ends that, then AT.
3. `cfun`      radio off and on (AT+CFUN=0, AT+CFUN=1), then AT.
4. `reset`     AT+CFUN=1,1, close the port, wait up to boot_wait_s for the port to come
               back (re-resolving the glob: a USB modem may return as another ttyUSB)
               and to answer AT.
5. `power_key` pulse the PWRKEY through gpiozero, only after confirming the modem is
               dead (port missing, or open and silent): on a running SIM7600 the same
               pulse switches it OFF. Skipped, with a log line, without a power key.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from firmware_bridge.errors import ModemError
from firmware_bridge.modem.link import ModemLink

_NEEDS_PORT = ("at", "esc", "cfun")


_WHAT = {
    "at": "checking whether it answers AT",
    "esc": "sending ESC to end a half-sent SMS, then AT",
    "cfun": "switching its radio off and on (AT+CFUN=0, AT+CFUN=1)",
    "reset": "restarting it (AT+CFUN=1,1) and reopening its port",
    "power_key": "pulsing its power key",
}


class RecoveryLadder:
    """One climb of the recovery ladder for one ModemLink (called under its lock)."""

    def __init__(self, modem: ModemLink) -> None:
        self._modem = modem
        self._steps: dict[str, Callable[[], bool]] = {
            "at": self._at, "esc": self._esc, "cfun": self._cfun, "reset": self._reset,
            "power_key": self._power_key,
        }

    def run(self) -> str:
        """The name of the step that revived the modem; ModemError(kind="dead") if none did."""
        log, port = self._modem.log, self._modem.port
        for name in self._steps:
            log.warning("Recovering the modem on %s: step %r, %s.", port, name, _WHAT[name])
            if self._attempt(name):
                log.warning("The modem on %s answers again after step %r; setting it up "
                            "again.", self._modem.port, name)
                return name
            log.warning("Step %r did not revive the modem on %s.", name, port)
        log.error("The modem on %s did not come back after any recovery step; SMS cannot "
                  "be sent. The hub reports this over its other paths and tries again "
                  "later.", port)
        raise ModemError(f"The modem on {port} is dead: no recovery step revived it. Check "
                         f"its power supply, antenna and USB cable.", kind="dead")

    def _attempt(self, name: str) -> bool:
        if name in _NEEDS_PORT and not self._modem.port_alive():
            self._modem.log.warning("The modem port %s is gone; skipping step %r.",
                                    self._modem.port, name)
            return False
        try:
            return self._steps[name]()
        except ModemError as error:
            self._modem.log.warning("Step %r failed: %s", name, error)
            return False

    def _at(self) -> bool:
        return self._modem.probe(esc=False)

    def _esc(self) -> bool:
        return self._modem.probe(esc=True)

    def _cfun(self) -> bool:
        for command in ("AT+CFUN=0", "AT+CFUN=1"):
            try:
                self._modem.command(command)
            except ModemError as error:
                if error.kind == "dead":
                    raise
        return self._modem.probe(esc=False)

    def _reset(self) -> bool:
        modem = self._modem
        if modem.port_alive():
            try:
                modem.command("AT+CFUN=1,1", modem.probe_timeout_s)
            except ModemError:
                pass
        return self._reopen_when_booted()

    def _power_key(self) -> bool:
        modem = self._modem
        key = modem.power_key
        if key is None:
            modem.log.warning("No power key is configured for the modem on %s; skipping "
                              "the power-key step.", modem.port)
            return False
        if not self._confirmed_dead():
            modem.log.warning("The modem on %s answers after all; not pulsing its power key "
                              "(a pulse would switch a running modem off).", modem.port)
            return True
        modem.log.warning("The modem on %s is dead (port missing or silent); pulsing its "
                          "power key for %.1f s.", modem.port, modem.power_key_pulse_s)
        key.on()
        try:
            time.sleep(modem.power_key_pulse_s)
        finally:
            key.off()
        return self._reopen_when_booted()

    def _confirmed_dead(self) -> bool:
        """No answer to AT, and the port missing or silent."""
        modem = self._modem
        if not modem.port_alive():
            try:
                modem.open()
            except ModemError as error:
                if error.kind != "dead":
                    raise
                return True
        return not modem.probe(esc=True)

    def _reopen_when_booted(self) -> bool:
        """Close the port; reopen it (path re-resolved) until the modem answers AT."""
        modem = self._modem
        modem.close_port()
        deadline = time.monotonic() + modem.boot_wait_s
        while True:
            if not modem.port_alive():
                try:
                    modem.open()
                except ModemError as error:
                    modem.log.info("The modem port is not back yet: %s", error)
            if modem.port_alive() and modem.probe(esc=True):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(modem.poll_s)
