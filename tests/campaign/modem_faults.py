"""Every fault in the modem emulator's catalogue, each followed by an SOS: the SOS reaches
tier 1 once the fault clears, within 10 s of the modem being usable again (a fault that
costs the hub its own command timeouts, or a number's back-off, is allowed those too)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from firmware_bridge.simulators.modem_emulator_catalogue import CATALOGUE
from tests.campaign import Result
from tests.campaign.building import campaign_config, desk_phone, tier_one
from tests.simulated import SimulatedHub

USABLE_TO_SENT_S = 10.0
LASTING_S = 5.0
# What a fault costs on top of its own time, with the campaign building's modem settings
# (command_timeout_s 3, send_timeout_s 10): commands it lets time out, and for a phone
# that is off the 30 s before its number is tried again.
EXTRA_S = {"stall": 5 * 3.0, "lost_prompt": 3.0 + 1.0, "silent_after_ctrl_z": 10.0,
           "phone_off": 30.0, "hang": 25.0, "port_vanish": 5.0}
PARAMS: dict[str, dict[str, Any]] = {"phone_off": {"number": "+8613800138002"}}
# `make test` leaves out the slowest, which the in-process tests also hold to their times
# (tests/test_modem_recovery_timing.py, tests/test_sms_path.py).
QUICK = [name for name in CATALOGUE if name not in ("stall", "silent_after_ctrl_z",
                                                    "phone_off")]


def run(folder: Path, names: list[str] | None = None,
        progress: bool = False) -> tuple[Result, list[str]]:
    """(the result, one line per fault: how long after it cleared the SOS was texted)."""
    result = Result("modem faults, each followed by an SOS")
    config = campaign_config(folder)
    first, desk = tier_one(config), desk_phone(config)
    residents = sorted(first)
    lines: list[str] = []
    hub = SimulatedHub(folder, config=config).start()
    try:
        for number, name in enumerate(names or list(CATALOGUE)):
            resident = residents[number % len(residents)]
            late = _one(hub, name, resident, first[resident], desk, result)
            lines.append(f"  {name:<22} SOS texted {late:5.1f} s after the fault cleared"
                         if late is not None else f"  {name:<22} SOS NOT texted")
            if progress:
                print(lines[-1], flush=True)
            result.runs += 1
            if hub.process is not None and hub.process.poll() is not None:
                result.crashes += 1
                hub.start()
    finally:
        hub.kill()
    return result, lines


def _one(hub: SimulatedHub, name: str, resident: str, phones: set[str], desk: str,
         result: Result) -> float | None:
    fault = CATALOGUE[name]
    params = {**PARAMS.get(name, {}), **({"for_s": LASTING_S} if fault.lasting else {})}
    hub.post("/modem/fault", {"name": name, **params})
    cleared = time.monotonic() + (LASTING_S if fault.lasting else 0.0)
    status, answer = hub.call("POST", "/press", {"resident": resident})
    ref = answer.get("alert", {}).get("ref") if status == 200 else None
    if ref is None:
        result.lost += 1
        result.notes.append(f"{name}: the press was not taken ({status} {answer})")
        return None
    allowed = max(0.0, cleared - time.monotonic()) + USABLE_TO_SENT_S + EXTRA_S.get(name, 0)
    deadline = time.monotonic() + allowed
    while not phones <= hub.sos_to(ref):
        if time.monotonic() > deadline:
            result.lost += 1
            result.notes.append(f"{name}: alert {ref} not texted to {sorted(phones)} within "
                                f"{allowed:.0f} s")
            return None
        time.sleep(0.1)
    late = time.monotonic() - cleared
    hub.post("/sms", {"from": desk, "text": f"1 {ref}"})  # the ref: each reply its own PDU
    deadline = time.monotonic() + 30
    while ref in {a["ref"] for a in hub.state()["alerts"]}:
        if time.monotonic() > deadline:
            result.notes.append(f"{name}: the desk's reply did not close {ref}")
            break
        time.sleep(0.1)
    return late
