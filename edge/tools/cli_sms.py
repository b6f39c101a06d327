"""edge-hub sms: encode a text into AT+CMGS PDUs, decode a PDU a modem printed."""

from __future__ import annotations

import argparse
import json
import sys

from edge.errors import PduError
from edge.tools.cli_modem import add_modem_commands


def _number(text: str) -> str:
    from firmware_bridge.sms.pdu import parse_number

    try:
        parse_number(text, "number")
    except PduError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("number: ")) from None
    return text


def _reference(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        value = -1
    if not 0 <= value <= 255:
        raise argparse.ArgumentTypeError(f"expected a whole number 0..255, got {text!r}")
    return value


def _pdu_hex(text: str) -> bytes:
    cleaned = "".join(text.split())
    try:
        data = bytes.fromhex(cleaned)
    except ValueError:
        data = b""
    if not data:
        raise argparse.ArgumentTypeError(
            f"expected an even number of hex digits like 0011000B91..., got {text!r}")
    return data


def add_sms_commands(commands: argparse._SubParsersAction) -> None:
    """Register `sms encode` and `sms decode` under commands."""
    sms = commands.add_parser("sms", help="encode or decode SMS PDUs (PDU mode, AT+CMGF=0)")
    actions = sms.add_subparsers(dest="sms_command", required=True, metavar="ACTION")

    encode = actions.add_parser("encode", help="print the AT+CMGS lines that send a text")
    encode.add_argument("--to", type=_number, required=True, help="recipient, e.g. +8613800138000")
    encode.add_argument("--ref", type=_reference, default=0,
                        help="concatenation reference 0..255 tying the parts together")
    encode.add_argument("--status-report", action="store_true",
                        help="ask the SC for a delivery status report")
    encode.add_argument("text", metavar="TEXT", help="the message")
    encode.set_defaults(func=cmd_sms_encode)

    decode = actions.add_parser("decode", help="decode one PDU as JSON")
    decode.add_argument("pdu", type=_pdu_hex, metavar="HEX",
                        help="the PDU in hex, starting with the SMSC field")
    decode.add_argument("--sent", action="store_true",
                        help="the PDU is an SMS-SUBMIT (phone to SC), not a received one")
    decode.add_argument("--no-smsc", action="store_true",
                        help="the PDU starts at the first octet, without the SMSC field")
    decode.set_defaults(func=cmd_sms_decode)
    add_modem_commands(commands, actions, _number)


def cmd_sms_encode(args: argparse.Namespace) -> int:
    """Print AT+CMGS=<length> and the hex to type at the prompt, for every part."""
    from firmware_bridge.sms.pdu import encode_submit

    try:
        parts = encode_submit(args.to, args.text, reference=args.ref,
                              status_report=args.status_report)
    except PduError as error:
        print(f"edge-hub sms encode: {error}", file=sys.stderr)
        return 1
    for part in parts:
        print(f"AT+CMGS={part.cmgs_length}")
        print(part.at_hex)
    return 0


def cmd_sms_decode(args: argparse.Namespace) -> int:
    """Print a PDU's fields as JSON."""
    from firmware_bridge.sms.pdu import decode_pdu

    direction = "sent" if args.sent else "received"
    try:
        decoded = decode_pdu(args.pdu, with_smsc=not args.no_smsc, direction=direction)
    except PduError as error:
        print(f"edge-hub sms decode: {error}", file=sys.stderr)
        return 1
    print(json.dumps(decoded.to_json(), ensure_ascii=False, indent=2))
    return 0
