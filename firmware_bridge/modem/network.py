"""Which networks a modem can use for SMS: its radio generations and, on LTE, how texts go.

A 2G-only modem (SIM800/SIM900 class) texts only while the operator keeps GSM on. On LTE
a text goes either over IMS (SMS over IP, reported by +CIREG) or over the circuit network
through a combined attach (SMS over SGs, seen as a +CREG registration beside +CEREG);
with neither, the network may take no texts at all although the modem is registered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from firmware_bridge.modem.at_replies import (
    args_of,
    find_line,
    is_registered,
    parse_creg,
)

TWO_G_ONLY_MODELS = ("SIM800", "SIM808", "SIM868", "SIM900", "SIM908", "M26", "M66", "A6")
Query = Callable[[str], tuple[str, ...]]


def is_two_g_only(model: str) -> bool:
    """True for a GSM/GPRS-only modem, from its model (AT+CGMM or ATI)."""
    name = model.upper().replace("SIMCOM_", "").replace("QUECTEL_", "").strip()
    return any(name.startswith(prefix) for prefix in TWO_G_ONLY_MODELS)


@dataclass(frozen=True, slots=True)
class SmsNetwork:
    """How the modem is attached, for texts: LTE, the circuit network, IMS."""

    on_lte: bool
    on_circuit: bool
    ims: bool | None  # None: the modem does not report IMS registration (no +CIREG)


def read_sms_network(query: Query) -> SmsNetwork:
    """Ask +CEREG?, +CREG? and +CIREG? (a modem that refuses one answers nothing there)."""
    on_lte = is_registered(parse_creg(find_line(query("AT+CEREG?"), "+CEREG")))
    on_circuit = is_registered(parse_creg(find_line(query("AT+CREG?"), "+CREG")))
    ims_line = find_line(query("AT+CIREG?"), "+CIREG")
    ims = None if ims_line is None else _ims_registered(ims_line)
    return SmsNetwork(on_lte, on_circuit, ims)


def _ims_registered(line: str) -> bool:
    """'+CIREG: <n>,<reg_info>[,...]': reg_info 1 is registered on IMS."""
    args = args_of(line)
    return len(args) >= 2 and args[1].strip() == "1"
