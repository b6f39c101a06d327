"""The AT command set the modem emulator speaks: command handlers and SMS storage.

No port and no thread here: bytes come in through `AtInterpreter.receive`, bytes go
out through the `out` callable, delayed work (the end of a boot) through `schedule`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from firmware_bridge.modem.at_protocol import error_text, is_number, split_args
from firmware_bridge.simulators.modem_emulator_faults import ErrorReply, FaultPlan
from firmware_bridge.simulators.modem_emulator_state import (
    MEMORIES,
    ModemState,
    destination,
    frame,
    submitted_tpdu,
    tpdu_length,
)

Output = Callable[[bytes], None]
Schedule = Callable[[float, Callable[[], None]], None]
Submit = Callable[[str, bool], None]

_EXTENDED = re.compile(r"^([+*^#$][A-Z0-9]+)(=\?|\?|=(.*))?$", re.IGNORECASE)


class AtInterpreter:
    """Reads command lines and PDU bodies, answers like a SIM7600 in PDU mode."""

    def __init__(self, state: ModemState, faults: FaultPlan, *, out: Output,
                 schedule: Schedule, on_submit: Submit, commands: list[str],
                 times: list[float] | None = None) -> None:
        self.state, self.faults = state, faults
        self._out, self._schedule, self._on_submit = out, schedule, on_submit
        self.commands = commands
        self.times = times if times is not None else []
        self._line = bytearray()
        self._pdu: bytearray | None = None
        self._pdu_length = 0

    @property
    def responsive(self) -> bool:
        return not (self.state.off or self.state.booting or self.faults.hung)

    def receive(self, data: bytes) -> None:
        """Bytes from the hub; ignored while off, booting or hung."""
        for byte in data:
            if not self.responsive:
                self._line.clear()
                self._pdu = None
                return
            if self._pdu is not None:
                self._pdu_byte(byte)
            elif byte == 0x0D:
                text = self._line.decode("ascii", errors="replace").strip()
                self._line.clear()
                if text:
                    self._command(text)
            elif byte == 0x1B:
                self._line.clear()
            elif byte != 0x0A and len(self._line) < 2048:
                self._line.append(byte)

    def emit(self, lines: list[str]) -> None:
        """A response, with an armed URC slipped in after its first line."""
        urc = self.faults.take_urc_inside()
        if urc is not None:
            lines = [*lines]
            lines.insert(1 if len(lines) > 1 else 0, urc)
        self._out(b"".join(frame(line) for line in lines))

    def urc(self, line: str) -> None:
        if self.responsive:
            self._out(frame(line))

    # ------------------------------------------------------------ commands

    def _command(self, text: str) -> None:
        self.commands.append(text)
        self.times.append(time.monotonic())
        if self.faults.take_stall():
            return
        if self.state.echo:
            self._out(text.encode() + b"\r")
        if text[:2].upper() != "AT":
            self.emit(["ERROR"])
            return
        body = text[2:]
        match = _EXTENDED.match(body)
        if match is None:
            self._basic(body.upper())
            return
        suffix = match.group(2) or ""
        op = suffix if suffix in ("?", "=?") else suffix[:1]
        self._extended(match.group(1).upper(), op, split_args(match.group(3) or ""))

    def _basic(self, body: str) -> None:
        if body in ("", "Z", "&F", "V1", "Q0"):
            self.emit(["OK"])
        elif body in ("E0", "E1"):
            self.state.echo = body == "E1"
            self.emit(["OK"])
        elif body in ("I", "I0"):
            self.emit(["Manufacturer: SIMCOM INCORPORATED", f"Model: {self.state.model}",
                       "Revision: LE20B04SIM7600G22", "IMEI: 867584030000000", "OK"])
        else:
            self.emit(["ERROR"])

    def _extended(self, name: str, op: str, args: tuple[str, ...]) -> None:
        handler = self._handlers().get(name)
        if handler is None:
            self.emit(["ERROR"])
            return
        if name != "+CMGS":
            armed, error = self.faults.take_failure(name)
            if armed:
                self.emit(self._error_lines(error))
                return
        lines = handler(name, op, args)
        if lines is not None:
            self.emit(lines)

    def _handlers(self) -> dict[str, Callable[[str, str, tuple[str, ...]], list[str] | None]]:
        return {
            "+CMEE": self._cmee, "+CPIN": self._cpin, "+CFUN": self._cfun,
            "+CREG": self._creg, "+CEREG": self._creg, "+CGREG": self._creg,
            "+CSQ": self._csq, "+COPS": self._cops, "+CSCA": self._csca,
            "+CMGF": self._cmgf, "+CPMS": self._cpms, "+CNMI": self._cnmi,
            "+CSMP": self._plain_ok, "+CSCS": self._plain_ok, "+CGMM": self._cgmm,
            "+CGMI": self._cgmi, "+CMGS": self._cmgs, "+CMGL": self._cmgl,
            "+CMGR": self._cmgr, "+CMGD": self._cmgd,
        }

    def error(self, kind: str, code: int) -> list[str]:
        """An error line in the format AT+CMEE asks for."""
        return self._error_lines(ErrorReply(kind, code))

    def _error_lines(self, error: ErrorReply | None) -> list[str]:
        if error is None or self.state.cmee == 0:
            return ["ERROR"]
        detail = str(error.code) if self.state.cmee == 1 else error_text(error.kind, error.code)
        return [f"+{error.kind.upper()} ERROR: {detail}"]

    def _sim_error(self, kind: str) -> list[str] | None:
        """The error for commands that need the SIM, or None when it is ready."""
        codes = {"NOT INSERTED": (310, 10), "SIM PIN": (311, 11), "SIM PUK": (316, 12)}
        if self.state.sim not in codes:
            return None
        cms, cme = codes[self.state.sim]
        return self.error(kind, cms if kind == "cms" else cme)

    # ------------------------------------------------------------ handlers

    def _plain_ok(self, name: str, op: str, args: tuple[str, ...]) -> list[str]:
        return ["OK"]

    def _cmee(self, name: str, op: str, args: tuple[str, ...]) -> list[str]:
        if op == "?":
            return [f"+CMEE: {self.state.cmee}", "OK"]
        if op == "=" and args and args[0] in ("0", "1", "2"):
            self.state.cmee = int(args[0])
            return ["OK"]
        return ["ERROR"]

    def _cpin(self, name: str, op: str, args: tuple[str, ...]) -> list[str]:
        state = self.state
        if state.sim == "NOT INSERTED":
            return self.error("cme", 10)
        if op == "?":
            return [f"+CPIN: {state.sim}", "OK"]
        if op != "=" or state.sim != "SIM PIN" or not args:
            return self.error("cme", 16 if state.sim == "SIM PUK" else 3)
        if args[0] == state.pin:
            state.sim, state.pin_tries = "READY", 3
            self._schedule(0.02, lambda: self.urc("SMS Ready"))
            return ["OK"]
        state.pin_tries -= 1
        if state.pin_tries <= 0:
            state.sim = "SIM PUK"
        return self.error("cme", 16)

    def _cfun(self, name: str, op: str, args: tuple[str, ...]) -> list[str] | None:
        if op == "?":
            return [f"+CFUN: {self.state.cfun}", "OK"]
        if op != "=" or not args or args[0] not in ("0", "1", "4"):
            return self.error("cme", 4)
        self.state.cfun = int(args[0])
        if len(args) > 1 and args[1] == "1":
            self.emit(["OK"])
            self.reboot()
            return None
        return ["OK"]

    def _creg(self, name: str, op: str, args: tuple[str, ...]) -> list[str]:
        if op == "?":
            return [f"{name}: {self.state.reg_n.get(name, 0)},{self.state.stat()}", "OK"]
        if op == "=" and args and args[0] in ("0", "1", "2"):
            self.state.reg_n[name] = int(args[0])
            return ["OK"]
        return [f"{name}: (0-2)", "OK"] if op == "=?" else self.error("cme", 4)

    def _csq(self, name: str, op: str, args: tuple[str, ...]) -> list[str]:
        return [f"+CSQ: {self.state.csq if self.state.cfun == 1 else 99},99", "OK"]

    def _cops(self, name: str, op: str, args: tuple[str, ...]) -> list[str]:
        if op == "?" and self.state.stat() in (1, 5):
            return [f'+COPS: 0,0,"{self.state.operator}",7', "OK"]
        return ["+COPS: 0", "OK"] if op == "?" else ["OK"]

    def _csca(self, name: str, op: str, args: tuple[str, ...]) -> list[str]:
        sim_error = self._sim_error("cms")
        if sim_error:
            return sim_error
        if op == "=" and args:
            self.state.smsc = args[0]
            return ["OK"]
        toa = 145 if self.state.smsc.startswith("+") else 129
        return [f'+CSCA: "{self.state.smsc}",{toa}', "OK"]

    def _cmgf(self, name: str, op: str, args: tuple[str, ...]) -> list[str]:
        if op == "?":
            return [f"+CMGF: {self.state.cmgf}", "OK"]
        if op == "=" and args and args[0] in ("0", "1"):
            self.state.cmgf = int(args[0])
            return ["OK"]
        return self.error("cms", 302)

    def _cpms(self, name: str, op: str, args: tuple[str, ...]) -> list[str]:
        sim_error = self._sim_error("cms")
        if sim_error:
            return sim_error
        used, total = len(self.state.storage), self.state.storage_size
        if op == "?":
            one = f'"{self.state.memory}",{used},{total}'
            return [f"+CPMS: {one},{one},{one}", "OK"]
        if op != "=" or not args or any(a.upper() not in MEMORIES for a in args):
            return self.error("cms", 302)
        self.state.memory = args[0].upper()
        return [f"+CPMS: {used},{total},{used},{total},{used},{total}", "OK"]

    def _cnmi(self, name: str, op: str, args: tuple[str, ...]) -> list[str]:
        if op == "?":
            return ["+CNMI: " + ",".join(str(v) for v in self.state.cnmi), "OK"]
        if op != "=" or not all(is_number(a) for a in args if a):
            return self.error("cms", 303)
        values = [int(a) if a else 0 for a in args][:5]
        self.state.cnmi = tuple(values + [0] * (5 - len(values)))
        return ["OK"]

    def _cgmm(self, name: str, op: str, args: tuple[str, ...]) -> list[str]:
        return [self.state.model, "OK"]

    def _cgmi(self, name: str, op: str, args: tuple[str, ...]) -> list[str]:
        return ["SIMCOM INCORPORATED", "OK"]

    # ------------------------------------------------------------ SMS

    def _sms_refusal(self) -> list[str] | None:
        if self.state.cmgf != 0:
            return self.error("cms", 302)
        return self._sim_error("cms")

    def _cmgs(self, name: str, op: str, args: tuple[str, ...]) -> list[str] | None:
        if op == "=?":
            return ["OK"]
        refusal = self._sms_refusal()
        if refusal:
            return refusal
        if op != "=" or not args or not is_number(args[0]):
            return self.error("cms", 304)
        self._pdu, self._pdu_length = bytearray(), int(args[0])
        if not self.faults.take_lost_prompt():
            self._out(b"\r\n> ")
        return None

    def _pdu_byte(self, byte: int) -> None:
        assert self._pdu is not None
        if byte == 0x1B:
            self._pdu = None
            self.emit(["OK"])
        elif byte == 0x1A:
            text, self._pdu = self._pdu.decode("ascii", errors="replace"), None
            self._submit(text)
        elif byte not in b"\r\n \t" and len(self._pdu) < 1024:
            self._pdu.append(byte)

    def _submit(self, hex_text: str) -> None:
        tpdu = submitted_tpdu(hex_text, self._pdu_length)
        if tpdu is None:
            self.emit(self.error("cms", 304))
            return
        armed, error = self.faults.take_failure("+CMGS")
        refused = self.faults.refused_numbers.get(destination(tpdu) or "")
        if armed:
            self.emit(self._error_lines(error))
        elif refused is not None:
            self.emit(self.error("cms", refused))
        elif self.state.stat() not in (1, 5):
            self.emit(self.error("cms", 331))
        elif self.faults.take_silent_send():
            self._on_submit(tpdu, True)
        else:
            self._on_submit(tpdu, False)
            mr, self.state.next_mr = self.state.next_mr, (self.state.next_mr + 1) % 256
            self.emit([f"+CMGS: {mr}", "OK"])

    def _listing(self, index: int, status: int, pdu: bytes, name: str) -> list[str]:
        head = f"+CMGL: {index},{status},,{tpdu_length(pdu)}" if name == "+CMGL" else \
            f"+CMGR: {status},,{tpdu_length(pdu)}"
        if status == 0:
            self.state.storage[index] = (1, pdu)
        return [head, pdu.hex().upper()]

    def _cmgl(self, name: str, op: str, args: tuple[str, ...]) -> list[str]:
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

    def _cmgr(self, name: str, op: str, args: tuple[str, ...]) -> list[str]:
        refusal = self._sms_refusal()
        if refusal:
            return refusal
        index = self._index(args)
        if index is None:
            return self.error("cms", 321)
        if index not in self.state.storage:
            return ["OK"]
        status, pdu = self.state.storage[index]
        return [*self._listing(index, status, pdu, name), "OK"]

    def _cmgd(self, name: str, op: str, args: tuple[str, ...]) -> list[str]:
        refusal = self._sim_error("cms")
        if refusal:
            return refusal
        index = self._index(args)
        flag = int(args[1]) if len(args) > 1 and is_number(args[1]) else 0
        if index is None and flag == 0:
            return self.error("cms", 321)
        doomed = {0: (), 1: (1,), 2: (1, 3), 3: (1, 2, 3), 4: (0, 1, 2, 3)}.get(flag, ())
        for i, (status, _) in list(self.state.storage.items()):
            if (flag == 0 and i == index) or status in doomed:
                del self.state.storage[i]
        self._schedule(0.0, self.release_held)
        return ["OK"]

    # ------------------------------------------------------------ inbound and power

    def deliver(self, pdu: bytes) -> int | None:
        """A message from the network: stored and announced per AT+CNMI, or held back."""
        mt = self.state.cnmi[1]
        if not self.state.off and mt == 2 and self.state.cmgf == 0:
            self.urc(f"+CMT: ,{tpdu_length(pdu)}\r\n{pdu.hex().upper()}")
            return None
        index = None if self.state.off else self.state.free_index()
        if index is None:
            self.state.held.append(pdu)
            return None
        self.state.storage[index] = (0, pdu)
        if mt in (1, 3):
            self.urc(f'+CMTI: "{self.state.memory}",{index}')
        return index

    def status_report(self, pdu: bytes) -> None:
        """A delivery report: +CDS directly (ds=1) or stored and +CDSI (ds=2)."""
        ds = self.state.cnmi[3]
        if ds == 1:
            self.urc(f"+CDS: {tpdu_length(pdu)}\r\n{pdu.hex().upper()}")
        elif ds == 2 and (index := self.state.free_index()) is not None:
            self.state.storage[index] = (0, pdu)
            self.urc(f'+CDSI: "{self.state.memory}",{index}')

    def release_held(self) -> None:
        while self.state.held and self.state.free_index() is not None:
            self.deliver(self.state.held.pop(0))

    def reboot(self) -> None:
        """Lose the settings, ignore everything for boot_s, then say RDY."""
        self.state.reset_volatile()
        self.state.booting, self.state.off = True, False
        self._line.clear()
        self._pdu = None
        self.state.boot_generation += 1
        generation = self.state.boot_generation
        self._schedule(self.state.boot_s, lambda: self._finish_boot(generation))

    def _finish_boot(self, generation: int) -> None:
        if generation != self.state.boot_generation or self.state.off:
            return
        self.state.booting = False
        lines = ["RDY"]
        if self.state.sim != "NOT INSERTED":
            lines.append(f"+CPIN: {self.state.sim}")
        if self.state.sim == "READY":
            lines.append("SMS Ready")
        self._out(b"".join(frame(line) for line in lines))
        self.release_held()

    def power_key(self) -> None:
        """A PWRKEY pulse: boots a modem that is off or hung, switches a running one off."""
        if self.state.off or self.faults.hung:
            self.faults.hung = False
            self.reboot()
        else:
            self.state.booting, self.state.off = False, True
            self._out(frame("NORMAL POWER DOWN"))
