"""edge-hub sms send and edge-hub modem status: talk to the configured modem directly."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from edge.config.paths import DEFAULT_CONFIG
from edge.errors import ConfigError, ModemError

if TYPE_CHECKING:
    from edge.config.messaging import ModemSection
    from firmware_bridge.modem.serial_modem import SerialModem


def add_modem_commands(commands: argparse._SubParsersAction, sms: argparse._SubParsersAction,
                       number: Callable[[str], str]) -> None:
    """Register `sms send` (under the sms command) and `modem status`."""
    send = sms.add_parser("send", help="send one text now through the configured modem")
    _port_arguments(send)
    send.add_argument("--status-report", action="store_true", help="ask for a delivery report")
    send.add_argument("number", type=number, metavar="NUMBER", help="like +8613800138001")
    send.add_argument("text", metavar="TEXT", help="the message; long texts are split")
    send.set_defaults(func=cmd_sms_send)

    modem = commands.add_parser("modem", help="ask the GSM modem how it is")
    actions = modem.add_subparsers(dest="modem_command", required=True, metavar="ACTION")
    status = actions.add_parser("status", help="SIM, network, signal, SMS centre")
    _port_arguments(status)
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(func=cmd_modem_status)


def _port_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG,
                        help="hub.toml whose [modem] to use")
    parser.add_argument("--port", help="AT port path or glob; overrides [modem] port")


def _open(args: argparse.Namespace) -> SerialModem:
    from edge.app import open_modem

    section = _section(args)
    modem: SerialModem = open_modem(section)
    modem.open()
    return modem


def _section(args: argparse.Namespace) -> ModemSection:
    from edge.config.loader import load_config
    from edge.config.messaging import ModemSection

    if args.port and not args.config.exists():
        return ModemSection(port=args.port)
    config = load_config(args.config)
    if config.modem is None and not args.port:
        raise ConfigError(f"{args.config}: no [modem] section; add one with port = "
                          "\"/dev/ttyUSB2\" or pass --port")
    base = config.modem or ModemSection(port=args.port)
    return ModemSection(**{**_fields(base), **({"port": args.port} if args.port else {})})


def _fields(section: ModemSection) -> dict[str, object]:
    return {name: getattr(section, name) for name in section.__dataclass_fields__}


def cmd_sms_send(args: argparse.Namespace) -> int:
    from firmware_bridge.sms.pdu import encode_submit

    parts = encode_submit(args.number, args.text, status_report=args.status_report)
    modem = _open(args)
    try:
        modem.initialise()
        for part in parts:
            mr = modem.send_pdu(part.at_hex, part.cmgs_length)
            print(f"sent part {part.part}/{part.parts} to {args.number}: message reference {mr}")
    finally:
        modem.close()
    return 0


def cmd_modem_status(args: argparse.Namespace) -> int:
    modem = _open(args)
    try:
        try:
            status = modem.initialise()
        except ModemError as error:
            if error.kind != "config":
                raise
            print(f"modem answers but is not ready: {error}")
            status = modem.status()
    finally:
        modem.close()
    data = status.to_json()
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        for key, value in data.items():
            print(f"{key:>12}: {value}")
    return 0
