"""`make campaign`: the whole fault campaign, its table, and exit 1 on any loss or crash.

Run: .venv/bin/python -m tests.campaign.run [--small] [--only PART ...]
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.campaign import HEADER, Result, broker, disk, fuzz, kill9, modem_faults

FULL = {"kill9": 200, "broker": 50, "adverts": 1_000_000, "pdus": 100_000, "at": 100_000}
SMALL = {"kill9": 10, "broker": 5, "adverts": 10_000, "pdus": 10_000, "at": 10_000}


def parts(size: dict[str, int], folder: Path) -> dict[str, Callable[[], Result]]:
    def faults() -> Result:
        result, lines = modem_faults.run(folder / "faults", progress=True)
        result.notes[:0] = lines
        return result

    return {
        "kill9": lambda: kill9.run(folder / "kill9", size["kill9"]),
        "broker": lambda: broker.run(folder / "broker", size["broker"]),
        "faults": faults,
        "disk": lambda: disk.run(folder / "disk"),
        "adverts": lambda: fuzz.adverts(folder, size["adverts"]),
        "pdus": lambda: fuzz.pdus(folder, size["pdus"]),
        "at": lambda: fuzz.at_lines(size["at"]),
    }


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__)
    options.add_argument("--small", action="store_true", help="the sizes `make test` runs")
    options.add_argument("--only", nargs="+", choices=list(FULL) + ["faults", "disk"],
                         help="run only these parts")
    args = options.parse_args(argv)
    logging.disable(logging.CRITICAL)  # the hub's own lines would drown the table
    signal.signal(signal.SIGTERM, _stop)  # so every simulated hub is stopped on the way out
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="edge-hub-campaign-") as scratch:
        for name, part in parts(SMALL if args.small else FULL, Path(scratch)).items():
            if args.only and name not in args.only:
                continue
            (Path(scratch) / name).mkdir(exist_ok=True)
            started = time.monotonic()
            print(f"running {name} ...", flush=True)
            result = part()
            results.append(result)
            print(f"  {result.row().strip()}  ({time.monotonic() - started:.0f} s)", flush=True)
    print()
    print(HEADER)
    for result in results:
        print(result.row())
    for result in results:
        for note in result.notes:
            print(f"{result.test}: {note}")
    clean = all(result.clean for result in results)
    print("\nPASS: nothing lost, nothing crashed" if clean else "\nFAIL: see above")
    return 0 if clean else 1


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(f"stopped by signal {signum}")


if __name__ == "__main__":
    sys.exit(main())
