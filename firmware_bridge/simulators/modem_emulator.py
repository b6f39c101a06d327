"""An AT-command GSM modem on a pseudo-terminal, for tests and the demo.

`ModemEmulator.start()` opens a pty and returns the slave's path; the hub opens it with
pyserial exactly as it opens /dev/ttyUSB2 on a Pi. The emulator speaks PDU-mode SMS
like a SIM7600, records every command and every PDU it accepted, sends URCs at awkward
moments and injects the faults real modems have (no SIM, no network, +CMS errors, lost
prompt, silence after Ctrl-Z, reboot, garbage, a hung or vanished port).

The power key: give the emulator's `power_key_pulse` to whatever stands for the modem's
PWRKEY input. With gpiozero's MockFactory, connect the Pi's output pin to an input pin
(`factory.pin(17, pin_class=MockConnectedPin, input_pin=factory.pin(27))`) and read the
input with `DigitalInputDevice(27, pin_factory=factory)`, whose `when_deactivated` (the
end of a pulse) is `emulator.power_key_pulse`. A pulse boots a modem that is off or
hung, and switches a running one off, as a SIM7600's PWRKEY does.
"""

from __future__ import annotations

import heapq
import itertools
import os
import random
import select
import threading
import time
import tty
from collections.abc import Callable, Collection
from pathlib import Path

from firmware_bridge.simulators.modem_emulator_calls import (
    BEHAVIOURS,
    CallBehaviour,
    CallRecord,
)
from firmware_bridge.simulators.modem_emulator_commands import AtInterpreter
from firmware_bridge.simulators.modem_emulator_faults import ErrorReply, FaultPlan
from firmware_bridge.simulators.modem_emulator_state import (
    REGISTRATION_CODES,
    REGISTRATION_COMMANDS,
    SIM_STATES,
    ModemState,
    frame,
)

_WRITE_WAIT_S = 1.0


