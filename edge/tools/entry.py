"""The `edge-hub` command's entry point: SIGTERM is caught before anything else loads.

Importing the command line and the hub takes a while on a Pi; a stop asked for meanwhile
is kept for the hub, which then stops cleanly (edge.supervision.stop_signals). Commands
that do not run the hub get the usual SIGTERM back once their arguments are read.
"""

from __future__ import annotations

from edge.supervision.stop_signals import catch_early


def main() -> int:
    catch_early()
    from edge.tools.cli import main as command_line

    return command_line()
