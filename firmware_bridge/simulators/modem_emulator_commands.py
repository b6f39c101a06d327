"""The AT command set the modem emulator speaks: the command line and settings handlers.

No port and no thread here: bytes come in through `AtInterpreter.receive`, bytes go
out through the `out` callable, delayed work (the end of a boot) through `schedule`.
The SMS commands and message storage are `modem_emulator_sms`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from firmware_bridge.modem.at_protocol import error_text, is_number, split_args
from firmware_bridge.modem.network import is_two_g_only
from firmware_bridge.simulators.modem_emulator_calls import VoiceCalls
from firmware_bridge.simulators.modem_emulator_faults import ErrorReply, FaultPlan
from firmware_bridge.simulators.modem_emulator_sms import (
    Output,
    Schedule,
    SmsCommands,
    Submit,
)
from firmware_bridge.simulators.modem_emulator_state import MEMORIES, ModemState, frame

_EXTENDED = re.compile(r"^([+*^#$][A-Z0-9]+)(=\?|\?|=(.*))?$", re.IGNORECASE)


class AtInterpreter:
    """Reads command lines and PDU bodies, answers like a SIM7600 in PDU mode."""

    def __init__(self, state: ModemState, faults: FaultPlan, *, out: Output,
                 schedule: Schedule, on_submit: Submit, commands: list[str],
                 times: list[float] | None = None) -> None:
        self.state, self.faults = state, faults
        self._out, self._schedule = out, schedule
        self.commands = commands
        self.times = times if times is not None else []
        self._line = bytearray()
        self.sms = SmsCommands(state, faults, self, out=out, schedule=schedule,
                               on_submit=on_submit)
        self.calls = VoiceCalls(state, self, schedule=schedule)

    @property
    def responsive(self) -> bool:
        return not (self.state.off or self.state.booting or self.faults.hung)

    def receive(self, data: bytes) -> None:
        """Bytes from the hub; ignored while off, booting or hung."""
        for byte in data:
            if not self.responsive:
                self._line.clear()
                self.sms.drop_pdu()
                return
            if self.sms.typing_pdu:
                self.sms.pdu_byte(byte)
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
        if body.startswith("D"):
            self.emit(self._dial(body))
        elif body in ("H", "H0"):
            self.emit(self.calls.hang_up_ath())
        elif body in ("", "Z", "&F", "V1", "Q0"):
            self.emit(["OK"])
        elif body in ("E0", "E1"):
            self.state.echo = body == "E1"
            self.emit(["OK"])
        elif body in ("I", "I0"):
            self.emit(["Manufacturer: SIMCOM INCORPORATED", f"Model: {self.state.model}",
                       "Revision: " + ("1418B04SIM800L24" if is_two_g_only(self.state.model)
                                       else "LE20B04SIM7600G22"),
                       "IMEI: 867584030000000", "OK"])
        else:
            self.emit(["ERROR"])

    def _dial(self, body: str) -> list[str]:
        armed, error = self.faults.take_failure("+D")
        if armed:
            return self.error_lines(error)
        return self.sim_error("cme") or self.calls.dial(body)

    def _extended(self, name: str, op: str, args: tuple[str, ...]) -> None:
        handler = self._handlers().get(name)
        if name in ("+CEREG", "+CIREG") and is_two_g_only(self.state.model):
            handler = None  # a GSM-only modem knows neither LTE nor IMS
        if handler is None:
            self.emit(["ERROR"])
            return
        if name != "+CMGS":
            armed, error = self.faults.take_failure(name)
            if armed:
                self.emit(self.error_lines(error))
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
            "+CGMI": self._cgmi, "+CIREG": self._cireg, "+CMGS": self.sms.cmgs, "+CMGL": self.sms.cmgl,
            "+CMGR": self.sms.cmgr, "+CMGD": self.sms.cmgd, "+CLCC": self.calls.clcc,
            "+CHUP": self.calls.chup, "+CVHU": self.calls.cvhu,
        }

    def error(self, kind: str, code: int) -> list[str]:
        """An error line in the format AT+CMEE asks for."""
        return self.error_lines(ErrorReply(kind, code))

    def error_lines(self, error: ErrorReply | None) -> list[str]:
        """The lines of an armed failure; a plain ERROR for None or under AT+CMEE=0."""
        if error is None or self.state.cmee == 0:
            return ["ERROR"]
        detail = str(error.code) if self.state.cmee == 1 else error_text(error.kind, error.code)
        return [f"+{error.kind.upper()} ERROR: {detail}"]

    def sim_error(self, kind: str) -> list[str] | None:
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
            stat = self.state.circuit_stat() if name == "+CREG" else self.state.stat()
            return [f"{name}: {self.state.reg_n.get(name, 0)},{stat}", "OK"]
        if op == "=" and args and args[0] in ("0", "1", "2"):
            self.state.reg_n[name] = int(args[0])
            return ["OK"]
        return [f"{name}: (0-2)", "OK"] if op == "=?" else self.error("cme", 4)

    def _cireg(self, name: str, op: str, args: tuple[str, ...]) -> list[str]:
        """IMS registration (3GPP TS 27.007 +CIREG): registered while on LTE with IMS."""
        if op == "?":
            on_ims = self.state.ims and self.state.stat() in (1, 5)
            return [f"+CIREG: {self.state.reg_n.get(name, 0)},{int(on_ims)}", "OK"]
        if op == "=" and args and args[0] in ("0", "1", "2"):
            self.state.reg_n[name] = int(args[0])
            return ["OK"]
        return ["+CIREG: (0-2)", "OK"] if op == "=?" else self.error("cme", 4)

    def _csq(self, name: str, op: str, args: tuple[str, ...]) -> list[str]:
        return [f"+CSQ: {self.state.csq if self.state.cfun == 1 else 99},99", "OK"]

    def _cops(self, name: str, op: str, args: tuple[str, ...]) -> list[str]:
        if op == "?" and self.state.stat() in (1, 5):
            act = 0 if is_two_g_only(self.state.model) else 7  # GSM or E-UTRAN
            return [f'+COPS: 0,0,"{self.state.operator}",{act}', "OK"]
        return ["+COPS: 0", "OK"] if op == "?" else ["OK"]

    def _csca(self, name: str, op: str, args: tuple[str, ...]) -> list[str]:
        sim_error = self.sim_error("cms")
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
        sim_error = self.sim_error("cms")
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

    # ------------------------------------------------------------ power

    def reboot(self) -> None:
        """Lose the settings, ignore everything for boot_s, then say RDY."""
        self.state.reset_volatile()
        self.calls.drop_all()
        self.state.booting, self.state.off = True, False
        self._line.clear()
        self.sms.drop_pdu()
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
        self.sms.release_held()

    def power_key(self) -> None:
        """A PWRKEY pulse: boots a modem that is off or hung, switches a running one off."""
        if self.state.off or self.faults.hung:
            self.faults.hung = False
            self.reboot()
        else:
            self.state.booting, self.state.off = False, True
            self.calls.drop_all()
            self._out(frame("NORMAL POWER DOWN"))
