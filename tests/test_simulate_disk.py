"""The simulated building on a real small filesystem in a private mount namespace: full
at start, filled while running, read-only; an SOS is texted every time."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.simulated import CONFIG, DESK, GRID, SON, SimulatedHub

pytestmark = pytest.mark.skipif(
    shutil.which("unshare") is None or shutil.which("nsenter") is None,
    reason="needs unshare and nsenter (util-linux) to mount a small disk of its own")


class HubOnSmallDisk(SimulatedHub):
    """simulate in a mount namespace of its own, its database on a tmpfs only it sees."""

    def __init__(self, folder: Path, size_kb: int, prepare: str = "") -> None:
        self.disk = folder / "disk"
        self.disk.mkdir()
        config = folder / "building.toml"
        config.write_text(CONFIG.read_text(encoding="utf-8").replace(
            'database = "demo.db"', 'database = "demo.db"\nstorage_reserve_mb = 1\n'
            "low_space_mb = 0.2"), encoding="utf-8")
        script = (f'mount -t tmpfs -o size={size_kb}k tmpfs "{self.disk}" || exit 97; '
                  f'{prepare} exec "$0" "$@"')
        super().__init__(folder, config=config, database=self.disk / "hub.db",
                         wrap=["unshare", "-m", "--propagation", "private", "sh", "-c", script])

    def inside(self, script: str) -> str:
        """Run `script` in the simulation's mount namespace; its output."""
        assert self.process is not None
        done = subprocess.run(["nsenter", "-t", str(self.process.pid), "-m", "sh", "-c",
                               script], capture_output=True, text=True, timeout=30)
        return done.stdout

    def fill(self) -> None:
        self.inside(f'dd if=/dev/zero of="{self.disk}/filler" bs=64k 2>/dev/null; sync')

    def free(self) -> None:
        self.inside(f'rm -f "{self.disk}/filler"')

    def start(self, timeout: float = 60.0) -> SimulatedHub:
        try:
            return super().start(timeout)
        except AssertionError:
            if self.process is not None and self.process.returncode == 97:
                pytest.skip("this machine does not let the test mount a tmpfs")
            raise


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


@pytest.mark.parametrize("prepare", [
    'dd if=/dev/zero of="$DISK/filler" bs=64k 2>/dev/null;',  # full before the hub starts
    'mount -o remount,ro "$DISK" || exit 97;',  # read-only before the hub starts
])
def test_the_hub_starts_on_a_full_or_read_only_disk_and_texts_an_sos(tmp_path,
                                                                    prepare: str) -> None:
    hub = HubOnSmallDisk(tmp_path, 2048, prepare=prepare.replace("$DISK", str(tmp_path / "disk")))
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
