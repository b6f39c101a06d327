"""What a responder's SMS does: only a clear yes takes an alert, a refusal is recorded and
escalation goes on, anything else is answered with how to take the alert.

A reply counts only from a number that was texted about an open alert, compared in full in
international form. A reference ("1 A0K3") names the alert; a bare yes takes the alert the
sender was told of that has waited longest. Answers go back to the sender: a refusal is
recorded and answered once per alert and number, and the answers to unclear replies are
never the same text twice, nor more than ANSWERS_PER_WINDOW, within ANSWER_WINDOW_S per
number, so an auto-responder cannot start a ping-pong.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from edge.clock import Clock
from edge.domain import Alert, e164
from edge.errors import AlertError
from edge.sms.away import AwayBook
from edge.sms.messages import answer
from edge.sms.reply_meaning import DEFAULT_ACCEPT_PHRASES, Meaning, read_reply
from edge.sms.texts import SmsStore, Told
from edge.storage.store import ALERT_PRIORITY

ANSWER_WINDOW_S = 600.0
ANSWERS_PER_WINDOW = 3


@dataclass(frozen=True, slots=True)
class Reply:
    """What one inbound text did, for logs and tests."""

    sender: str
    text: str
    outcome: str
    alert_ref: str = ""


@dataclass(frozen=True, slots=True)
class ReplyRules:
    """What accepts, whose numbers, and the language answers are in ([sms])."""

    keywords: tuple[str, ...] = ("1", "ok", "收到", "好", "好的", "到", "yes")
    phrases: tuple[str, ...] = DEFAULT_ACCEPT_PHRASES
    country_code: str = "86"
    language: str = "zh"


class Conversation:
    """Acts on one reply at a time; every change it makes is stored before it is told."""

    def __init__(self, sms: SmsStore, acknowledge: Callable[[str, str], Alert], clock: Clock,
                 rules: ReplyRules = ReplyRules(), *, hub_id: str = "",
                 declined: Callable[[int], object] = lambda alert_id: None,
                 log: logging.Logger | None = None) -> None:
        self.sms, self.clock, self.rules, self.hub_id = sms, clock, rules, hub_id
        self._acknowledge = acknowledge
        self._declined = declined  # Responders.declined: escalate at once if a tier is out
        self._answered: dict[str, list[tuple[float, str]]] = {}  # per number: (at, text)
        self.away: AwayBook | None = None  # "离家 3天" from a resident's own numbers
        self._log = log or logging.getLogger("edge.sms.replies")

    def handle(self, sender: str, text: str) -> Reply:
        phone = e164(sender, self.rules.country_code)
        told = self.sms.told(phone, self.rules.country_code)
        # Someone texted about an open alert is answering it ("外出3天" is "I can't come"),
        # never setting away mode: that waits until no alert of theirs is open.
        away = None if self.away is None or told else self.away.handle(phone, text)
        if away is not None:
            return Reply(sender, text, away)
        if not told:
            self._log.warning("SMS from %s (%r) ignored: that number was not texted about "
                              "any open alert.", sender, text)
            return Reply(sender, text, "not a notified number")
        read = read_reply(text, self.rules.keywords, self.rules.phrases)
        chosen = _chosen(told, read.ref)
        if chosen is None:
            self._answer(phone, "unknown_ref", told[0], given=read.ref or "")
            self._log.warning("%s replied %r, naming an alert they were not texted about; "
                              "nothing changed, they were answered.", sender, text)
            return Reply(sender, text, "unknown reference", read.ref or "")
        if read.meaning is Meaning.TAKE:
            return self._take(phone, sender, text, chosen, told)
        if read.meaning is Meaning.DECLINE:
            return self._decline(phone, sender, text, chosen)
        self._answer(phone, "unclear", chosen)
        self._log.warning("%s replied %r to alert %s, which neither takes nor declines it; "
                          "nothing changed, they were told how to take it.", chosen.name,
                          text, chosen.alert.ref)
        return Reply(sender, text, "not understood", chosen.alert.ref)

    def _take(self, phone: str, sender: str, text: str, chosen: Told,
              told: list[Told]) -> Reply:
        try:
            self._acknowledge(chosen.alert.ref, chosen.name)
        except AlertError as error:
            return Reply(sender, text, f"too late: {error}", chosen.alert.ref)
        others = [t for t in told if t.alert.id != chosen.alert.id]
        if others:
            self._answer(phone, "taken_more", chosen, other=others[0], force=True)
        self._log.warning("%s replied %r: alert %s is acknowledged; escalation stops.",
                          chosen.name, text, chosen.alert.ref)
        return Reply(sender, text, "acknowledged", chosen.alert.ref)

    def _decline(self, phone: str, sender: str, text: str, chosen: Told) -> Reply:
        now, alert = self.clock.now(), chosen.alert
        if phone in self.sms.declined(alert.id):
            self._log.info("%s declined alert %s again (%r); already recorded and answered.",
                           chosen.name, alert.ref, text)
            return Reply(sender, text, "declined again", alert.ref)

        def record() -> None:
            self.sms.note_decline(alert.id, phone, chosen.name, now)
            body = {"hub": self.hub_id, "alert": {"uid": alert.uid, "ref": alert.ref},
                    "by": chosen.name, "text": text}
            self.sms.store.append_event("alert.declined", now, body, ALERT_PRIORITY)
        self.sms.store.write(record)
        self._answer(phone, "declined", chosen, force=True)
        self._log.warning("%s cannot go to alert %s (%r); the refusal is recorded and "
                          "escalation goes on.", chosen.name, alert.ref, text)
        self._declined(alert.id)
        return Reply(sender, text, "declined", alert.ref)

    def _answer(self, phone: str, kind: str, about: Told, *, other: Told | None = None,
                given: str = "", force: bool = False) -> None:
        """A text back to the sender. Unless forced (a take confirmed, a first refusal),
        not the same text again nor more than ANSWERS_PER_WINDOW within ANSWER_WINDOW_S."""
        now = self.clock.now()
        text = answer(kind, self.rules.language, ref=about.alert.ref, name=about.resident,
                      other=other.alert.ref if other else "",
                      other_name=other.resident if other else "", given=given)
        recent = [(at, said) for at, said in self._answered.get(phone, [])
                  if now - at < ANSWER_WINDOW_S]
        self._answered[phone] = recent
        if not force and (len(recent) >= ANSWERS_PER_WINDOW
                          or any(said == text for _, said in recent)):
            self._log.info("Not answering %s again so soon (%s): nothing changed.", phone, kind)
            return
        recent.append((now, text))
        self.sms.store.write(lambda: self.sms.enqueue(phone, "reply", text, now,
                                                      alert_id=about.alert.id))


def _chosen(told: Sequence[Told], ref: str | None) -> Told | None:
    """The alert a reply is about: the one it names, else the one waiting longest."""
    if ref is None:
        return told[0]
    return next((t for t in told if t.alert.ref == ref), None)
