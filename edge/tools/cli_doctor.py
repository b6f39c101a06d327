"""edge-hub doctor: print the installer's checklist; exit 1 if anything failed."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from edge.config.paths import DEFAULT_CONFIG

if TYPE_CHECKING:
    from edge.tools.doctor import Probes


def add_doctor_commands(commands: argparse._SubParsersAction) -> None:
    """Register `doctor [--config FILE] [--json]`."""
    doctor = commands.add_parser("doctor", help="check this hub's setup, one line per check")
    doctor.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="hub.toml to check")
    doctor.add_argument("--json", action="store_true", help="print JSON")
    doctor.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace, probes: Probes | None = None) -> int:
    """Run every check, print the findings, return 0 when none failed."""
    from edge.tools.doctor import healthy, run_checks

    findings = run_checks(args.config, probes=probes)
    if args.json:
        print(json.dumps([finding.to_json() for finding in findings], ensure_ascii=False, indent=2))
    else:
        for finding in findings:
            print(finding.line())
    return 0 if healthy(findings) else 1
