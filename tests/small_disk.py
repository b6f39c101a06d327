"""A real, small filesystem for storage faults: a tmpfs the test mounts, fills and frees.

Mounting needs root (CI and this project's machines run tests as root). Where it is not
allowed, tests that need it are skipped, saying why; the same faults are then made with
SQLite's max_page_count ([hub] max_database_mb).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# Uses up the room SQLite already holds in a database (a WAL it may reuse, free pages), so
# that the next write must grow a file. On a full disk, whether a write fits otherwise
# depends on when the last checkpoint ran. Run as: python -c TAKE_SQLITE_ROOM DATABASE.
TAKE_SQLITE_ROOM = """
import contextlib, sqlite3, sys
with contextlib.closing(sqlite3.connect(sys.argv[1], timeout=10)) as db:
    try:
        db.execute("CREATE TABLE IF NOT EXISTS test_filler (data BLOB)")
        while True:
            db.execute("INSERT INTO test_filler VALUES (zeroblob(4096))")
            db.commit()
    except sqlite3.OperationalError as error:
        if "full" not in str(error):
            raise
"""


def take_sqlite_room(database: Path) -> None:
    """On a full disk, also use up the room SQLite holds in `database` (see above)."""
    subprocess.run([sys.executable, "-c", TAKE_SQLITE_ROOM, str(database)], check=True,
                   timeout=60)


class SmallDisk:
    """A tmpfs of `size_kb` at `path`."""

    def __init__(self, path: Path, size_kb: int) -> None:
        self.path = path
        self.size_kb = size_kb
        self.filler = path / "filler"

    def fill(self, leave_bytes: int = 0) -> int:
        """Take all free space but `leave_bytes`; returns how many bytes were taken."""
        taken = 0
        with self.filler.open("ab") as out:
            while True:
                free = os.statvfs(self.path).f_bavail * os.statvfs(self.path).f_frsize
                chunk = min(64 * 1024, free - leave_bytes)
                if chunk <= 0:
                    return taken
                try:
                    out.write(b"\0" * chunk)
                    out.flush()
                except OSError:
                    return taken
                taken += chunk

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def free_bytes(self) -> int:
        stats = os.statvfs(self.path)
        return stats.f_bavail * stats.f_frsize

    def read_only(self) -> None:
        _run("mount", "-o", "remount,ro", str(self.path))

    def writable(self) -> None:
        _run("mount", "-o", "remount,rw", str(self.path))


def _run(*command: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: {done.stderr.strip()}")


@contextmanager
def small_disk(folder: Path, size_kb: int = 2048) -> Iterator[SmallDisk]:
    """Mount a tmpfs of `size_kb` under `folder`, or skip the test saying why."""
    path = folder / "small-disk"
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs",
                           str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.strip()}); the "
                    "max_page_count tests cover the same faults")
    try:
        yield SmallDisk(path, size_kb)
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)
