"""edge-hub resident away|back: pause a resident's welfare checks while they are away."""

from __future__ import annotations

import argparse
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from cloud_sync.contract.wire import local_until
from edge.config.paths import DEFAULT_CONFIG
from edge.errors import HubError


class AwayError(HubError, ValueError):
    """An away command that cannot be done; the message says what is expected."""


def add_resident_commands(commands: argparse._SubParsersAction) -> None:
    """Register `resident away` and `resident back`."""
    resident = commands.add_parser("resident", help="pause or resume a resident's welfare "
                                   "checks (away mode)")
    actions = resident.add_subparsers(dest="resident_command", required=True, metavar="ACTION")
    away = actions.add_parser("away", help="the resident is away: welfare checks pause")
    away.add_argument("resident", metavar="ID", help="the resident's id, as in [[residents]]")
    away.add_argument("--until", required=True, metavar="WHEN",
                      help='when they are back, local time: "2026-12-10" (back that day: '
                      'the checks resume at its end) or "2026-12-10 18:00"')
    back = actions.add_parser("back", help="the resident is back: welfare checks resume")
    back.add_argument("resident", metavar="ID", help="the resident's id, as in [[residents]]")
    for parser in (away, back):
        parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="hub.toml")
        parser.add_argument("--db", type=Path, help="database file (default: [hub] database)")
        parser.add_argument("--by", default="edge-hub resident", help="who says so (logged)")
        parser.set_defaults(func=cmd_resident)


def parse_until(text: str, zone: ZoneInfo, now: float) -> float:
    """A local date or date-time in the future as epoch seconds; AwayError otherwise."""
    try:
        return local_until(text, zone, now)
    except ValueError as error:
        raise AwayError(str(error)) from None


def cmd_resident(args: argparse.Namespace) -> int:
    from edge.config.loader import load_config
    from edge.sms.away import record_away
    from edge.storage.store import Store
    from edge.tools.hub_status import existing_database

    config = load_config(args.config)
    zone, now = ZoneInfo(config.sms.timezone), time.time()
    until = parse_until(args.until, zone, now) if args.resident_command == "away" else None
    store = Store.open(existing_database(args.db or config.hub.database))
    try:
        person = store.resident(args.resident)
        if person is None:
            raise AwayError(f"no resident {args.resident!r}; expected the id of a "
                            "[[residents]] entry (see edge-hub status)")
        record_away(store, person.id, until, args.by, now)
    finally:
        store.close()
    if until is None:
        print(f"{person.name} ({person.id}) is back: welfare checks watch again from now.")
    else:
        shown = datetime.fromtimestamp(until, zone).strftime("%Y-%m-%d %H:%M")
        print(f"{person.name} ({person.id}) is away until {shown}: welfare checks pause "
              "until then (or until edge-hub resident back).")
    return 0
