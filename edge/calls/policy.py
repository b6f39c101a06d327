"""Ring calls, pure: who gets one after an SOS text, what "night" is, how a call went.

After each text of an open alert's escalation ("sos", "escalated", "unanswered") a contact
marked call = "always" also gets a ring call, one marked "night" only inside the night
hours (local time), "never" none. The call rings for a set time, then the hub hangs up.
One answered call is enough for an alert; a busy line, no answer, a dropped call or no
dial tone is tried again with the next escalation round, never in a loop. A call is
never an acknowledgement: only a person's reply, the server or the hub's button is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import time
from typing import Protocol

from edge.clock import DaySpan
from edge.domain import CallWhen, Contact

CALLED_KINDS = frozenset({"sos", "escalated", "unanswered"})
# How a call ended: answered, no_answer (rang out or the network gave up), busy, dropped
# (the call was gone before the hub saw it answered: NO CARRIER, or no longer listed; a
# call answered and hung up between two looks, about a second apart, looks the same, so
# "dropped" may hide a short answer: calling again next round is the safe side),
# no_dialtone, failed (the modem refused), not_needed (the alert closed first),
# interrupted (the hub or the modem stopped while it rang). All but answered are tried
# again with the next escalation round.
ANSWERED = "answered"
DEFAULT_NIGHT = "22:00-07:00"


def wants_call(contact: Contact, kind: str, night: DaySpan, local: time) -> bool:
    """Whether a text of `kind` to `contact` at local time `local` is followed by a call."""
    if kind not in CALLED_KINDS or contact.call is CallWhen.NEVER:
        return False
    return contact.call is CallWhen.ALWAYS or night.contains(local)


class ListedCall(Protocol):
    """A call as AT+CLCC lists it (firmware_bridge.modem.at_replies.CallLine)."""

    @property
    def outgoing(self) -> bool: ...
    @property
    def voice(self) -> bool: ...
    @property
    def state(self) -> str: ...


def progress(listed: Sequence[ListedCall], ended: str, ring_over: bool) -> str | None:
    """How the call stands: None while it should ring on, else its outcome. `ended` is
    the result code the modem said on its own ("" if none), `ring_over` whether the ring
    time has passed."""
    ours = [call for call in listed if call.outgoing and call.voice]
    if any(call.state == "active" for call in ours):
        return ANSWERED
    if not ours:
        return ended or "dropped"
    return "no_answer" if ring_over else None
