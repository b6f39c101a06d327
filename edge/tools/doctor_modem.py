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
from edge.tools.doctor_finding import FAIL, PASS, SKIP, WARN, Finding

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


def skipped(why: str) -> Finding:
    """The SIM, network and SMS checks that could not run, and why."""
    return Finding("SIM and network", SKIP, f"not checked: {why}")


def check_modem(section: ModemSection, open_modem: Callable[[ModemSection, float], Any],
                register_wait_s: float, *, ring_calls: bool = False) -> list[Finding]:
    """Open the modem for this process only, set it up, then read SIM, network, signal, SMSC
    and the networks it can text on; with `ring_calls`, whether it can place voice calls
    (edge.tools.doctor_voice)."""
    modem = open_modem(section, register_wait_s)
    try:
        try:
            modem.initialise()
            found = [Finding("modem", PASS, f"{section.port} answers and is set up for SMS")]
        except ModemError as error:
            found = [Finding("modem", FAIL, str(error), modem_error_fix(error))]
            if error.kind == "dead" or "already open" in str(error) or "Permission" in str(error):
                return found + [skipped("the modem could not be opened (see the modem check)")]
        try:
            status = modem.status()
        except ModemError as error:
            return found + [skipped(f"the modem did not answer the status queries ({error})")]
        found += status_findings(status) + network_findings(status, modem.query)
        if ring_calls:
            from edge.tools.doctor_voice import voice_findings

            try:
                found += voice_findings(status, modem.command, modem.query)
            except ModemError as error:
                found.append(Finding("ring calls", SKIP, f"not checked: the modem did not "
                                     f"answer the voice queries ({error})"))
        return found
    finally:
        modem.close()


def network_findings(status: Any, query: Callable[[str], tuple[str, ...]]) -> list[Finding]:
    """A 2G-only modem is a warning (operators are switching 2G off); on LTE, whether the
    network takes texts from this modem: IMS (SMS over IP) or a combined attach (SGs)."""
    from firmware_bridge.modem.network import is_two_g_only, read_sms_network

    if is_two_g_only(status.model):
        return [Finding("2G only", WARN, f"{status.model} is a 2G-only (GSM) modem: where the "
                        "operator has switched 2G off, or does so later, it cannot register "
                        "or text", "use an LTE modem (SIM7600, EC25 or A7670 class) with the "
                        "same SIM")]
    if not status.registered:
        return [Finding("SMS over LTE", SKIP, "not checked: the modem is not registered")]
    return [_sms_over_lte(read_sms_network(query))]


def _sms_over_lte(network: Any) -> Finding:
    if not network.on_lte:
        return Finding("SMS over LTE", PASS, "not on LTE now: texts go over 2G/3G")
    if network.ims:
        return Finding("SMS over LTE", PASS, "on LTE and registered on IMS: texts go as SMS "
                       "over IP")
    if network.on_circuit:
        return Finding("SMS over LTE", PASS, "on LTE with a combined attach: texts go over the "
                       "circuit network (SMS over SGs)")
    if network.ims is None:
        return Finding("SMS over LTE", WARN, "on LTE only, and the modem does not report IMS "
                       "(AT+CIREG): the network may not take its texts",
                       "send one with edge-hub sms send to be sure")
    return Finding("SMS over LTE", FAIL, "on LTE only, neither on IMS nor with a combined "
                   "attach: the network may not take texts from this modem",
                   "ask the operator to enable VoLTE/IMS (SMS over IP) or SMS over SGs for "
                   "this SIM, or lock the modem to 3G where that still exists")


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
