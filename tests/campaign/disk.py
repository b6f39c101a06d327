"""A full or read-only disk: an SOS is texted to tier 1 whatever the disk does."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.campaign import Result
from tests.campaign.building import tier_one
from tests.simulated import CONFIG
from tests.simulated_disk import FULL_AT_START, READ_ONLY_AT_START, HubOnSmallDisk

CASES = (("filled while running", 6144, "", True), ("full at start", 2048, FULL_AT_START, False),
         ("read-only at start", 2048, READ_ONLY_AT_START, False))


def run(folder: Path) -> Result:
    result = Result("full or read-only disk, then an SOS")
    phones = tier_one(CONFIG)["r-101"]
    for number, (name, size_kb, prepare, fill) in enumerate(CASES):
        place = folder / f"disk-{number}"
        place.mkdir(parents=True)
        hub = HubOnSmallDisk(place, size_kb, prepare.format(disk=place / "disk"))
        try:
            hub.start()
        except pytest.skip.Exception as skipped:
            result.notes.append(f"{name}: skipped ({skipped})")
            continue
        try:
            if fill:
                hub.fill()
            ref = hub.post("/press", {"resident": "r-101"})["alert"]["ref"]
            deadline = time.monotonic() + 30
            while not phones <= hub.sos_to(ref) and time.monotonic() < deadline:
                time.sleep(0.1)
            result.runs += 1
            if not phones <= hub.sos_to(ref):
                result.lost += 1
                result.notes.append(f"{name}: alert {ref} not texted to {sorted(phones)}")
            if hub.process is not None and hub.process.poll() is not None:
                result.crashes += 1
        finally:
            hub.kill()
    return result
