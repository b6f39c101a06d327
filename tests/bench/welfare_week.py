"""Welfare week benchmark: a simulated week of one resident's life (real sensor frames on
the virtual air, the hub, its welfare job every simulated minute) in wall-clock seconds.

Run: .venv/bin/python tests/bench/welfare_week.py [--days N]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.welfare_building import Week  # noqa: E402

PATTERNS = ("normal", "late", "normal", "still", "wander", "out", "normal")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=7, help="days to simulate (default 7)")
    args = parser.parse_args(argv)
    days = [PATTERNS[n % len(PATTERNS)] for n in range(args.days)]
    logging.disable(logging.CRITICAL)  # the hub narrates every check; not what is measured
    try:
        with tempfile.TemporaryDirectory() as folder:
            week = Week(Path(folder))
            start = time.perf_counter()
            week.live(days, on_step=lambda w: w.take_open())
            elapsed = time.perf_counter() - start
            frames = week.building.hub.gate.counts["accepted"]
            checks = week.checks()
            week.building.store.close()
    finally:
        logging.disable(logging.NOTSET)
    print(f"welfare week benchmark: {len(days)} simulated days ({', '.join(days)}), "
          f"{frames} sensor frames, the rules looked at every simulated minute")
    print(f"checks raised: {', '.join(f'day {when} {rule}' for when, rule in checks) or 'none'}")
    goal = 10.0 * len(days) / 7
    print(f"wall time {elapsed:.2f} s  target < {goal:.0f} s: "
          f"{'PASS' if elapsed < goal else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
