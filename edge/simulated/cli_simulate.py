"""edge-hub simulate: run the production hub on a simulated building until SIGTERM."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_CONTROL = "127.0.0.1:8765"


def add_simulate_command(commands: argparse._SubParsersAction, demo_config: Path,
                         broker_url: object) -> None:
    """Register `simulate`."""
    sim = commands.add_parser(
        "simulate", help="run the hub on a simulated building until SIGTERM, with a control API")
    sim.add_argument("--config", type=Path, default=demo_config, help="building to simulate")
    sim.add_argument("--db", type=Path, help="database file; the watches' counters are kept "
                     "beside it (default: a fresh temporary one)")
    where = sim.add_mutually_exclusive_group()
    where.add_argument("--broker", metavar="URL", type=broker_url,  # type: ignore[arg-type]
                       help="mqtt://HOST:PORT of the community server's broker")
    where.add_argument("--offline", action="store_true", help="no uplink: SMS only")
    sim.add_argument("--server", metavar="HOST:PORT", type=_address,
                     help="also run the community server and its console here, beside the "
                          "building (on --broker, or on a Mosquitto it starts), and print a "
                          "duty-desk login: for training")
    sim.add_argument("--pdu-log", type=Path,
                     help="append every SMS PDU the emulated modem accepts, one hex TPDU a line")
    sim.add_argument("--control", metavar="HOST:PORT", type=_address, default=DEFAULT_CONTROL,
                     help=f"where the control API listens (default {DEFAULT_CONTROL})")
    sim.add_argument("--control-token", metavar="FILE", type=Path,
                     help="where to write the API's token (default: beside the database, "
                          "or the temporary folder if that cannot be written)")
    sim.set_defaults(func=cmd_simulate)


def _address(text: str) -> tuple[str, int]:
    from edge.simulated.simulate import control_address

    try:
        return control_address(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def cmd_simulate(args: argparse.Namespace) -> int:
    from edge.simulated.runner import run_simulate

    return run_simulate(args)
