"""The SMS worker: drains the queue through the modem, reads the inbox, survives faults.

Every modem call runs on one executor thread, so AT commands never interleave; results
come back to the event loop. URCs from the modem's reader thread are passed in with
call_soon_threadsafe. Each turn sends the texts that are due, reads the inbox and checks
the modem when those are due, and only then gives ring calls (edge.calls.ringer) one short
step; a failing ring call never stops the others, and a modem that stops answering during
one goes the way of any modem fault.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from edge.calls.ringer import RingCalls
from edge.clock import Clock
from edge.errors import ModemError, PduError
from edge.sms.replies import Replies
from edge.sms.retry import (
    MODEM_FAULTS,
    SLOW_POLL_MAX_S,
    keeps_trying,
    message_retry_s,
    readiness_poll_s,
    recipient_retry_s,
)
from edge.sms.texts import OutgoingSms, SmsStore
from edge.wakeup import wait_any
from firmware_bridge.sms.pdu import encode_submit

T = TypeVar("T")
RETRY_S = 1.0  # after an unexpected error the worker carries on this soon
RING_STEP_S = 1.0  # how often a ringing call is looked at (AT+CLCC)


class StoredMessage(Protocol):
    index: int
    pdu: bytes


class ModemPort(Protocol):
    """What the worker needs of a modem (firmware_bridge.modem.serial_modem.SerialModem)."""

    def open(self) -> None: ...
    def close(self) -> None: ...
    def initialise(self) -> Any: ...
    def send_pdu(self, at_hex: str, cmgs_length: int) -> int: ...
    def list_messages(self) -> list[Any]: ...
    def status(self) -> Any: ...
    def delete_message(self, index: int) -> None: ...
    def clear_storage(self) -> None: ...
    def recover(self) -> str: ...


class SmsWorker:
    """Sends queued texts most urgent first and keeps the inbox empty and stored."""

    def __init__(self, sms: SmsStore, modem: ModemPort, replies: Replies, clock: Clock, *,
                 status_report: bool = True, inbox_poll_s: float = 60.0, idle_s: float = 30.0,
                 health_check_s: float = 600.0, log: logging.Logger | None = None) -> None:
        self.sms = sms
        self.modem = modem
        self.replies = replies
        self.clock = clock
        self.status_report = status_report
        self.inbox_poll_s = inbox_poll_s
        self.idle_s = idle_s
        self.health_check_s = health_check_s
        self._report: Callable[[str, dict[str, object]], object] = lambda kind, details: None
        self._undeliverable: Callable[[OutgoingSms, str], object] = lambda message, why: None
        self._fault_since: float | None = None  # monotonic start of a modem fault
        self._tried_at: float | None = None  # monotonic time of the last bring-up
        self._fault_logged = ""  # the fault last logged: one line per change of state
        self._ring_fault = ""  # the ring-call error last logged, likewise
        self._health_due = 0.0
        self.ready = False
        self.fault = ""
        self.sent = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="modem")
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inbox_due = 0.0
        self.ringer: RingCalls | None = None  # ring calls after SOS texts, if configured
        # Replies were acted on (a decline may bring the next step forward): the hub's loop
        self.replied: Callable[[], object] = lambda: None
        self._log = log or logging.getLogger("edge.sms")

    def set_reporter(self, report: Callable[[str, dict[str, object]], object]) -> None:
        """Where recovery outcomes go (the composition passes an outbox writer)."""
        self._report = report

    def set_undeliverable(self, tell: Callable[[OutgoingSms, str], object]) -> None:
        """Who hears of a text that can never be delivered (the composition: the duty desk)."""
        self._undeliverable = tell

    def wake(self) -> None:
        """Something was queued: look at the queue now (call from the event loop)."""
        self._wake.set()

    def on_modem_event(self, event: Any) -> None:
        """Called on the modem's reader thread; hands the event to the loop."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._event, event)

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    # -- the loop ---------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            while not stop.is_set():
                try:
                    await self._turn(stop)
                except Exception:  # noqa: BLE001 - one bad turn must not end texting
                    self._log.exception("The SMS worker hit an unexpected error; texts stay "
                                        "queued and it carries on in a moment.")
                    await self._sleep(stop, min(self.idle_s, RETRY_S))
        finally:
            await self._call(self._close_quietly)
            self._executor.shutdown(wait=True)

    async def _turn(self, stop: asyncio.Event) -> None:
        if not self.ready:
            await self._bring_up(stop)
            return
        await self._send_due(stop)
        if self.ready and self.clock.monotonic() >= self._inbox_due:
            await self._drain_inbox()
        if self.ready and self.clock.monotonic() >= self._health_due:
            await self._check_health()
        ringer = self.ringer
        if ringer is not None and self.ready:
            await self._ring(lambda: ringer.step(
                self._call, lambda: self.sms.next_due(self.clock.now()) is not None))
        await self._idle(stop)

    async def _ring(self, action: Callable[[], Awaitable[None]]) -> None:
        """One ring-call action. A modem that does not answer goes the way of any modem
        fault; any other error is logged once and texts, replies and checks go on."""
        try:
            await action()
        except ModemError as error:
            self._log.error("The GSM modem stopped answering during a ring call (%s). The "
                            "call is ended; queued texts go first once the modem answers "
                            "again.", str(error).rstrip("."))
            await self._repair(error.kind, error)
        except Exception as error:  # noqa: BLE001 - a ring call must not stop texting
            if self._ring_fault != repr(error):
                self._ring_fault = repr(error)
                self._log.exception("Ring calls failed (%s). Texts, replies and modem checks "
                                    "go on; ring calls are tried again at the next turn.",
                                    error)
            return
        self._ring_fault = ""

    async def _bring_up(self, stop: asyncio.Event) -> None:
        """Open and set the modem up; while it cannot send, check again every few seconds
        at first and less often as the fault goes on (edge.sms.retry.readiness_poll_s)."""
        await self._sleep(stop, self._until_next_check())
        if stop.is_set():
            return
        self._tried_at = self.clock.monotonic()
        try:
            await self._call(self._close_quietly)
            await self._call(self.modem.open)
            status = await self._call(self.modem.initialise)
        except ModemError as error:
            self._modem_down(error)
            await self._call(self._close_quietly)
            return
        self.ready, self.fault = True, ""
        described = getattr(status, "to_json", lambda: status)()
        if self._fault_since is None:
            self._log.info("GSM modem ready: %s.", described)
        else:
            self._log.warning("The GSM modem is usable again after %.0f s (%s); queued texts "
                              "go out now.", self.clock.monotonic() - self._fault_since, described)
            self._fault_since, self._fault_logged = None, ""
        ringer = self.ringer
        if ringer is not None:
            await self._ring(lambda: ringer.resume(self._call))
        if self.ready:
            await self._drain_inbox()

    def _until_next_check(self) -> float:
        if self._fault_since is None or self._tried_at is None:
            return 0.0
        mono = self.clock.monotonic()
        wait = readiness_poll_s(mono - self._fault_since)
        return max(0.0, wait - (mono - self._tried_at))

    def _modem_down(self, error: ModemError, told: bool = False) -> None:
        """The modem cannot send now: texts wait for it; say so once per change of fault
        (unless `told`: the port's loss, logged by the driver; setting it up again, at
        once, says what is wrong)."""
        mono = self.clock.monotonic()
        self.ready, self.fault = False, str(error)
        if self._fault_since is None:
            self._fault_since = mono
        if self._fault_logged != self.fault and not told:
            self._fault_logged = self.fault
            self._log.error("The GSM modem cannot send texts now: %s. Texts stay queued; the "
                            "hub checks the modem again in %.0f s, then less often (at most "
                            "every %.0f s), and says when it is usable again.",
                            self.fault.rstrip("."), readiness_poll_s(mono - self._fault_since),
                            SLOW_POLL_MAX_S)

    def _modem_works(self) -> None:
        """A text went out or a check passed: the fault, if any, is over."""
        if self._fault_since is not None:
            self._log.warning("The GSM modem sends texts again (it could not for %.0f s).",
                              self.clock.monotonic() - self._fault_since)
        self._fault_since = None
        self._fault_logged = ""

    def _close_quietly(self) -> None:
        try:
            self.modem.close()
        except ModemError:
            pass

    async def _idle(self, stop: asyncio.Event) -> None:
        """Until the next queued text, inbox read or health check is due, or wake() (a
        text queued, here or by another process through the hub's loop, or a modem
        event); RING_STEP_S while a ring call needs following; at most `idle_s`. Not at
        all when this turn found the modem gone: setting it up paces itself."""
        if not self.ready:
            return
        mono = self.clock.monotonic()
        wait = min(self.idle_s, self._inbox_due - mono, self._health_due - mono)
        if self.ringer is not None and self.ringer.needs_step():
            wait = min(wait, RING_STEP_S)
        next_try = self.sms.next_wake()
        if next_try is not None:
            wait = min(wait, next_try - self.clock.now())
        self._wake.clear()
        await wait_any((self._wake, stop), max(wait, 0.001))

    async def _sleep(self, stop: asyncio.Event, seconds: float) -> None:
        try:
            await asyncio.wait_for(stop.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            pass

    # -- sending ----------------------------------------------------------------------------

    async def _send_due(self, stop: asyncio.Event) -> None:
        while self.ready and not stop.is_set():
            message = self.sms.next_due(self.clock.now())
            if message is None:
                return
            await self._send(message)
            await asyncio.sleep(0)  # a run of texts that fail at once must not hold the loop

    async def _send(self, message: OutgoingSms) -> None:
        try:
            parts = encode_submit(message.phone, message.text, reference=message.id % 256,
                                  status_report=self.status_report)
        except PduError as error:
            self._give_up(message, f"the number cannot be used ({error})")
            return
        for part in parts:
            if part.part in message.sent_parts:
                continue
            try:
                mr = await self._call(self.modem.send_pdu, part.at_hex, part.cmgs_length)
            except ModemError as error:
                await self._failed(message, error)
                return
            self.sms.part_sent(message.id, part.part, part.parts, mr, self.clock.now())
        self.sms.sent(message.id, self.clock.now())
        self.sent += 1
        self._modem_works()
        self._log.info("Texted %s (%s, %d part%s).", message.phone, message.kind, len(parts),
                       "" if len(parts) == 1 else "s")

    async def _failed(self, message: OutgoingSms, error: ModemError) -> None:
        """Judge the failure for this message (edge.sms.retry): its number, or the modem."""
        now, kind = self.clock.now(), error.kind
        if kind == "malformed":
            self._give_up(message, str(error))
        elif kind == "recipient":
            self._recipient_refused(message, error)
        elif kind == "ambiguous":
            self._log.warning("No answer after sending to %s; sending again (it may arrive "
                              "twice: the alert reference tells them apart).", message.phone)
            self.sms.retry_later(message.id, now, str(error))
        else:
            self.sms.retry_later(message.id, now + message_retry_s(kind, message.attempts + 1),
                                 str(error))
            self._log.warning("Text to %s not sent (%s: %s).", message.phone, kind, error)
            await self._repair(kind, error)

    def _recipient_refused(self, message: OutgoingSms, error: ModemError) -> None:
        """The network would not take a text for this number now: try it again later."""
        tries = message.refusals + 1
        if not keeps_trying(message.kind, self.sms.store.alert_open(message.alert_id),
                            tries):
            self.sms.failed(message.id, str(error))
            self._log.error("Gave up the %s text to %s after %d tries (%s).", message.kind,
                            message.phone, tries, error)
            return
        wait = recipient_retry_s(tries)
        self.sms.retry_later(message.id, self.clock.now() + wait, str(error), refused=True)
        self._log.warning("The network could not deliver the %s text to %s now (%s); trying "
                          "that number again in %.0f s. Other texts and escalation go on.",
                          message.kind, message.phone, error, wait)

    def _give_up(self, message: OutgoingSms, why: str) -> None:
        """A text that can never be delivered as it is: stop, and tell a person."""
        self.sms.failed(message.id, why)
        self._log.error("The %s text to %s can never be delivered: %s. It is dropped and the "
                        "duty desk is told to check the number.", message.kind,
                        message.phone, why)
        try:
            self._undeliverable(message, why)
        except Exception:  # noqa: BLE001 - telling the desk must not stop the worker
            self._log.exception("Could not tell the duty desk about the text to %s.",
                                message.phone)

    async def _repair(self, kind: str, error: ModemError) -> None:
        if kind == "storage_full":
            await self._drain_inbox()
            await self._call(self.modem.clear_storage)
        elif kind == "dead":
            await self._recover(error)
        elif kind in MODEM_FAULTS:
            self._modem_down(error)

    async def _recover(self, error: ModemError) -> None:
        try:
            step = await self._call(self.modem.recover)
            self._log.warning("The GSM modem answers again (recovered by: %s).", step)
            self._report("hub.modem_recovered", {"step": step})
        except ModemError as failed:
            self._modem_down(failed)
            self._log.error("The GSM modem could not be revived (%s); texts stay queued and "
                            "the hub keeps trying.", failed)
            self._report("hub.modem_dead", {"error": str(failed)})

    async def _check_health(self) -> None:
        """Ask the modem for SIM, network and signal; a failure marks it for set-up again."""
        self._health_due = self.clock.monotonic() + self.health_check_s
        try:
            status = await self._call(self.modem.status)
        except ModemError as error:
            if error.kind != "dead":  # a port that is gone: the driver said so already
                self._log.error("The GSM modem failed its check (%s); setting it up again.",
                                error)
            self._modem_down(error, told=error.kind == "dead")
            return
        if not getattr(status, "registered", True):
            self.fault = f"not registered on a network ({getattr(status, 'registration', '?')})"
        else:
            self.fault = ""
            self._modem_works()

    # -- inbox --------------------------------------------------------------------------------

    async def _drain_inbox(self) -> None:
        """Store every message on the SIM, then delete it there, then act on it."""
        self._inbox_due = self.clock.monotonic() + self.inbox_poll_s
        try:
            stored = await self._call(self.modem.list_messages)
            for item in stored:
                self.sms.save_inbound(item.pdu, self.clock.now())
                await self._call(self.modem.delete_message, item.index)
        except ModemError as error:
            # a port that is gone is told once, by the driver and the set-up that follows
            log = self._log.info if error.kind == "dead" else self._log.warning
            log("Could not read the SIM inbox (%s); trying again later.", error)
        self.replies.process()
        self.replied()

    def _event(self, event: Any) -> None:
        kind = getattr(event, "kind", "")
        if kind in ("status_report", "deliver") and getattr(event, "pdu", None):
            self.sms.save_inbound(event.pdu, self.clock.now())
            self.replies.process()
            self.replied()
        elif kind == "call_ended" and self.ringer is not None:
            self.ringer.on_ended(getattr(event, "text", ""))
        elif kind in ("new_message", "status_report_index"):
            self._inbox_due = 0.0
        elif kind == "rebooted" or (kind == "other" and "lost" in getattr(event, "text", "")):
            # the driver has logged a lost port; setting up again logs how that went
            self._log.info("The GSM modem %s; setting it up again.",
                           "restarted" if kind == "rebooted" else "vanished")
            self.ready = False
        self._wake.set()
