"""Inbound SMS: stored PDUs become whole messages for the conversation, reports are kept."""

from __future__ import annotations

import logging

from edge.clock import Clock
from edge.errors import PduError
from edge.sms.conversation import Conversation, Reply
from edge.sms.texts import InboundPdu, SmsStore
from firmware_bridge.sms.pdu import Deliver, StatusReport, decode_pdu
from firmware_bridge.sms.reassembly import Message, Reassembler


class Replies:
    """Turns stored inbound PDUs into whole messages and hands each to the conversation
    (edge.sms.conversation); delivery reports are recorded against the texts they are for."""

    def __init__(self, sms: SmsStore, conversation: Conversation, clock: Clock,
                 reassembly_timeout_s: float = 600.0,
                 log: logging.Logger | None = None) -> None:
        self.sms = sms
        self.conversation = conversation
        self.clock = clock
        self.timeout_s = reassembly_timeout_s
        self._log = log or logging.getLogger("edge.sms.replies")

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
        reply = self.conversation.handle(message.sender, message.text)
        with self.sms.store.transaction():
            self.sms.inbound_state(ids, "done", sender=message.sender, text=message.text,
                                   note=note or reply.outcome)
        return reply


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
