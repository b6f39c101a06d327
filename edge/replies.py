"""Inbound SMS: stored PDUs become replies; a keyword from a notified number acknowledges."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from edge.clock import Clock
from edge.domain import Alert
from edge.errors import AlertError, PduError
from edge.sms_store import InboundPdu, SmsStore
from firmware_bridge.sms_pdu import Deliver, StatusReport, decode_pdu
from firmware_bridge.sms_reassembly import Message, Reassembler

_PUNCTUATION = re.compile(r"[\s,.;:!?，。；：！？、~]+")
_REF = re.compile(r"\bA[0-9A-Z]{3,4}\b", re.IGNORECASE)


def phone_tail(number: str) -> str:
    """The last 11 digits: +8613800138001, 8613800138001 and 13800138001 are one phone."""
    return "".join(ch for ch in number if ch.isdigit())[-11:]


def is_acknowledgement(text: str, keywords: Sequence[str]) -> bool:
    """True when the reply is a keyword, alone or first ('1', '收到！', 'OK A00K')."""
    words = [w for w in _PUNCTUATION.split(text.strip().lower()) if w]
    if not words:
        return False
    return words[0] in keywords or "".join(words) in keywords


@dataclass(frozen=True, slots=True)
class Reply:
    """What one inbound text did, for logs and tests."""

    sender: str
    text: str
    outcome: str
    alert_ref: str = ""


class Replies:
    """Turns stored inbound PDUs into acknowledgements; never trusts an unknown number."""

    def __init__(self, sms: SmsStore, acknowledge: Callable[[str, str], Alert],
                 keywords: Sequence[str], clock: Clock, reassembly_timeout_s: float = 600.0,
                 log: logging.Logger | None = None) -> None:
        self.sms = sms
        self._acknowledge = acknowledge
        self.keywords = tuple(k.lower() for k in keywords)
        self.clock = clock
        self.timeout_s = reassembly_timeout_s
        self._log = log or logging.getLogger("edge.replies")

    def process(self) -> list[Reply]:
        """Handle every stored PDU not yet handled; safe to call again after a crash."""
        reassembler = Reassembler(self.timeout_s)
        rows_of: dict[tuple[object, ...], list[int]] = {}
        replies: list[Reply] = []
        for row in self.sms.inbound_pending():
            replies.extend(self._one(row, reassembler, rows_of))
        for message in reassembler.expire(self.clock.now()):
            replies.append(self._finish(message, rows_of.pop(_key_of(message), []),
                                        note="incomplete: parts missing"))
        for ids in rows_of.values():
            with self.sms.store.transaction():
                self.sms.inbound_state(ids, "part")
        return replies

    def _one(self, row: InboundPdu, reassembler: Reassembler,
             rows_of: dict[tuple[object, ...], list[int]]) -> list[Reply]:
        try:
            decoded = decode_pdu(row.pdu)
        except PduError as error:
            self._log.warning("An inbound SMS could not be read (%s); kept as 'bad', "
                              "nothing changed.", error)
            with self.sms.store.transaction():
                self.sms.inbound_state([row.id], "bad", note=str(error))
            return []
        if isinstance(decoded, StatusReport):
            self._report(decoded, row)
            return []
        if not isinstance(decoded, Deliver):
            with self.sms.store.transaction():
                self.sms.inbound_state([row.id], "bad", note="not an SMS-DELIVER")
            return []
        key = _deliver_key(decoded)
        rows_of.setdefault(key, []).append(row.id)
        message = reassembler.add(decoded, row.received_at)
        if message is None:
            return []
        return [self._finish(message, rows_of.pop(key), note="")]

    def _report(self, report: StatusReport, row: InboundPdu) -> None:
        sms_id = self.sms.status_report(report.message_reference, report.status,
                                        self.clock.now())
        with self.sms.store.transaction():
            self.sms.inbound_state([row.id], "done", sender=report.recipient,
                                   note=f"status report: {report.status_text}")
        self._log.info("Delivery report for text %s to %s: %s.", sms_id, report.recipient,
                       report.status_text)

    def _finish(self, message: Message, ids: list[int], note: str) -> Reply:
        reply = self._handle(message.sender, message.text)
        with self.sms.store.transaction():
            self.sms.inbound_state(ids, "done", sender=message.sender, text=message.text,
                                   note=note or reply.outcome)
        return reply

    def _handle(self, sender: str, text: str) -> Reply:
        alert_ids = self.sms.alerts_notifying(phone_tail(sender))
        if not alert_ids:
            self._log.warning("SMS from %s (%r) ignored: that number was not texted about "
                              "any open alert.", sender, text)
            return Reply(sender, text, "not a notified number")
        if not is_acknowledgement(text, self.keywords):
            self._log.warning("SMS from %s (%r) is not an acknowledgement; nothing changed. "
                              "Replies like %s acknowledge.", sender, text, self.keywords[0])
            return Reply(sender, text, "not understood")
        return self._ack(sender, text, alert_ids)

    def _ack(self, sender: str, text: str, alert_ids: list[int]) -> Reply:
        store = self.sms.store
        alerts = [a for a in (store.alert_by_id(i) for i in alert_ids) if a is not None]
        named = _REF.search(text)
        chosen = next((a for a in alerts if named and a.ref == named.group(0).upper()),
                      alerts[0])
        name = next((c.name for c in self.sms.notified(chosen.id)
                     if phone_tail(c.phone) == phone_tail(sender)), sender)
        try:
            self._acknowledge(chosen.ref, name)
        except AlertError as error:
            return Reply(sender, text, f"too late: {error}", chosen.ref)
        self._log.warning("%s replied %r: alert %s is acknowledged; escalation stops.",
                          name, text, chosen.ref)
        return Reply(sender, text, "acknowledged", chosen.ref)


def _deliver_key(part: Deliver) -> tuple[object, ...]:
    if part.concat is None:
        return ("single", part.sender, part.timestamp.isoformat(), part.text)
    c = part.concat
    return (part.sender, c.reference, c.total, c.ref_bits)


def _key_of(message: Message) -> tuple[object, ...]:
    first = message.parts[0] if message.parts else None
    if isinstance(first, Deliver):
        return _deliver_key(first)
    return ()
