"""The emulated modem's SMS commands: AT+CMGS and its PDU, the message storage, delivery.

AT+CMGS, the PDU typed after its `> ` prompt, AT+CMGL/+CMGR/+CMGD on the storage, and
what the network brings (messages and status reports, stored or announced per AT+CNMI).
They answer through the AT interpreter that hosts them (`Replies`), so that armed faults
and the AT+CMEE error format apply to them as to every other command.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from firmware_bridge.modem.at_protocol import is_number
from firmware_bridge.simulators.modem_emulator_faults import ErrorReply, FaultPlan
from firmware_bridge.simulators.modem_emulator_state import (
    ModemState,
    destination,
    submitted_tpdu,
    tpdu_length,
)

Output = Callable[[bytes], None]
Schedule = Callable[[float, Callable[[], None]], None]
Submit = Callable[[str, bool], None]


class Replies(Protocol):
    """How the SMS commands answer: through the interpreter that hosts them."""

    def emit(self, lines: list[str]) -> None: ...

    def urc(self, line: str) -> None: ...

    def error(self, kind: str, code: int) -> list[str]: ...

    def error_lines(self, error: ErrorReply | None) -> list[str]: ...

    def sim_error(self, kind: str) -> list[str] | None: ...


class SmsCommands:
    """AT+CMGS/+CMGL/+CMGR/+CMGD in PDU mode, and the messages the network delivers."""

    def __init__(self, state: ModemState, faults: FaultPlan, replies: Replies, *,
                 out: Output, schedule: Schedule, on_submit: Submit) -> None:
        self.state, self.faults, self._replies = state, faults, replies
        self._out, self._schedule, self._on_submit = out, schedule, on_submit
        self._pdu: bytearray | None = None
        self._pdu_length = 0

    @property
    def typing_pdu(self) -> bool:
        """True between the `> ` prompt and the Ctrl-Z or Esc that ends the PDU."""
        return self._pdu is not None

    def drop_pdu(self) -> None:
        self._pdu = None

    def _sms_refusal(self) -> list[str] | None:
        if self.state.cmgf != 0:
            return self._replies.error("cms", 302)
        return self._replies.sim_error("cms")

    def cmgs(self, name: str, op: str, args: tuple[str, ...]) -> list[str] | None:
        if op == "=?":
            return ["OK"]
        refusal = self._sms_refusal()
        if refusal:
            return refusal
        if op != "=" or not args or not is_number(args[0]):
            return self._replies.error("cms", 304)
        self._pdu, self._pdu_length = bytearray(), int(args[0])
        if not self.faults.take_lost_prompt():
            self._out(b"\r\n> ")
        return None

    def pdu_byte(self, byte: int) -> None:
        assert self._pdu is not None
        if byte == 0x1B:
            self._pdu = None
            self._replies.emit(["OK"])
        elif byte == 0x1A:
            text, self._pdu = self._pdu.decode("ascii", errors="replace"), None
            self._submit(text)
        elif byte not in b"\r\n \t" and len(self._pdu) < 1024:
            self._pdu.append(byte)

    def _submit(self, hex_text: str) -> None:
        replies = self._replies
        tpdu = submitted_tpdu(hex_text, self._pdu_length)
        if tpdu is None:
            replies.emit(replies.error("cms", 304))
            return
        armed, error = self.faults.take_failure("+CMGS")
        refused = self.faults.refused_numbers.get(destination(tpdu) or "")
        if armed:
            replies.emit(replies.error_lines(error))
        elif refused is not None:
            replies.emit(replies.error("cms", refused))
        elif self.state.stat() not in (1, 5):
            replies.emit(replies.error("cms", 331))
        elif self.faults.take_silent_send():
            self._on_submit(tpdu, True)
        else:
            self._on_submit(tpdu, False)
            mr, self.state.next_mr = self.state.next_mr, (self.state.next_mr + 1) % 256
            replies.emit([f"+CMGS: {mr}", "OK"])

    def _listing(self, index: int, status: int, pdu: bytes, name: str) -> list[str]:
        head = f"+CMGL: {index},{status},,{tpdu_length(pdu)}" if name == "+CMGL" else \
            f"+CMGR: {status},,{tpdu_length(pdu)}"
        if status == 0:
            self.state.storage[index] = (1, pdu)
        return [head, pdu.hex().upper()]

    def cmgl(self, name: str, op: str, args: tuple[str, ...]) -> list[str]:
        if op == "=?":
            return ["+CMGL: (0-4)", "OK"]
        refusal = self._sms_refusal()
        if refusal:
            return refusal
        wanted = int(args[0]) if args and is_number(args[0]) else 0
        lines: list[str] = []
        for index, (status, pdu) in sorted(self.state.storage.items()):
            if wanted == 4 or status == wanted:
                lines += self._listing(index, status, pdu, name)
        return [*lines, "OK"]

    def _index(self, args: tuple[str, ...]) -> int | None:
        if not args or not is_number(args[0]):
            return None
        index = int(args[0])
        return index if index < self.state.storage_size else None

    def cmgr(self, name: str, op: str, args: tuple[str, ...]) -> list[str]:
        refusal = self._sms_refusal()
        if refusal:
            return refusal
        index = self._index(args)
        if index is None:
            return self._replies.error("cms", 321)
        if index not in self.state.storage:
            return ["OK"]
        status, pdu = self.state.storage[index]
        return [*self._listing(index, status, pdu, name), "OK"]

    def cmgd(self, name: str, op: str, args: tuple[str, ...]) -> list[str]:
        refusal = self._replies.sim_error("cms")
        if refusal:
            return refusal
        index = self._index(args)
        flag = int(args[1]) if len(args) > 1 and is_number(args[1]) else 0
        if index is None and flag == 0:
            return self._replies.error("cms", 321)
        doomed = {0: (), 1: (1,), 2: (1, 3), 3: (1, 2, 3), 4: (0, 1, 2, 3)}.get(flag, ())
        for i, (status, _) in list(self.state.storage.items()):
            if (flag == 0 and i == index) or status in doomed:
                del self.state.storage[i]
        self._schedule(0.0, self.release_held)
        return ["OK"]

    # ------------------------------------------------------------ from the network

    def deliver(self, pdu: bytes) -> int | None:
        """A message from the network: stored and announced per AT+CNMI, or held back."""
        mt = self.state.cnmi[1]
        if not self.state.off and mt == 2 and self.state.cmgf == 0:
            self._replies.urc(f"+CMT: ,{tpdu_length(pdu)}\r\n{pdu.hex().upper()}")
            return None
        index = None if self.state.off else self.state.free_index()
        if index is None:
            self.state.held.append(pdu)
            return None
        self.state.storage[index] = (0, pdu)
        if mt in (1, 3):
            self._replies.urc(f'+CMTI: "{self.state.memory}",{index}')
        return index

    def status_report(self, pdu: bytes) -> None:
        """A delivery report: +CDS directly (ds=1) or stored and +CDSI (ds=2)."""
        ds = self.state.cnmi[3]
        if ds == 1:
            self._replies.urc(f"+CDS: {tpdu_length(pdu)}\r\n{pdu.hex().upper()}")
        elif ds == 2 and (index := self.state.free_index()) is not None:
            self.state.storage[index] = (0, pdu)
            self._replies.urc(f'+CDSI: "{self.state.memory}",{index}')

    def release_held(self) -> None:
        while self.state.held and self.state.free_index() is not None:
            self.deliver(self.state.held.pop(0))
