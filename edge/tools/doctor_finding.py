"""What edge-hub doctor reports: one Finding per check, with a status of PASS, WARN or FAIL,
or SKIP for a check that could not run (it says why)."""

from __future__ import annotations

from dataclasses import dataclass

PASS, WARN, FAIL, SKIP = "PASS", "WARN", "FAIL", "SKIP"


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of the checklist: what was checked, how it went, and what to try."""

    check: str
    status: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        fix = f"; fix: {self.fix}" if self.fix else ""
        return f"{self.status} {self.check} — {self.detail}{fix}"

    def to_json(self) -> dict[str, str]:
        return {"check": self.check, "status": self.status, "detail": self.detail, "fix": self.fix}
