"""SIGTERM and SIGINT caught from a long-running command's first moment."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Protocol


class Runnable(Protocol):
    async def run(self, stop: asyncio.Event) -> None: ...


class EarlyStop:
    """Catches SIGTERM and SIGINT from the moment it is made, before the hub is built.

    systemd may stop a hub that is still starting; without this the default handler
    kills it halfway through opening its store. The event loop's handlers take over once
    it runs, and a signal that came before is honoured at once.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.requested: int | None = None
        for signum in self.SIGNALS:
            signal.signal(signum, self._note)

    def _note(self, signum: int, frame: object) -> None:
        self.requested = signum
        logging.getLogger("edge.alerts.hub").warning(
            "Asked to stop (%s) while starting; the hub stops cleanly as soon as it is built.",
            signal.Signals(signum).name)

    def event(self) -> asyncio.Event:
        """The running loop's stop event: set by a signal from now on, or already set if
        one came during start-up. Call from inside the loop."""
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
