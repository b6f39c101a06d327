"""edge-hub: the command line of the building hub (each command opens, calls, prints)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cloud_sync.server.cli import add_receiver_commands, broker_url_argument
from edge import __version__
from edge.config.paths import DEFAULT_CONFIG
from edge.errors import HubError
from edge.simulated.cli_simulate import add_simulate_command
from edge.tools.cli_doctor import add_doctor_commands
from edge.tools.cli_installer import add_installer_commands
from edge.tools.cli_resident import add_resident_commands
from edge.tools.cli_sms import add_sms_commands
from edge.tools.cli_tools import add_tool_commands
from firmware_bridge.ble.addresses import normalise_mac

if TYPE_CHECKING:
    from firmware_bridge.ble.bthome import BTHomeKey



def shipped_config(name: str) -> Path:
    """A configuration file that ships with the hub: config/ in a source checkout, or
    <prefix>/share/edge-hub/ where `pip install .` put it."""
    here = Path(__file__).resolve().parents[1]  # the edge package
    folders = [here.parent / "config", Path(sys.prefix) / "share" / "edge-hub"]
    if len(here.parents) > 3:  # <prefix>/lib/python3.X/site-packages/edge
        folders.append(here.parents[3] / "share" / "edge-hub")
    for folder in folders:
        if (folder / name).exists():
            return folder / name
    return here.parent / "config" / name


DEMO_CONFIG = shipped_config("demo.toml")


def _hex_bytes(text: str) -> bytes:
    try:
        return bytes.fromhex(text.replace(":", "").replace(" ", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected hex digits like 4402c409, got {text!r}") from None


def _mac(text: str) -> str:
    try:
        return normalise_mac(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _key(text: str) -> BTHomeKey:
    from firmware_bridge.ble.bthome import BTHomeKey

    try:
        return BTHomeKey.from_hex(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge-hub", description=__doc__)
    parser.add_argument("--version", action="version", version=f"edge-hub {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the hub on this machine's Bluetooth adapter")
    run.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="hub.toml to use")

    check = commands.add_parser("check-config", help="load a configuration and summarise it")
    check.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="hub.toml to check")

    demo = commands.add_parser("demo", help="play the scripted scenario on a simulated "
                               "building, print its summary, exit 0")
    demo.add_argument("--config", type=Path, default=DEMO_CONFIG, help="building to simulate")
    demo.add_argument("--once", action="store_true", help=argparse.SUPPRESS)  # the only way now
    demo.add_argument("--events", type=Path, help="write every outbox event here as JSON lines")
    demo.add_argument("--db", type=Path, help="database file (default: a fresh temporary one)")
    demo.add_argument("--broker", metavar="URL", type=broker_url_argument,
                      help="mqtt://HOST:PORT of a broker; without it the demo starts its own "
                           "Mosquitto if installed")
    demo.add_argument("--offline", action="store_true", help="no server at all: SMS only")
    demo.add_argument("--pdu-log", type=Path,
                      help="write every SMS PDU the emulated modem accepts, one hex TPDU a line")

    decode = commands.add_parser("decode", help="decode one BTHome service-data frame")
    decode.add_argument("--mac", type=_mac, required=True, help="the advertiser's MAC address")
    decode.add_argument("--key", type=_key, help="the watch's key, 32 hex digits")
    decode.add_argument("service_data", type=_hex_bytes, metavar="SERVICE_DATA_HEX",
                        help="service data for UUID fcd2, starting with the device-info byte")
    add_simulate_command(commands, DEMO_CONFIG, broker_url_argument)
    add_sms_commands(commands)
    add_receiver_commands(commands)
    add_tool_commands(commands)
    add_resident_commands(commands)
    add_installer_commands(commands)
    add_doctor_commands(commands)
    return parser


def cmd_decode(args: argparse.Namespace) -> int:
    """Print the frame; exit 1 when the hub would refuse it whatever its counter."""
    from edge.alerts.reports import read_report
    from firmware_bridge.ble.bthome import decode_frame

    frame = decode_frame(args.service_data, args.mac, args.key)
    result = frame.to_json()
    report = read_report(frame)
    meaning = {
        "sos": report.sos, "cancel": report.cancel, "button": report.button,
        "battery": report.battery,
        "fix": None if report.fix is None else {
            "lat": report.fix.lat, "lon": report.fix.lon,
            "accuracy_m": report.fix.accuracy_m, "age_s": report.fix.age_s},
    }
    if args.key is not None and not frame.encrypted:
        result["hub_accepts"] = False
        result["refused"] = ("downgrade: a plaintext frame for a watch that has a key; the "
                             "hub refuses it, so it raises nothing. Anyone can send plaintext.")
        result["meaning"] = None
        result["would_mean"] = meaning
    else:
        result["hub_accepts"] = True
        result["meaning"] = meaning
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0 if result["hub_accepts"] else 1


def cmd_check_config(args: argparse.Namespace) -> int:
    from edge.config.loader import load_config

    config = load_config(args.config)
    roster = config.roster
    print(f"{args.config}: valid. Hub {config.hub.id} in {config.hub.building}: "
          f"{len(roster.residents)} residents, {len(roster.watches)} watches, "
          f"{len(roster.contacts)} contacts, {len(config.insecure_watches)} insecure watches.")
    from edge.tools.text_lengths import long_texts

    for warning in long_texts(config):
        print(f"warning: {warning}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from edge.supervision.stop_signals import EarlyStop

    early = EarlyStop()  # first: a SIGTERM while the hub loads still stops it cleanly
    import asyncio

    from edge.app import build_hub, startup_line
    from edge.config.loader import load_config
    from edge.supervision.systemd_notify import SystemdNotifier

    config = load_config(args.config)
    logging.getLogger().setLevel(config.hub.log_level)
    app = build_hub(config)
    logging.getLogger("edge.alerts.hub").info(startup_line(app, __version__))
    app.notifier = SystemdNotifier()  # READY, watchdog pings and STOPPING under systemd
    try:
        asyncio.run(early.wait(app))
    finally:
        app.close()
    logging.getLogger("edge.alerts.hub").info("Hub %s stopped cleanly.", config.hub.id)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import asyncio

    from edge.simulated.demo import run_demo

    return asyncio.run(run_demo(args.config, events=args.events, db=args.db,
                                pdu_log=args.pdu_log, broker=args.broker,
                                offline=args.offline))


HUB_COMMANDS = ("run", "simulate")  # they stop cleanly on a SIGTERM that came early
COMMANDS = {"run": cmd_run, "check-config": cmd_check_config, "demo": cmd_demo,
            "decode": cmd_decode}


def main(argv: Sequence[str] | None = None) -> int:
    from edge.supervision.journal_log import configure_logging, journal_prefix
    from edge.supervision.stop_signals import release_early

    args = build_parser().parse_args(argv)
    if args.command not in HUB_COMMANDS:
        release_early()  # only a running hub keeps a SIGTERM for a clean stop
    configure_logging(sys.stdout, os.environ)
    try:
        handler = getattr(args, "func", None) or COMMANDS[args.command]
        return int(handler(args))
    except HubError as error:
        print(f"{journal_prefix(sys.stderr, logging.ERROR, os.environ)}edge-hub "
              f"{args.command}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
