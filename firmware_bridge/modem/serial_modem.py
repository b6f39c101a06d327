"""SerialModem: a SIM7600/EC25/SIM800-class modem over pyserial: PDU SMS and voice calls.

Blocking API for ONE owner thread (or executor); exactly one AT command is in flight.
A reader thread routes replies to that command and hands unsolicited codes to
`on_event` as `ModemEvent`s, on the reader thread: the handler must only pass them on
(e.g. `loop.call_soon_threadsafe`), never call the modem itself.

PDUs are opaque hex here; firmware_bridge.sms.pdu builds and reads them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import serial

from firmware_bridge.errors import ModemError, ModemSilent, PduError
from firmware_bridge.modem.at_protocol import (
    CTRL_Z,
    ESC,
    Final,
    Urc,
    classify,
    is_number,
)
from firmware_bridge.modem.at_replies import (
    CallLine,
    StoredSms,
    find_line,
    parse_cmgl,
    parse_cmgr,
    parse_cmgs,
    parse_creg,
)
from firmware_bridge.modem.link import PowerKey
from firmware_bridge.modem.port import (
    AtPort,
    Reply,
    SerialFactory,
    open_serial,
    resolve_port,
)
from firmware_bridge.modem.recovery import RecoveryLadder
from firmware_bridge.modem.setup import ModemSetup, ModemStatus
from firmware_bridge.modem.voice import CALL_ENDINGS, calls, dial, hang_up

__all__ = ["CallLine", "ModemEvent", "ModemStatus", "SerialModem", "StoredSms", "event_for"]

_ACTIONS = {
    "transient": "network trouble, worth trying again",
    "busy": "the modem is busy, worth trying again shortly",
    "storage_full": "the SIM's message storage is full; clear it and try again",
    "recipient": "this number cannot take a message now (phone off, out of service or "
                 "barred); try it again later",
    "malformed": "the number or the message is malformed; sending it again will not help",
    "config": "the SIM or a modem setting needs a person's attention",
}
_ESC_SETTLE_S = 0.05


@dataclass(frozen=True, slots=True)
class ModemEvent:
    """Something the modem said on its own: a message, a report, a restart, ..."""

    kind: str
    storage: str = ""
    index: int | None = None
    pdu: bytes | None = None
    text: str = ""


def event_for(urc: Urc) -> ModemEvent:
    """The ModemEvent for an unsolicited result code."""
    args = urc.args
    if urc.name in ("+CMTI", "+CDSI") and len(args) >= 2 and is_number(args[1]):
        kind = "new_message" if urc.name == "+CMTI" else "status_report_index"
        return ModemEvent(kind, storage=args[0], index=int(args[1]), text=urc.raw)
    if urc.name in ("+CMT", "+CDS") and urc.body is not None:
        kind = "deliver" if urc.name == "+CMT" else "status_report"
        return ModemEvent(kind, pdu=bytes.fromhex(urc.body), text=urc.raw)
    if urc.name in ("+CREG", "+CEREG", "+CGREG"):
        return ModemEvent("registration", text=parse_creg(urc.raw))
    if urc.name in CALL_ENDINGS:
        return ModemEvent("call_ended", text=CALL_ENDINGS[urc.name])
    if urc.name in ("RING", "+CRING"):
        return ModemEvent("ring", text=urc.raw)
    if urc.name in ("RDY", "*ATREADY"):
        return ModemEvent("rebooted", text=urc.raw)
    return ModemEvent("other", text=urc.raw)


class SerialModem:
    """The hub's GSM modem: initialise, send PDUs, read and delete stored messages, recover."""

    def __init__(
        self, port: str, *, baudrate: int = 115200, pin: str | None = None,
        send_timeout_s: float = 180.0, command_timeout_s: float = 10.0,
        power_key: PowerKey | None = None, power_key_pulse_s: float = 1.0,
        boot_wait_s: float = 20.0, on_event: Callable[[ModemEvent], None] | None = None,
        serial_factory: SerialFactory = serial.Serial, log: logging.Logger | None = None,
        register_wait_s: float = 60.0, poll_s: float = 0.5,
    ) -> None:
        self.pattern = port
        self.baudrate = baudrate
        self.send_timeout_s = send_timeout_s
        self.command_timeout_s = command_timeout_s
        self.power_key = power_key
        self.power_key_pulse_s = power_key_pulse_s
        self.boot_wait_s = boot_wait_s
        self.poll_s = poll_s
        self.log = log or logging.getLogger("firmware_bridge.modem")
        self._on_event = on_event
        self._factory = serial_factory
        self._lock = threading.RLock()
        self._port: AtPort | None = None
        self._rebooted = threading.Event()
        self._setup = ModemSetup(self, pin=pin, register_wait_s=register_wait_s)

    @property
    def port(self) -> str:
        """The device path in use (the pattern resolved), or the pattern when closed."""
        return self._port.path if self._port is not None else self.pattern

    @property
    def probe_timeout_s(self) -> float:
        return min(self.command_timeout_s, 2.0)

    # ------------------------------------------------------------ port

    def open(self) -> None:
        """Resolve the port (path or glob), open it for this process only, start reading."""
        with self._lock:
            if self._port is not None and self._port.alive:
                return
            self.close_port()
            path = resolve_port(self.pattern)
            port = AtPort(open_serial(self._factory, path, self.baudrate), path,
                          on_urc=self._urc, on_lost=self._lost, log=self.log)
            port.start()
            self._port = port
            self.log.info("Opened the modem port %s (asked for %s).", path, self.pattern)

    def close(self) -> None:
        """Stop the reader and release the port."""
        with self._lock:
            self.close_port()

    def close_port(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            port.close()
        self._setup.initialised = False

    def port_alive(self) -> bool:
        return self._port is not None and self._port.alive

    def _live_port(self) -> AtPort:
        port = self._port
        if port is None or not port.alive:
            raise ModemError(
                f"The modem port {self.port} is not open (lost or closed); the hub runs "
                f"recovery to reopen it.", kind="dead")
        if port.on_reader_thread():
            raise ModemError("SerialModem was called from its own on_event handler; pass "
                             "events to the owner thread instead.", kind="config")
        return port

    def _urc(self, urc: Urc) -> None:
        event = event_for(urc)
        if event.kind == "rebooted":
            self._rebooted.set()
            self.log.warning("The modem on %s restarted (it said %s); it will be set up "
                             "again before the next SMS.", self.port, urc.raw)
        elif event.kind == "registration":
            self.log.info("The modem on %s reports network registration: %s.", self.port,
                          event.text)
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:
                self.log.exception("The modem event handler failed on %s; the modem "
                                   "reader carries on.", event.kind)

    def _lost(self, reason: str) -> None:
        self.log.error("Lost the modem port %s (%s); commands fail until recovery reopens "
                       "it.", self.port, reason)
        if self._on_event is not None:
            try:
                self._on_event(ModemEvent("other", text="port lost"))
            except Exception:
                self.log.exception("The modem event handler failed on 'port lost'.")

    # ------------------------------------------------------------ commands

    def command(self, command: str, timeout_s: float | None = None) -> Reply:
        """Send one AT command and return its reply; no answer raises ModemSilent (transient)."""
        timeout = self.command_timeout_s if timeout_s is None else timeout_s
        with self._lock:
            reply = self._live_port().command(command, timeout)
        if reply is None:
            raise ModemSilent(
                f"The modem on {self.port} did not answer {_masked(command)} within "
                f"{timeout:.1f} s.")
        self.log.debug("%s -> %s %s", _masked(command), reply.lines, reply.final.text)
        return reply

    def check(self, command: str, timeout_s: float | None = None) -> tuple[str, ...]:
        """The information lines of a command that must succeed."""
        reply = self.command(command, timeout_s)
        if not reply.final.ok:
            raise self.refusal(command, reply.final)
        return reply.lines

    def query(self, command: str) -> tuple[str, ...]:
        """The information lines of a command, or () if the modem refused it."""
        reply = self.command(command)
        return reply.lines if reply.final.ok else ()

    def refusal(self, command: str, final: Final) -> ModemError:
        kind = classify(final)
        return ModemError(
            f"The modem on {self.port} refused {_masked(command)}: {final.text} "
            f"({_ACTIONS.get(kind, kind)}).", kind=kind, code=final.code)

    def probe(self, *, esc: bool = True) -> bool:
        """True when the modem answers AT with OK (after ESC, which ends a half-sent SMS)."""
        if not self.port_alive():
            return False
        try:
            if esc:
                self.write_raw(ESC)
                time.sleep(_ESC_SETTLE_S)
            return self.command("AT", self.probe_timeout_s).final.ok
        except ModemError:
            return False

    def write_raw(self, data: bytes) -> None:
        with self._lock:
            self._live_port().write(data)

    # ------------------------------------------------------------ setup and status

    def initialise(self) -> ModemStatus:
        """Wake the modem and set it up for PDU SMS; see ModemSetup for the steps."""
        with self._lock:
            self._rebooted.clear()
            self._setup.run()
            status = self.status()
            self.log.info(
                "The modem on %s is set up (%s, SIM %s, network %s on %r, signal %s dBm); "
                "SMS alerts can go through it.", status.port, status.model, status.sim,
                status.registration, status.operator, status.signal_dbm)
            return status

    def status(self) -> ModemStatus:
        """A fresh reading of SIM, network, signal and SMS centre."""
        with self._lock:
            return self._setup.status()

    def _ensure_initialised(self) -> None:
        if self._rebooted.is_set():
            self.log.warning("The modem on %s restarted since it was set up; setting it up "
                             "again first.", self.port)
        if self._rebooted.is_set() or not self._setup.initialised:
            self.initialise()

    # ------------------------------------------------------------ SMS

    def send_pdu(self, at_hex: str, cmgs_length: int) -> int:
        """Submit one SMS-SUBMIT PDU ("00" + TPDU hex); returns the message reference.

        The reference is -1 if the modem said OK without one. Raises ModemError with
        kind transient/busy/storage_full/recipient/config (see at_protocol), "ambiguous"
        when the modem took the PDU but never confirmed it, "dead" when the port is gone.
        """
        _check_pdu(at_hex, cmgs_length)
        with self._lock:
            self._ensure_initialised()
            port = self._live_port()
            command = f"AT+CMGS={cmgs_length}"
            port.start_command(command)
            answer = port.wait_prompt(command, time.monotonic() + self.command_timeout_s)
            if answer is None:
                raise self._abort_send(port)
            if isinstance(answer, Final):
                raise self.refusal(command, answer)
            port.write(at_hex.encode("ascii") + CTRL_Z)
            reply = port.collect(None, time.monotonic() + self.send_timeout_s)
        return self._sent(command, reply)

    def _abort_send(self, port: AtPort) -> ModemError:
        port.write(ESC)
        port.collect(None, time.monotonic() + min(1.0, self.command_timeout_s))
        self.log.warning("The modem on %s gave no '> ' prompt for an SMS; aborted with ESC, "
                         "the SMS was not sent and will be retried.", self.port)
        return ModemError(f"The modem on {self.port} did not ask for the SMS (no '> ' "
                          f"prompt); nothing was sent, retry.", kind="transient")

    def _sent(self, command: str, reply: Reply | None) -> int:
        if reply is None:
            self.log.warning("The modem on %s took an SMS but did not confirm it within "
                             "%.0f s; it may have gone out. The caller resends.",
                             self.port, self.send_timeout_s)
            raise ModemError(
                f"The modem on {self.port} did not confirm the SMS within "
                f"{self.send_timeout_s:.0f} s after Ctrl-Z; it may or may not have been sent. "
                f"Resend it; the alert reference makes a duplicate recognisable.",
                kind="ambiguous")
        if not reply.final.ok:
            raise self.refusal(command, reply.final)
        reference = parse_cmgs(find_line(reply.lines, "+CMGS"))
        return reference if reference is not None else -1

    def list_messages(self) -> list[StoredSms]:
        """Every message in storage (AT+CMGL=4), PDUs including the SMSC field."""
        with self._lock:
            self._ensure_initialised()
            return parse_cmgl(self.check("AT+CMGL=4"))

    def read_message(self, index: int) -> StoredSms | None:
        """The message at `index`, or None if that slot is empty or invalid."""
        with self._lock:
            self._ensure_initialised()
            reply = self.command(f"AT+CMGR={int(index)}")
        if reply.final.ok:
            return parse_cmgr(reply.lines, index)
        if reply.final.code == 321:
            return None
        raise self.refusal(f"AT+CMGR={index}", reply.final)

    def delete_message(self, index: int) -> None:
        with self._lock:
            self._ensure_initialised()
            self.check(f"AT+CMGD={int(index)}")

    def clear_storage(self) -> None:
        """Delete every stored message (AT+CMGD=1,4), e.g. after a storage_full error."""
        with self._lock:
            self._ensure_initialised()
            self.check("AT+CMGD=1,4")
            self.log.warning("Cleared every message stored in the modem on %s.", self.port)

    # ------------------------------------------------------------ voice calls

    def dial(self, number: str) -> str:
        """Start a voice call (ATD<number>;); see firmware_bridge.modem.voice.dial."""
        with self._lock:
            self._ensure_initialised()
            return dial(self, number)

    def calls(self) -> list[CallLine]:
        """The calls the modem has now (AT+CLCC)."""
        with self._lock:
            return calls(self)

    def hang_up(self) -> None:
        """End our voice call (ATH, then AT+CHUP if it is still there)."""
        with self._lock:
            hang_up(self)

    # ------------------------------------------------------------ recovery

    def recover(self) -> str:
        """Revive a silent modem step by step; returns the step that worked (see RecoveryLadder)."""
        with self._lock:
            step = RecoveryLadder(self).run()
            self.initialise()
            return step


def _check_pdu(at_hex: str, cmgs_length: int) -> None:
    try:
        octets = bytes.fromhex(at_hex)
    except ValueError:
        raise PduError(f"The PDU to send is not hex: {at_hex[:20]!r}...") from None
    if not octets or cmgs_length != len(octets) - 1 - octets[0] or cmgs_length < 1:
        raise PduError(f"The PDU length {cmgs_length} does not fit the {len(octets)}-octet "
                       f"PDU; build both with firmware_bridge.sms.pdu.encode_submit.")


def _masked(command: str) -> str:
    return "AT+CPIN=****" if command.upper().startswith("AT+CPIN=") else command
