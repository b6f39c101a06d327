"""The modem emulator's faults by name, with their parameters: what `edge-hub simulate`
offers at GET /modem/faults and injects at POST /modem/fault, and what the fault campaign
runs one by one.

Each fault either clears by itself (a reboot, a burst of garbage, errors on the next few
commands) or lasts `for_s` seconds and is then undone (no SIM, no network, a hung modem,
a vanished port, a phone that is off).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from firmware_bridge.simulators.modem_emulator import ModemEmulator

Params = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Fault:
    """One kind of fault: what it does, its parameters with their defaults, how it clears."""

    name: str
    what: str
    params: Mapping[str, Any] = field(default_factory=dict)
    lasting: bool = False  # True: it lasts for_s seconds, then clear() undoes it

    def to_json(self) -> dict[str, Any]:
        params = {**self.params, **({"for_s": 8.0} if self.lasting else {})}
        return {"name": self.name, "what": self.what, "params": params,
                "clears": "after for_s seconds" if self.lasting else "by itself"}


@dataclass(frozen=True, slots=True)
class Injected:
    """A fault put on the modem; `clear` undoes it after `for_s` (None: nothing to undo)."""

    fault: Fault
    params: Mapping[str, Any]
    clear: Callable[[], None] | None = None
    for_s: float = 0.0


def _fail(kind: str) -> Callable[[ModemEmulator, Params], None]:
    def inject(modem: ModemEmulator, p: Params) -> None:
        modem.fail_next(str(p["command"]), count=int(p["count"]), **{kind: int(p["code"])})
    return inject


def _times(action: Callable[[ModemEmulator], None]) -> Callable[[ModemEmulator, Params], None]:
    def inject(modem: ModemEmulator, p: Params) -> None:
        for _ in range(int(p["count"])):
            action(modem)
    return inject


def _sim(state: str) -> Callable[[ModemEmulator, Params], None]:
    def set_sim(modem: ModemEmulator, p: Params) -> None:
        modem.sim = state
    return set_sim


def _network(modem: ModemEmulator, p: Params) -> None:
    modem.registration = str(p["state"])


def _network_back(modem: ModemEmulator, p: Params) -> None:
    modem.registration = "home"


def _phone_off(modem: ModemEmulator, p: Params) -> None:
    modem.refuse_number(str(p["number"]), int(p["code"]))


def _call(modem: ModemEmulator, p: Params) -> None:
    modem.on_call(str(p["number"]), str(p["behaviour"]), float(p["after_s"]))


_INJECT: dict[str, Callable[[ModemEmulator, Params], None]] = {
    "cms_error": _fail("cms"),
    "cme_error": _fail("cme"),
    "lost_prompt": _times(ModemEmulator.lose_prompt_next),
    "silent_after_ctrl_z": _times(ModemEmulator.timeout_after_ctrl_z_next),
    "urc_inside_response": lambda m, p: m.urc_inside_next_response(str(p["text"])),
    "urc_storm": lambda m, p: m.urc_storm(int(p["count"]), str(p["text"])),
    "stall": lambda m, p: m.stall_next(int(p["count"])),
    "garbage": lambda m, p: m.garbage(int(p["bytes"])),
    "reboot": lambda m, p: m.reboot(),
    "no_sim": _sim("NOT INSERTED"),
    "sim_puk": _sim("SIM PUK"),
    "no_network": _network,
    "hang": lambda m, p: m.hang(),
    "phone_off": _phone_off,
    "call": _call,
}

_CLEAR: dict[str, Callable[[ModemEmulator, Params], None]] = {
    "no_sim": _sim("READY"),
    "sim_puk": _sim("READY"),
    "no_network": _network_back,
    "hang": lambda m, p: m.unhang(),
    "phone_off": lambda m, p: m.accept_number(str(p["number"])),
    "call": lambda m, p: m.on_call(str(p["number"]), "ring"),
}

CATALOGUE: Mapping[str, Fault] = MappingProxyType({f.name: f for f in (
    Fault("cms_error", "the next uses of a command answer +CMS ERROR <code> (27: phone "
          "off, 21: transfer rejected, 42: congestion, 331: no network service, 1: wrong "
          "number)", {"command": "CMGS", "code": 42, "count": 1}),
    Fault("cme_error", "the next uses of a command answer +CME ERROR <code> (10: SIM not "
          "inserted, 14: SIM busy)", {"command": "CMGS", "code": 10, "count": 2}),
    Fault("lost_prompt", "the next AT+CMGS never shows the '> ' prompt", {"count": 1}),
    Fault("silent_after_ctrl_z", "the next PDU is sent but never confirmed", {"count": 1}),
    Fault("urc_inside_response", "an unsolicited line inside the next response",
          {"text": '+CMTI: "SM",3'}),
    Fault("urc_storm", "many unsolicited lines at once", {"count": 200, "text": "+CREG: 1"}),
    Fault("stall", "the next commands are ignored, as by a modem busy in its firmware",
          {"count": 5}),
    Fault("garbage", "random bytes on the line", {"bytes": 500}),
    Fault("reboot", "the modem restarts: settings lost, silent while it boots"),
    Fault("no_sim", "the SIM is taken out", lasting=True),
    Fault("sim_puk", "the SIM is locked with its PUK", lasting=True),
    Fault("no_network", "the modem loses the network", {"state": "searching"}, lasting=True),
    Fault("hang", "the modem answers nothing at all", lasting=True),
    Fault("phone_off", "one responder's phone is off: texts to it are refused",
          {"number": "+8613800138001", "code": 27}, lasting=True),
    Fault("call", "ring calls to one responder's phone go this way: answer, busy, "
          "no_answer (the network gives up), drop, no_dialtone, ring (until hung up)",
          {"number": "+8613800138001", "behaviour": "busy", "after_s": 0.3}, lasting=True),
    Fault("port_vanish", "the USB port disappears (and comes back as another ttyUSB)",
          lasting=True),
)})


def inject(modem: ModemEmulator, name: str, given: Mapping[str, Any],
           link: Path | None = None) -> Injected:
    """Put fault `name` on `modem` with `given` parameters (defaults for the rest).

    ValueError names an unknown fault or parameter and says what is expected.
    """
    fault = CATALOGUE.get(name)
    if fault is None:
        raise ValueError(f"name: unknown fault {name!r}; one of {', '.join(CATALOGUE)}")
    allowed = set(fault.params) | ({"for_s"} if fault.lasting else set())
    unknown = set(given) - allowed
    if unknown:
        raise ValueError(f"{sorted(unknown)[0]}: not a parameter of {name}; it takes "
                         f"{', '.join(sorted(allowed)) or 'none'}")
    params = {**fault.params, **given}
    for_s = _seconds(params.pop("for_s", 8.0)) if fault.lasting else 0.0
    if name == "port_vanish":
        modem.disappear()
        return Injected(fault, params, lambda: _reappear(modem, link), for_s)
    try:
        _INJECT[name](modem, params)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name}: bad parameters {params} ({error})") from None
    undo = _CLEAR.get(name)
    return Injected(fault, params, None if undo is None else lambda: undo(modem, params), for_s)


def _reappear(modem: ModemEmulator, link: Path | None) -> None:
    modem.reappear(link)


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 3600:
        raise ValueError(f"for_s: expected seconds from 0 to 3600, got {value!r}")
    return float(value)
