"""The emulated modem's voice calls: ATD<number>;, AT+CLCC, ATH, AT+CHUP and AT+CVHU.

ATD answers OK at once and the call then goes its own way, as on a SIM7600: dialling,
ringing at the far end, then what the test set for that number happens (`CallBehaviour`):
it is answered, the line is busy, the network gives up (NO ANSWER), the call drops
(NO CARRIER), or it rings until the hub hangs up. A SIM without voice service answers
ATD with NO CARRIER, a modem with no network with NO DIALTONE.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from firmware_bridge.simulators.modem_emulator_sms import Replies, Schedule
from firmware_bridge.simulators.modem_emulator_state import ModemState

BEHAVIOURS = ("ring", "answer", "busy", "no_answer", "drop", "no_dialtone")
_ENDING = {"busy": "BUSY", "no_answer": "NO ANSWER", "drop": "NO CARRIER"}
_STAT = {"active": 0, "dialling": 2, "ringing": 3}
DIAL_TO_RING_S = 0.05


@dataclass(frozen=True, slots=True)
class CallBehaviour:
    """What the phone at a number does when called, `after_s` into its ringing."""

    kind: str = "ring"
    after_s: float = 0.3


@dataclass(slots=True)
class Call:
    """The call in progress: its id, number and state."""

    id: int
    number: str
    state: str = "dialling"
    answered: bool = False


@dataclass(frozen=True, slots=True)
class CallRecord:
    """A call as the emulated network saw it: number and how it ended."""

    number: str
    outcome: str  # answered, busy, no_answer, dropped, no_dialtone, no_service, hung_up


class VoiceCalls:
    """One voice call at a time, driven by the behaviours set per number."""

    def __init__(self, state: ModemState, replies: Replies, *, schedule: Schedule) -> None:
        self.state, self._replies, self._schedule = state, replies, schedule
        self.behaviours: dict[str, CallBehaviour] = {}
        self.records: list[CallRecord] = []
        self.call: Call | None = None
        self._ids = itertools.count(1)

    def dial(self, body: str) -> list[str]:
        """ATD<number>; (body "D<number>;"): OK and the call goes on, or how it failed."""
        number = body[1:].rstrip(";").strip()
        if not body.endswith(";") or not number:
            return ["ERROR"]  # a data call, or no number: not something a hub places
        if self.call is not None:
            return self._replies.error("cme", 3)
        behaviour = self.behaviours.get(number, CallBehaviour())
        if self.state.stat() not in (1, 5) or behaviour.kind == "no_dialtone":
            self.records.append(CallRecord(number, "no_dialtone"))
            return ["NO DIALTONE"]
        if not self.state.voice:
            self.records.append(CallRecord(number, "no_service"))
            return ["NO CARRIER"]
        call = self.call = Call(next(self._ids), number)
        self._schedule(DIAL_TO_RING_S, lambda: self._ringing(call, behaviour))
        return ["OK"]

    def _ringing(self, call: Call, behaviour: CallBehaviour) -> None:
        if self.call is not call:
            return
        call.state = "ringing"
        if behaviour.kind != "ring":
            self._schedule(behaviour.after_s, lambda: self._reacts(call, behaviour.kind))

    def _reacts(self, call: Call, kind: str) -> None:
        if self.call is not call:
            return
        if kind == "answer":
            call.state, call.answered = "active", True
            return
        self._end(call, "dropped" if kind == "drop" else kind)
        self._replies.urc(_ENDING[kind])

    def _end(self, call: Call, outcome: str) -> None:
        self.records.append(CallRecord(call.number, "answered" if call.answered else outcome))
        self.call = None

    def clcc(self, name: str, op: str, args: tuple[str, ...]) -> list[str]:
        """AT+CLCC: the call in progress, if any, then OK."""
        call = self.call
        if call is None:
            return ["OK"]
        toa = 145 if call.number.startswith("+") else 129
        return [f'+CLCC: {call.id},0,{_STAT[call.state]},0,0,"{call.number}",{toa}', "OK"]

    def hang_up_ath(self) -> list[str]:
        """ATH: ends the call unless AT+CVHU=1 tells the modem to leave voice calls alone."""
        if self.call is not None and self.state.cvhu == 0:
            self._end(self.call, "hung_up")
        return ["OK"]

    def chup(self, name: str, op: str, args: tuple[str, ...]) -> list[str]:
        """AT+CHUP: ends the voice call whatever AT+CVHU says."""
        if self.call is not None:
            self._end(self.call, "hung_up")
        return ["OK"]

    def cvhu(self, name: str, op: str, args: tuple[str, ...]) -> list[str]:
        if op == "?":
            return [f"+CVHU: {self.state.cvhu}", "OK"]
        if op == "=" and args and args[0] in ("0", "1"):
            self.state.cvhu = int(args[0])
            return ["OK"]
        return ["+CVHU: (0-1)", "OK"] if op == "=?" else self._replies.error("cme", 4)

    def drop_all(self) -> None:
        """The modem restarted or lost power: any call ends with it."""
        if self.call is not None:
            self._end(self.call, "dropped")
