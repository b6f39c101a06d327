"""edge-hub doctor's modem checks: the port, ModemManager, then the modem's SIM, network,
signal and SMS centre.

The checks take the [modem] section and a way to open the modem, so tests run them
against an emulator; open_serial_modem is the real one (pyserial is imported there only).
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from edge.config.messaging import ModemSection
from edge.errors import ModemError
from edge.tools.doctor_finding import FAIL, PASS, WARN, Finding

_MODEM_MANAGER = "ModemManager"


def open_serial_modem(section: ModemSection, register_wait_s: float) -> Any:
    """The real modem on [modem] port, with the short waits a doctor's check can afford."""
    from firmware_bridge.modem.serial_modem import SerialModem

    return SerialModem(section.port, baudrate=section.baudrate, pin=section.pin,
                       command_timeout_s=min(section.command_timeout_s, 5.0),
                       boot_wait_s=5.0, register_wait_s=register_wait_s)


def check_modem_port(pattern: str, processes: Iterable[str]) -> list[Finding]:
    """The modem's port exists, and whether ModemManager may be holding it."""
    matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else \
        ([pattern] if Path(pattern).exists() else [])
    if matches:
        found = [Finding("modem port", PASS, f"{matches[0]} (for {pattern})")]
    else:
        found = [Finding("modem port", FAIL, f"nothing at {pattern}",
                         "is the modem plugged in and powered? ls -l /dev/serial/by-id/ "
                         "and set [modem] port")]
    if _MODEM_MANAGER in set(processes):
        found.append(Finding("ModemManager", WARN, "ModemManager is running and may grab the modem",
                             "sudo systemctl disable --now ModemManager"))
    return found


def modem_error_fix(error: ModemError) -> str:
    """What an installer should try for a modem error."""
    text = str(error)
    if "already open" in text:
        return "sudo systemctl disable --now ModemManager; make sure no second hub runs"
    if "Permission denied" in text:
        return "sudo usermod -aG dialout <hub user>, then log in again"
    if error.kind == "dead":
        return "check the USB cable and the modem's power; ls -l /dev/serial/by-id/"
    return "see the detail: fix the SIM, PIN or SMS centre, then run the doctor again"


def check_modem(section: ModemSection, open_modem: Callable[[ModemSection, float], Any],
                register_wait_s: float) -> list[Finding]:
    """Open the modem for this process only, set it up, then read SIM, network, signal, SMSC."""
    modem = open_modem(section, register_wait_s)
    try:
        try:
            modem.initialise()
            found = [Finding("modem", PASS, f"{section.port} answers and is set up for SMS")]
        except ModemError as error:
            found = [Finding("modem", FAIL, str(error), modem_error_fix(error))]
            if error.kind == "dead" or "already open" in str(error) or "Permission" in str(error):
                return found
        try:
            return found + status_findings(modem.status())
        except ModemError:
            return found
    finally:
        modem.close()


def status_findings(status: Any) -> list[Finding]:
    """One finding for each of the SIM, registration, signal and SMS centre of a ModemStatus."""
    return [_sim(status.sim), _registration(status.registration, status.registered, status.operator),
            _signal(status.signal_csq, status.signal_dbm), _smsc(status.smsc)]


def _sim(state: str) -> Finding:
    if state == "READY":
        return Finding("SIM", PASS, "ready")
    fixes = {"NOT INSERTED": "power the modem off, insert the SIM (contacts down), power on",
             "SIM PIN": "set [modem] pin, or remove the PIN lock in a phone",
             "SIM PUK": "unlock the SIM with its PUK in a phone"}
    return Finding("SIM", FAIL, f"the SIM is {state}", fixes.get(state, "reseat or replace the SIM card"))


def _registration(state: str, registered: bool, operator: str) -> Finding:
    if registered:
        return Finding("network", PASS, f"registered ({state}) on {operator or 'the network'}")
    return Finding("network", FAIL, f"not registered ({state})",
                   "check the antenna is screwed on, the SIM has service and credit, "
                   "and the operator covers this building")


def _signal(csq: int | None, dbm: int | None) -> Finding:
    if csq is None or dbm is None:
        return Finding("signal", FAIL, "no signal reading (CSQ 99)",
                       "connect the antenna; try it near a window or use an external antenna")
    if csq < 10:
        return Finding("signal", WARN, f"weak: CSQ {csq} ({dbm} dBm)",
                       "move the antenna higher or near a window, or use an external antenna")
    return Finding("signal", PASS, f"CSQ {csq} ({dbm} dBm)")


def _smsc(smsc: str) -> Finding:
    if smsc:
        return Finding("SMS centre", PASS, smsc)
    return Finding("SMS centre", FAIL, "no SMS centre number on the SIM",
                   'set it with AT+CSCA="+<number>" (the operator publishes it)')