class ModemEmulator:
    """A SIM7600-like modem behind a pty, driven and inspected by tests."""

    def __init__(self, *, model: str = "SIMCOM_SIM7600G-H", sim: str = "READY",
                 pin: str = "1234", operator: str = "CHINA MOBILE",
                 smsc: str = "+8613800100500", registration: str = "home", csq: int = 20,
                 pdu_log: Path | None = None, storage_size: int = 20, boot_s: float = 0.2,
                 seed: int = 7, ims: bool = True, circuit: bool = True,
                 voice: bool = True) -> None:
        _check(sim, SIM_STATES, "sim")
        _check(registration, REGISTRATION_CODES, "registration")
        self._state = ModemState(
            model=model, operator=operator, smsc=smsc, registration=registration, csq=csq,
            storage_size=storage_size, boot_s=boot_s, sim=sim, pin=pin,
            pin_protected=sim in ("SIM PIN", "SIM PUK"), ims=ims, circuit=circuit,
            voice=voice)
        self._faults = FaultPlan()
        self.submitted: list[str] = []
        self.ambiguous_sent: list[str] = []
        self.commands: list[str] = []
        self.command_times: list[float] = []  # time.monotonic() of each command line
        self.submitted_times: list[float] = []  # and of each accepted PDU
        self.pdu_log = pdu_log
        self.path: str | None = None
        self.link: Path | None = None
        self._random = random.Random(seed)
        self._lock = threading.RLock()
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._sequence = itertools.count()
        self._master: int | None = None
        self._slave: int | None = None
        self._wake: tuple[int, int] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._interpreter = AtInterpreter(
            self._state, self._faults, out=self._write, schedule=self._schedule,
            on_submit=self._record, commands=self.commands, times=self.command_times)

    # ------------------------------------------------------------ the port

    def start(self, link: Path | None = None) -> str:
        """Open the pty and serve it; returns the path to open (and links `link` to it)."""
        if self._thread is not None:
            raise RuntimeError("the modem emulator is already started")
        return self._open_port(link)

    def stop(self) -> None:
        """Close the port and stop serving; safe to call twice."""
        self._close_port()

    def disappear(self) -> None:
        """The port goes away, as a USB modem does when it resets or is unplugged."""
        self._close_port()

    def reappear(self, link: Path | None = None) -> str:
        """The modem is back on a new pty (and a new link name), booting."""
        with self._lock:
            self._interpreter.reboot()
        return self._open_port(link)

    def _open_port(self, link: Path | None) -> str:
        master, slave = os.openpty()
        tty.setraw(slave)
        os.set_blocking(master, False)
        self._master, self._slave, self.path = master, slave, os.ttyname(slave)
        self._wake = os.pipe()
        self.link = link
        if link is not None:
            link.unlink(missing_ok=True)
            link.symlink_to(self.path)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="modem-emulator",
                                        args=(master, self._wake[0], self._stop), daemon=True)
        self._thread.start()
        return self.path

    def _close_port(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            if self._wake is not None:
                os.write(self._wake[1], b"x")
            thread.join(timeout=2.0)
        with self._lock:
            for fd in (self._master, self._slave, *(self._wake or ())):
                if fd is not None:
                    os.close(fd)
            self._master = self._slave = self._wake = None
        if self.link is not None:
            self.link.unlink(missing_ok=True)

    def _serve(self, master: int, wake: int, stop: threading.Event) -> None:
        while not stop.is_set():
            ready, _, _ = select.select([master, wake], [], [], self._next_timer_s())
            if wake in ready:
                os.read(wake, 512)
            if master in ready:
                try:
                    data = os.read(master, 4096)
                except OSError:
                    data = b""
                with self._lock:
                    self._interpreter.receive(data)
            self._run_due_timers()

    def _write(self, data: bytes) -> None:
        """Bytes onto the line; dropped, like a UART overrun, if nobody reads for a second."""
        with self._lock:
            deadline = time.monotonic() + _WRITE_WAIT_S
            while data and self._master is not None and time.monotonic() < deadline:
                try:
                    data = data[os.write(self._master, data):]
                except BlockingIOError:
                    select.select([], [self._master], [], 0.05)
                except OSError:
                    return

    def _schedule(self, delay_s: float, action: Callable[[], None]) -> None:
        with self._lock:
            heapq.heappush(self._timers, (time.monotonic() + delay_s, next(self._sequence),
                                          action))
            if self._wake is not None:
                os.write(self._wake[1], b"t")

    def _next_timer_s(self) -> float:
        with self._lock:
            if not self._timers:
                return 0.5
            return max(0.0, min(0.5, self._timers[0][0] - time.monotonic()))

    def _run_due_timers(self) -> None:
        with self._lock:
            while self._timers and self._timers[0][0] <= time.monotonic():
                heapq.heappop(self._timers)[2]()

    def _record(self, tpdu_hex: str, ambiguous: bool) -> None:
        self.submitted.append(tpdu_hex)
        self.submitted_times.append(time.monotonic())
        if ambiguous:
            self.ambiguous_sent.append(tpdu_hex)
        if self.pdu_log is not None:
            with self.pdu_log.open("a", encoding="ascii") as log:
                log.write(tpdu_hex + "\n")

    # ------------------------------------------------------------ driving it

    def deliver_pdu(self, pdu: bytes) -> int | None:
        """A message arrives (full PDU with SMSC); returns its storage index, None if held."""
        with self._lock:
            return self._interpreter.sms.deliver(pdu)

    def status_report(self, pdu: bytes) -> None:
        """A delivery report arrives (full PDU with SMSC), routed per AT+CNMI <ds>."""
        with self._lock:
            self._interpreter.sms.status_report(pdu)

    def inject(self, text: str | bytes) -> None:
        """Text goes out as a framed line ("\\r\\n<text>\\r\\n"), bytes go out as they are."""
        self._write(frame(text) if isinstance(text, str) else text)

    @property
    def sim(self) -> str:
        return self._state.sim

    @sim.setter
    def sim(self, value: str) -> None:
        _check(value, SIM_STATES, "sim")
        with self._lock:
            self._state.sim = value
            self._state.pin_protected = value in ("SIM PIN", "SIM PUK")
            self._state.pin_tries = 3 if value == "SIM PIN" else self._state.pin_tries

    @property
    def registration(self) -> str:
        return self._state.registration

    @registration.setter
    def registration(self, value: str) -> None:
        """Change the network state; announce it as +CREG: <stat> where enabled."""
        _check(value, REGISTRATION_CODES, "registration")
        with self._lock:
            before = self._state.stat()
            self._state.registration = value
            if self._state.stat() != before:
                for name in REGISTRATION_COMMANDS:
                    if self._state.reg_n.get(name, 0) >= 1:
                        self._interpreter.urc(f"{name}: {self._state.stat()}")

    @property
    def pin_tries_left(self) -> int:
        return self._state.pin_tries

    @property
    def stored(self) -> dict[int, bytes]:
        """The PDUs in SIM storage by index."""
        with self._lock:
            return {index: pdu for index, (_, pdu) in self._state.storage.items()}

    @property
    def echo(self) -> bool:
        return self._state.echo

    @property
    def powered(self) -> bool:
        return not self._state.off

    # ------------------------------------------------------------ voice calls

    def on_call(self, number: str, behaviour: str, after_s: float = 0.3) -> None:
        """What the phone at `number` does when the hub calls it, `after_s` into ringing:
        "answer", "busy", "no_answer" (the network gives up), "drop" (NO CARRIER),
        "no_dialtone", or "ring" (the default: rings until the hub hangs up)."""
        _check(behaviour, BEHAVIOURS, "call behaviour")
        with self._lock:
            self._interpreter.calls.behaviours[number] = CallBehaviour(behaviour, after_s)

    @property
    def calls(self) -> list[CallRecord]:
        """Every call placed so far, with how it ended."""
        with self._lock:
            return list(self._interpreter.calls.records)

    @property
    def call_in_progress(self) -> str | None:
        """The number being called now, or None."""
        with self._lock:
            call = self._interpreter.calls.call
            return None if call is None else call.number

    def voice_hangup_ignored(self, ignored: bool = True) -> None:
        """As AT+CVHU=1 on a SIMCom modem: ATH no longer ends voice calls (AT+CHUP does)."""
        with self._lock:
            self._state.cvhu = int(ignored)

    # ------------------------------------------------------------ faults

    def fail_next(self, command: str, *, cms: int | None = None, cme: int | None = None,
                  count: int = 1) -> None:
        """The next `count` uses of `command` ("CMGS") answer this error (none: ERROR)."""
        error = ErrorReply("cms", cms) if cms is not None else \
            ErrorReply("cme", cme) if cme is not None else None
        with self._lock:
            self._faults.fail(command, error, count)

    def lose_prompt_next(self) -> None:
        """The next AT+CMGS waits for its PDU without showing the "> " prompt."""
        with self._lock:
            self._faults.lost_prompts += 1

    def timeout_after_ctrl_z_next(self) -> None:
        """The next PDU is sent (recorded in `submitted` and `ambiguous_sent`), never answered."""
        with self._lock:
            self._faults.silent_sends += 1

    def urc_inside_next_response(self, text: str) -> None:
        """Slip a URC line after the first line of the next response."""
        with self._lock:
            self._faults.urcs_inside.append(text)

    def urc_storm(self, count: int, text: str = "+CREG: 1") -> None:
        self._write(frame(text) * count)

    def refuse_number(self, number: str, cms: int = 27) -> None:
        """Every SMS to `number` ("+8613800138001") is refused with this +CMS error until
        accept_number: 27 is a phone that is off, 21 a refused transfer, 1 a wrong number."""
        with self._lock:
            self._faults.refused_numbers[number] = cms

    def accept_number(self, number: str) -> None:
        """The phone is back: SMS to `number` go through again."""
        with self._lock:
            self._faults.refused_numbers.pop(number, None)

    def stall_next(self, count: int) -> None:
        """Ignore the next `count` command lines entirely (a modem busy in its firmware)."""
        with self._lock:
            self._faults.stalls += count

    def hang(self) -> None:
        """Answer nothing at all, not even AT+CFUN=1,1; only the power key revives it."""
        with self._lock:
            self._faults.hung = True

    def unhang(self) -> None:
        with self._lock:
            self._faults.hung = False

    def reboot(self) -> None:
        """Restart now: settings lost, silent for boot_s, then RDY, +CPIN, SMS Ready."""
        with self._lock:
            self._interpreter.reboot()

    def power_key_pulse(self) -> None:
        """The PWRKEY was pulsed: boot when off or hung, power down when running."""
        with self._lock:
            self._interpreter.power_key()

    def garbage(self, n_bytes: int) -> None:
        """Random bytes on the line, as from a noisy UART or a baud-rate mismatch."""
        self._write(self._random.randbytes(n_bytes))


def _check(value: str, allowed: Collection[str], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; use one of {sorted(allowed)}")
