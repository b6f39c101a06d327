"""Places ring calls one at a time on the modem, between texts, never holding one up.

The SMS worker (edge.sms.worker) owns the modem's one thread. Each of its turns sends the
texts that are due first, then gives the ringer one short step: start the next queued
call (ATD<number>; answers at once, the phone rings on its own), or look at the call
ringing (AT+CLCC) and hang up once it was answered, its ring time is over or its alert
was closed. So the AT channel is never held for the ring time, and a text queued while
a phone rings goes out at the next turn. How each call ended goes to the store.

A modem that stops answering (a command timed out, its port is gone) is not asked to
hang up: the error goes back to the worker, which sets the modem up again as it does for
texts; the call is then ended as "interrupted" and hung up (`resume`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from edge.calls.policy import ANSWERED, ListedCall, progress
from edge.calls.store import CallStore, QueuedCall
from edge.clock import Clock
from edge.errors import ModemError, ModemSilent

OnModem = Callable[..., Awaitable[Any]]  # runs a modem method on the modem's thread
_HANG_UP = frozenset({ANSWERED, "no_answer", "not_needed"})  # the call is still up then


class CallModem(Protocol):
    """What the ringer needs of a modem (firmware_bridge.modem.serial_modem.SerialModem)."""

    def dial(self, number: str) -> str: ...
    def calls(self) -> Sequence[ListedCall]: ...
    def hang_up(self) -> None: ...


@dataclass(slots=True)
class _Ringing:
    call: QueuedCall
    until: float  # monotonic time at which the hub hangs up
    ended: str = ""  # the result code the modem said on its own, if any


class RingCalls:
    """The one ring call in progress and the queue behind it."""

    def __init__(self, store: CallStore, modem: CallModem, clock: Clock, ring_s: float, *,
                 log: logging.Logger | None = None) -> None:
        self.store, self.modem, self.clock, self.ring_s = store, modem, clock, ring_s
        self._ringing: _Ringing | None = None
        self._log = log or logging.getLogger("edge.calls")

    def needs_step(self) -> bool:
        """A call is ringing (the worker looks at it every turn) or one waits to start."""
        return self._ringing is not None or self.store.next_due() is not None

    def on_ended(self, outcome: str) -> None:
        """The modem said how the call ended (BUSY, NO ANSWER, ...); seen at the next step."""
        if self._ringing is not None:
            self._ringing.ended = outcome

    async def resume(self, on_modem: OnModem) -> None:
        """The modem was (re)set up: a call that rang when it or the hub stopped is over,
        hung up, and not placed again (the next escalation round calls again)."""
        interrupted = self._ringing is not None
        if interrupted:
            self._end("interrupted", "the modem stopped answering or restarted while it rang")
        if self.store.interrupted(self.clock.now()):
            interrupted = True
            self._log.warning("A ring call was under way when the hub stopped; it is not "
                              "placed again (the next escalation round calls again).")
        if interrupted:
            await self._hang_up(on_modem)

    async def step(self, on_modem: OnModem, texts_due: Callable[[], bool]) -> None:
        """Follow the call ringing, or start the next one when no text is waiting. A modem
        that does not answer raises ModemError (see `silent`); the call stays ringing
        until `resume`."""
        try:
            if self._ringing is not None:
                await self._follow(on_modem)
            else:
                await self._start(on_modem, texts_due)
        except ModemError as error:
            if silent(error):
                raise
            await self._failed(on_modem, error)

    async def _start(self, on_modem: OnModem, texts_due: Callable[[], bool]) -> None:
        call = self.store.next_due()
        if call is None or texts_due():
            return
        if not call.alert_open:
            self.store.finished(call.id, "not_needed", self.clock.now())
            return
        self.store.started(call.id, self.clock.now())
        self._ringing = _Ringing(call, self.clock.monotonic() + self.ring_s)
        result = await on_modem(self.modem.dial, call.phone)
        if result != "dialling":
            self._end(result)
            return
        self._log.warning("Ringing %s (%s) about alert %s for %.0f s, so a phone silent for "
                          "texts still rings.", call.name, call.phone, call.ref, self.ring_s)

    async def _follow(self, on_modem: OnModem) -> None:
        ringing = self._ringing
        assert ringing is not None
        if not self.store.store.alert_open(ringing.call.alert_id):
            outcome: str | None = "not_needed"
        else:
            listed = await on_modem(self.modem.calls)
            outcome = progress(listed, ringing.ended,
                               self.clock.monotonic() >= ringing.until)
        if outcome is None:
            return
        if outcome in _HANG_UP:
            await self._hang_up(on_modem)
        self._end(outcome)

    async def _failed(self, on_modem: OnModem, error: ModemError) -> None:
        if self._ringing is None:
            self._log.warning("Could not look at the ring call queue on the modem (%s).",
                              error)
            return
        await self._hang_up(on_modem)
        self._end("failed", str(error))

    async def _hang_up(self, on_modem: OnModem) -> None:
        """Hang up; a modem that refuses is logged (the network ends the call anyway), one
        that does not answer raises."""
        try:
            await on_modem(self.modem.hang_up)
        except ModemError as error:
            if silent(error):
                raise
            self._log.warning("Could not hang up the ring call (%s); the network ends it by "
                              "itself.", error)

    def _end(self, outcome: str, detail: str = "") -> None:
        ringing, self._ringing = self._ringing, None
        assert ringing is not None
        call = ringing.call
        self.store.finished(call.id, outcome, self.clock.now(), detail)
        if outcome == ANSWERED:
            self._log.warning("%s (%s) answered the ring call about alert %s: recorded. This "
                              "is not an acknowledgement; texts go on until someone replies.",
                              call.name, call.phone, call.ref)
        elif outcome == "not_needed":
            self._log.info("Ring call to %s about alert %s stopped: the alert is closed.",
                           call.name, call.ref)
        else:
            self._log.warning("Ring call to %s (%s) about alert %s: %s%s. Called again with "
                              "the next escalation round if the alert is still open.",
                              call.name, call.phone, call.ref, outcome.replace("_", " "),
                              f" ({detail})" if detail else "")


def silent(error: ModemError) -> bool:
    """Whether the modem did not answer at all (a timeout, a lost port), rather than
    refuse: then nothing more is asked of it until it is set up again."""
    return isinstance(error, ModemSilent) or error.kind == "dead"
