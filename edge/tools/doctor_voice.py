"""edge-hub doctor's checks for ring calls: whether the modem can follow a voice call
(AT+CLCC, and how it hangs up: AT+CVHU) and whether the SIM and network can carry one.

Run only when a contact is marked call = "night" or "always", in hub.toml or in the
server's roster kept in the hub's database. On LTE a voice call needs
VoLTE (IMS) or a fall-back to the circuit network (a combined attach, seen as +CREG);
a data-only SIM has neither. A 2G-only modem calls only while the operator keeps 2G on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edge.tools.doctor_finding import PASS, SKIP, WARN, Finding

Command = Callable[[str], Any]  # SerialModem.command: a Reply with .lines and .final
Query = Callable[[str], tuple[str, ...]]


def voice_findings(status: Any, command: Command, query: Query) -> list[Finding]:
    """One finding for following calls, one for the network's voice service."""
    return [_call_tracking(command), _voice_network(status, query)]


def _call_tracking(command: Command) -> Finding:
    if not command("AT+CLCC").final.ok:
        return Finding("call tracking", WARN, "the modem refuses AT+CLCC: the hub cannot see "
                       "whether a ring call was answered", "use a SIM7600, EC25 or A7670 "
                       "class modem, or update the modem's firmware")
    cvhu = command("AT+CVHU?")
    if cvhu.final.ok and any(line.replace(" ", "") == "+CVHU:1" for line in cvhu.lines):
        return Finding("call tracking", PASS, "AT+CLCC answers; ATH leaves voice calls alone "
                       "here (AT+CVHU=1), so the hub hangs up with AT+CHUP")
    return Finding("call tracking", PASS, "AT+CLCC answers; ATH hangs up voice calls")


def _voice_network(status: Any, query: Query) -> Finding:
    from firmware_bridge.modem.network import is_two_g_only, read_sms_network

    if is_two_g_only(status.model):
        return Finding("ring calls", WARN, f"{status.model} is a 2G-only modem: ring calls "
                       "(and texts) stop where the operator switches 2G off",
                       "use an LTE modem with VoLTE (SIM7600, EC25 or A7670 class)")
    if not status.registered:
        return Finding("ring calls", SKIP, "not checked: the modem is not registered")
    network = read_sms_network(query)
    if not network.on_lte:
        return Finding("ring calls", PASS, "on 2G/3G: ring calls go over the circuit network")
    if network.ims:
        return Finding("ring calls", PASS, "on LTE and registered on IMS: ring calls go as "
                       "VoLTE (place one with a test alarm to be sure)")
    if network.on_circuit:
        return Finding("ring calls", PASS, "on LTE with a combined attach: ring calls fall "
                       "back to 2G/3G (CS fallback)")
    return Finding("ring calls", WARN, "on LTE only, neither on IMS (VoLTE) nor with a "
                   "combined attach: a data-only SIM or one without VoLTE cannot place ring "
                   "calls; texts still go first", "use a SIM with voice service and VoLTE, "
                   "or ask the operator to enable VoLTE for this SIM")
