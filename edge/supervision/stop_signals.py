"""SIGTERM and SIGINT caught from a long-running command's first moment.

`catch_early` runs first of all, in the `edge-hub` entry point (edge.tools.entry),
before the command line and the hub are imported: systemd may stop a hub that is still
loading, and the default handler would kill it before it could stop cleanly. This module
imports only `signal` and `logging` at the top for that reason.
"""

from __future__ import annotations

import logging
import signal
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import asyncio

_caught: list[int] = []  # signals that came before EarlyStop took over


def _note_early(signum: int, frame: object) -> None:
    _caught.append(signum)


def catch_early() -> None:
    """Note a SIGTERM from now on, for the EarlyStop that comes when the hub is built."""
    signal.signal(signal.SIGTERM, _note_early)


def release_early() -> None:
    """For a command that does not run the hub: SIGTERM does what it always does again,
    and one that came meanwhile ends the command now."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if _caught:
        signal.raise_signal(_caught[0])


class Runnable(Protocol):
    async def run(self, stop: asyncio.Event) -> None: ...


class EarlyStop:
    """Catches SIGTERM and SIGINT from the moment it is made, before the hub is built.

    systemd may stop a hub that is still starting; without this the default handler
    kills it halfway through opening its store. The event loop's handlers take over once
    it runs, and a signal that came before (here or since `catch_early`) is honoured at
    once.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.requested: int | None = None
        for signum in self.SIGNALS:
            signal.signal(signum, self._note)
        if _caught:
            self._note(_caught[0], None)

    def _note(self, signum: int, frame: object) -> None:
        self.requested = signum
        logging.getLogger("edge.alerts.hub").warning(
            "Asked to stop (%s) while starting; the hub stops cleanly as soon as it is built.",
            signal.Signals(signum).name)

    def event(self) -> asyncio.Event:
        """The running loop's stop event: set by a signal from now on, or already set if
        one came during start-up. Call from inside the loop."""
        import asyncio

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in self.SIGNALS:
            loop.add_signal_handler(signum, stop.set)
        if self.requested is not None:
            stop.set()
        return stop

    async def wait(self, app: Runnable) -> None:
        """Run `app` until a signal, counting one that came during start-up."""
        await app.run(self.event())
