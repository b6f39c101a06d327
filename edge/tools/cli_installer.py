"""edge-hub test-alarm and edge-hub pair: what an installer runs on site."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from edge.config.paths import DEFAULT_CONFIG

if TYPE_CHECKING:
    from edge.config.loader import HubConfig


def add_installer_commands(commands: argparse._SubParsersAction) -> None:
    """Register `test-alarm` and `pair`."""
    test = commands.add_parser(
        "test-alarm", help="send a real test by SMS and to the server through the running hub")
    test.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="hub.toml")
    test.add_argument("--db", type=Path, help="database file (default: [hub] database)")
    test.add_argument("--path", choices=("sms", "server", "all"), default="all",
                      help="which path to test (default: all)")
    test.add_argument("--wait", type=float, default=60.0, metavar="S",
                      help="seconds to wait for the results (default 60)")
    test.set_defaults(func=cmd_test_alarm)
    _add_pair(commands)


def _add_pair(commands: argparse._SubParsersAction) -> None:
    pair = commands.add_parser("pair", help="list nearby BTHome buttons, or pair one as a watch")
    add_pair_arguments(pair)
    pair.set_defaults(func=_cmd_pair)


def add_pair_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="hub.toml")
    parser.add_argument("--scan", type=float, default=10.0, metavar="S",
                        help="seconds to listen for nearby buttons (default 10)")
    parser.add_argument("--mac", help="the button to pair (from the list)")
    parser.add_argument("--resident", help="id of the resident who wears it")
    keys = parser.add_mutually_exclusive_group()
    keys.add_argument("--key", help="the button's key, 32 hex digits")
    keys.add_argument("--generate-key", action="store_true",
                      help="make a new key (set it on the button with its app first)")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="S",
                        help="seconds to wait for the press (default 60)")
    parser.add_argument("--choose", action="store_true",
                        help="after the list, ask which device to pair, for whom, with which key")
    parser.add_argument("--sensor", choices=("motion", "door"),
                        help="pair an activity sensor of this kind (not a watch): it is heard "
                        "triggered, then added as [[sensors]]")
    parser.add_argument("--place", help='with --sensor: where it is, like "bathroom door"')


def _cmd_pair(args: argparse.Namespace) -> int:
    from edge.tools.pairing import cmd_pair

    return cmd_pair(args)


def _config_or_none(path: Path, required: bool) -> HubConfig | None:
    from edge.config.loader import load_config

    if not required and not path.exists():
        return None
    return load_config(path)


def cmd_test_alarm(args: argparse.Namespace) -> int:
    from edge.storage.store import Store
    from edge.tools.hub_status import existing_database
    from edge.tools.test_alarm import paths_of, run_test_alarm, succeeded

    config = _config_or_none(args.config, required=args.db is None)
    database = args.db if args.db is not None or config is None else config.hub.database
    zone = config.sms.timezone if config is not None else "Asia/Shanghai"
    store = Store.open(existing_database(database))
    try:
        outcome = run_test_alarm(
            store, paths_of(args.path), time.time(), time.sleep, wait_s=args.wait, zone=zone,
            modem=None if config is None else config.modem is not None,
            uplink=None if config is None else config.uplink is not None)
    finally:
        store.close()
    for result in outcome:
        print(f"{'ok  ' if result.ok else 'FAIL'}  {result.path}: {result.detail}")
    return 0 if succeeded(outcome) else 1
