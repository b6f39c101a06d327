"""`edge-hub simulate` in a mount namespace of its own, its database on a small tmpfs that
only it sees: the tests and the campaign fill it, free it, or make it read-only."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.simulated import CONFIG, SimulatedHub
from tests.small_disk import TAKE_SQLITE_ROOM

FULL_AT_START = 'dd if=/dev/zero of="{disk}/filler" bs=64k 2>/dev/null;'
READ_ONLY_AT_START = 'mount -o remount,ro "{disk}" || exit 97;'


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
        """Fill the disk, and the room SQLite holds in the database, so that the hub's next
        write must grow a file (tests.small_disk.TAKE_SQLITE_ROOM)."""
        self.inside(f'dd if=/dev/zero of="{self.disk}/filler" bs=64k 2>/dev/null; sync; '
                    f'{shlex.quote(sys.executable)} -c {shlex.quote(TAKE_SQLITE_ROOM)} '
                    f'{shlex.quote(str(self.database))}')

    def free(self) -> None:
        self.inside(f'rm -f "{self.disk}/filler"')

    def start(self, timeout: float = 60.0) -> SimulatedHub:
        try:
            return super().start(timeout)
        except AssertionError:
            if self.process is not None and self.process.returncode == 97:
                pytest.skip("this machine does not let the test mount a tmpfs")
            raise
