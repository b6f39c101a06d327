"""The simulated building on a real small filesystem in a private mount namespace: full
at start, filled while running, read-only; an SOS is texted every time."""

from __future__ import annotations

import shutil
import time

import pytest

from tests.simulated import DESK, GRID, SON
from tests.simulated_disk import FULL_AT_START, READ_ONLY_AT_START, HubOnSmallDisk

pytestmark = pytest.mark.skipif(
    shutil.which("unshare") is None or shutil.which("nsenter") is None,
    reason="needs unshare and nsenter (util-linux) to mount a small disk of its own")


def test_a_disk_that_fills_while_running_still_texts_the_sos_and_keeps_it(tmp_path) -> None:
    hub = HubOnSmallDisk(tmp_path, 6144).start()
    try:
        hub.fill()
        ref = hub.post("/press", {"resident": "r-101"})["alert"]["ref"]
        hub.wait_for(lambda: hub.sos_to(ref) == {DESK, SON, GRID}, what="tier 1 texted")
        assert hub.state()["storage"]["mode"] in ("low_space", "memory")
        hub.wait_for(lambda: any("hub storage full" in t for t in hub.inbox().get(DESK, [])),
                     timeout=40, what="the duty desk told the storage is full")
        hub.free()
        hub.wait_for(lambda: hub.state()["storage"]["mode"] == "disk", timeout=40,
                     what="back on the disk with its reserve")
        assert ref in {a["ref"] for a in hub.state()["recent_alerts"]}
        assert hub.terminate() == 0
    finally:
        hub.kill()


@pytest.mark.parametrize("prepare", [FULL_AT_START, READ_ONLY_AT_START])
def test_the_hub_starts_on_a_full_or_read_only_disk_and_texts_an_sos(tmp_path,
                                                                    prepare: str) -> None:
    hub = HubOnSmallDisk(tmp_path, 2048, prepare=prepare.format(disk=tmp_path / "disk"))
    hub.start()
    try:
        assert hub.state()["storage"]["mode"] == "memory"
        ref = hub.post("/press", {"resident": "r-101"})["alert"]["ref"]
        hub.wait_for(lambda: hub.sos_to(ref) == {DESK, SON, GRID}, what="tier 1 texted")
        time.sleep(0.5)
        assert hub.terminate() == 0
        assert "is lost" in hub.log.read_text()  # it says what was not kept
    finally:
        hub.kill()
