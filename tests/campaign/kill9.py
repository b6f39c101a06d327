"""kill -9 at a random moment after a press, and a start on the same database: the alert
is never lost (it is texted to tier 1), whatever the moment."""

from __future__ import annotations

import random
import time
from pathlib import Path

from tests.campaign import Result
from tests.campaign.building import campaign_config, desk_phone, tier_one
from tests.simulated import SimulatedHub

TEXTED_WITHIN_S = 30.0


def run(folder: Path, runs: int, seed: int = 11, kill_within_s: float = 1.5) -> Result:
    result = Result(f"kill -9 after a press, restart ({kill_within_s:g} s window)")
    config = campaign_config(folder)
    first, desk = tier_one(config), desk_phone(config)
    residents = sorted(first)
    chance = random.Random(seed)
    hub = SimulatedHub(folder, config=config).start()
    try:
        for number in range(runs):
            resident = residents[number % len(residents)]
            ref = _press(hub, resident, result)
            if ref is None:
                continue
            time.sleep(chance.uniform(0.0, kill_within_s))
            hub.kill()
            _start(hub, result)
            result.runs += 1
            if not _texted(hub, ref, first[resident]):
                result.lost += 1
                result.notes.append(f"run {number}: alert {ref} of {resident} never texted "
                                    f"to {sorted(first[resident])}")
                continue
            _close(hub, ref, desk, result)
        result.duplicates = _duplicate_texts(hub)
    finally:
        hub.kill()
    return result


def _press(hub: SimulatedHub, resident: str, result: Result) -> str | None:
    status, answer = hub.call("POST", "/press", {"resident": resident})
    alert = answer.get("alert") if status == 200 else None
    if alert is None:
        result.notes.append(f"press of {resident} not taken: {status} {answer}")
        return None
    return str(alert["ref"])


def _start(hub: SimulatedHub, result: Result) -> None:
    try:
        hub.start()
    except AssertionError as error:  # it would not start: a crash; try once more
        result.crashes += 1
        result.notes.append(f"start failed: {str(error)[:300]}")
        hub.kill()
        hub.start()


def _texted(hub: SimulatedHub, ref: str, phones: set[str]) -> bool:
    deadline = time.monotonic() + TEXTED_WITHIN_S
    while time.monotonic() < deadline:
        if phones <= hub.sos_to(ref):
            return True
        time.sleep(0.1)
    return False


def _close(hub: SimulatedHub, ref: str, desk: str, result: Result) -> None:
    """The duty desk takes the alert, so the resident's next press raises a new one."""
    hub.post("/sms", {"from": desk, "text": f"1 {ref}"})  # the ref: each reply its own PDU
    deadline = time.monotonic() + TEXTED_WITHIN_S
    while ref in {a["ref"] for a in hub.state()["alerts"]}:
        if time.monotonic() > deadline:
            result.notes.append(f"alert {ref} was not closed by the desk's reply")
            return
        time.sleep(0.1)


def _duplicate_texts(hub: SimulatedHub) -> int:
    """SOS texts of the same alert to the same phone beyond the first: at-least-once
    resends after a kill, each recognisable by its alert reference."""
    extra = 0
    for texts in hub.inbox().values():
        sos = [t for t in texts if "回复1" in t]
        extra += len(sos) - len(set(sos))
    return extra
