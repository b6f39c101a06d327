"""When MQTT has been down too long but HTTPS works: drain the outbox over HTTPS.

Alerts go first, each batch is acknowledged by the server's answer (the same contiguous
rule as over MQTT), commands are fetched and applied. HTTP does not count as a connected
uplink for the dual path: while on HTTPS, alerts also go out by SMS.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from edge.clock import Clock
from edge.errors import CommandError, UplinkError
from edge.uplink.sync import PRIORITIES, OutboxSync


class HttpPort(Protocol):
    def post_batch(self, payload: bytes) -> tuple[int, str]: ...
    def fetch_commands(self, hub: str, community: str, after: int) -> tuple[list[bytes], int]: ...


class HttpFallback:
    """Runs beside the MQTT uplink and takes over only while MQTT stays down."""

    def __init__(self, sync: OutboxSync, http: HttpPort, on_command: Callable[[bytes], None],
                 clock: Clock, *, after_s: float, poll_s: float,
                 log: logging.Logger | None = None) -> None:
        self.sync, self.http, self._on_command = sync, http, on_command
        self.clock, self.after_s, self.poll_s = clock, after_s, poll_s
        self.active = False
        self.posted = 0
        self._down_since: float | None = clock.monotonic()
        self._after = int(sync.store.meta("http_commands_after", "0"))
        self._log = log or logging.getLogger("edge.uplink")

    def due(self) -> bool:
        """MQTT has been down for at least `after_s`."""
        if self.sync.connected:
            self._down_since = None
            return False
        if self._down_since is None:
            self._down_since = self.clock.monotonic()
        return self.clock.monotonic() - self._down_since >= self.after_s

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            if self.due():
                try:
                    await self._round(loop)
                    self._switch(True)
                except UplinkError as error:
                    self._log.warning("HTTPS fallback failed too: %s.", error)
            else:
                self._switch(False)
            try:
                await asyncio.wait_for(stop.wait(), self.poll_s)
            except asyncio.TimeoutError:
                pass

    async def _round(self, loop: asyncio.AbstractEventLoop) -> None:
        """Post everything not yet acknowledged, alerts first, then fetch commands."""
        sync = self.sync
        for priority in PRIORITIES:
            after = sync.acked_seq
            while batch := sync.outbox.batch_after(priority, after, sync.batch_size):
                payload = batch.payload(sync.batch_head())
                sync.highest_sent = max(sync.highest_sent, batch.last)
                ack, epoch = await loop.run_in_executor(None, self.http.post_batch, payload)
                self.posted += batch.count
                try:
                    sync.acknowledged(ack, epoch)
                except CommandError as error:
                    self._log.warning("The server's answer is not believed (%s).", error)
                after = batch.last
        commands, cursor = await loop.run_in_executor(
            None, self.http.fetch_commands, sync.hub, sync.community, self._after)
        for command in commands:
            self._on_command(command)
        if cursor != self._after:
            self._after = cursor
            with sync.store.transaction():
                sync.store.set_meta("http_commands_after", str(cursor))

    def _switch(self, active: bool) -> None:
        if active != self.active:
            self.active = active
            if active:
                self._log.warning("MQTT has been down for %.0f s; events now go to the server "
                                  "over HTTPS (alerts also by SMS).", self.after_s)
            else:
                self._log.info("Back on MQTT; the HTTPS fallback rests.")
