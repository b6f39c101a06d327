"""The project's own fault campaign: what the outside test campaign did to the hub, kept.

Each part drives the production hub (`edge-hub simulate`, or the composition of
edge.app.build_hub) and returns a Result: how many runs, alerts (or events) lost,
duplicates, and crashes (exceptions escaping, or the hub dying by itself). `make campaign`
runs the long version and prints the table (tests/campaign/run.py); a small version runs
in `make test` (tests/test_campaign.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Result:
    """What one part of the campaign found."""

    test: str
    runs: int = 0
    lost: int = 0
    duplicates: int = 0
    crashes: int = 0
    wrong: int | None = None  # frames or replies accepted that should not have been
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return self.lost == 0 and self.crashes == 0 and not self.wrong

    def row(self) -> str:
        wrong = "-" if self.wrong is None else str(self.wrong)
        return (f"{self.test:<46} {self.runs:>9,} {self.lost:>11} {self.duplicates:>10} "
                f"{self.crashes:>7} {wrong:>14}")


HEADER = (f"{'test':<46} {'runs':>9} {'alerts lost':>11} {'duplicates':>10} {'crashes':>7} "
          f"{'wrong accepts':>14}")
