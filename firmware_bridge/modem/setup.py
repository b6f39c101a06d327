"""Setting a modem up for PDU SMS, and reading its status: SIM, PIN, radio, network, SMSC.

A PIN is never retried once it was refused or its result is unknown: three wrong PINs
lock the SIM with its PUK, which the hub never enters. A PIN the SIM has accepted is
entered again when the modem reboots and its SIM locks again, so texting resumes
without a hub restart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields
from typing import Any

from firmware_bridge.errors import ModemError
from firmware_bridge.modem.at_protocol import classify
from firmware_bridge.modem.at_replies import (
    args_of,
    csq_to_dbm,
    find_line,
    is_registered,
    parse_cops,
    parse_cpin,
    parse_creg,
    parse_csca,
    parse_csq,
)
from firmware_bridge.modem.link import ModemLink

_SIM_BY_CME = {10: "NOT INSERTED", 11: "SIM PIN", 12: "SIM PUK", 13: "SIM FAILURE",
               14: "BUSY", 15: "SIM WRONG"}
_SIM_SETTLE_TRIES = 10
NEW_MESSAGE_INDICATIONS = "AT+CNMI=2,1,0,1,0"


@dataclass(frozen=True, slots=True)
class ModemStatus:
    """What the modem reports about itself, its SIM and the network."""

    port: str
    model: str
    sim: str
    registration: str
    registered: bool
    operator: str
    signal_csq: int | None
    signal_dbm: int | None
    smsc: str
    ready: bool

    def to_json(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in fields(self)}


class ModemSetup:
    """The steps of SerialModem.initialise and the queries of SerialModem.status."""

    def __init__(self, modem: ModemLink, *, pin: str | None, register_wait_s: float) -> None:
        self._modem = modem
        self._pin = pin
        self._register_wait_s = register_wait_s
        self.pin_entered = False
        self.pin_proven = False
        self.initialised = False
        self.model = ""
        self.storage = ""

    def run(self) -> None:
        """ESC/AT until it answers, then echo off, verbose errors, SIM, radio, network,
        SMS centre, PDU mode, storage and new-message indications."""
        modem = self._modem
        self.initialised = False
        self._wake()
        modem.check("ATE0")
        modem.check("AT+CMEE=2")
        self.model = _first(modem.query("AT+CGMM"))
        self._unlock_sim()
        self._radio_on()
        self._wait_registration()
        self._require_smsc()
        modem.check("AT+CMGF=0")
        self._select_storage()
        if not modem.command(NEW_MESSAGE_INDICATIONS).final.ok:
            modem.log.warning("The modem on %s refused %s; incoming SMS are found only by "
                              "polling its storage.", modem.port, NEW_MESSAGE_INDICATIONS)
        self.initialised = True

    def _wake(self) -> None:
        modem = self._modem
        if not modem.port_alive():
            modem.open()
        deadline = time.monotonic() + max(modem.boot_wait_s, modem.probe_timeout_s)
        while not modem.probe():
            if not modem.port_alive():
                raise ModemError(f"The modem port {modem.port} is gone; the hub runs "
                                 f"recovery to reopen it.", kind="dead")
            if time.monotonic() >= deadline:
                raise ModemError(
                    f"The modem on {modem.port} does not answer AT (tried for "
                    f"{modem.boot_wait_s:.0f} s); the hub runs recovery.", kind="dead")

    # ------------------------------------------------------------ SIM

    def sim_state(self) -> str:
        """READY, SIM PIN, SIM PUK, NOT INSERTED, ... as AT+CPIN? says (or its error)."""
        reply = self._modem.command("AT+CPIN?")
        if reply.final.ok:
            return parse_cpin(find_line(reply.lines, "+CPIN")) or "UNKNOWN"
        if reply.final.code in _SIM_BY_CME:
            return _SIM_BY_CME[reply.final.code]
        return "BUSY" if classify(reply.final) == "busy" else f"ERROR ({reply.final.text})"

    def _settled_sim_state(self) -> str:
        state = self.sim_state()
        for _ in range(_SIM_SETTLE_TRIES):
            if state not in ("BUSY", "NOT READY"):
                break
            time.sleep(self._modem.poll_s)
            state = self.sim_state()
        return state

    def _unlock_sim(self) -> None:
        state = self._settled_sim_state()
        if state == "SIM PIN":
            state = self._enter_pin()
        if state != "READY":
            raise ModemError(self._sim_problem(state), kind="config")

    def _enter_pin(self) -> str:
        modem, where = self._modem, f"The SIM in the modem on {self._modem.port}"
        if self._pin is None:
            raise ModemError(f"{where} asks for its PIN and no PIN is configured: set the "
                             f"modem PIN in the hub's configuration or remove the PIN lock "
                             f"from the SIM in a phone.", kind="config")
        if self.pin_entered and not self.pin_proven:
            raise ModemError(f"{where} asks for its PIN again; the hub entered it once "
                             f"already without seeing it accepted and never tries an unproven "
                             f"PIN twice (three wrong PINs lock the SIM). Check the PIN in the "
                             f"configuration, then restart the hub.", kind="config")
        self.pin_entered = True
        modem.log.info("%s asks for its PIN; entering the configured PIN%s.", where,
                       " again (it was accepted before)" if self.pin_proven else " once")
        reply = modem.command(f"AT+CPIN={self._pin}")
        if not reply.final.ok:
            self.pin_proven = False
            raise ModemError(f"{where} refused the configured PIN ({reply.final.text}); the "
                             f"hub will not try again. Correct the PIN in the configuration "
                             f"and restart the hub.", kind="config", code=reply.final.code)
        state = self._settled_sim_state()
        self.pin_proven = state == "READY"
        return state

    def _sim_problem(self, state: str) -> str:
        where = f"the modem on {self._modem.port}"
        if state == "NOT INSERTED":
            return (f"No SIM card in {where}: power the modem off, insert a SIM and restart "
                    f"the hub. SMS alerts cannot be sent until then.")
        if state == "SIM PUK":
            return (f"The SIM in {where} is locked with its PUK (too many wrong PINs): unlock "
                    f"it in a phone with the PUK, then restart the hub. The hub never enters "
                    f"a PUK.")
        return f"The SIM in {where} is not usable ({state}); check the SIM card."

    # ------------------------------------------------------------ radio and network

    def _radio_on(self) -> None:
        modem = self._modem
        args = args_of(find_line(modem.query("AT+CFUN?"), "+CFUN"))
        if args and args[0] != "1":
            modem.log.warning("The radio of the modem on %s is off (CFUN=%s); switching it "
                              "on.", modem.port, args[0])
            modem.check("AT+CFUN=1")

    def registration(self) -> str:
        """The best of the circuit (+CREG) and LTE (+CEREG) registration states."""
        states = [parse_creg(find_line(self._modem.query(f"AT{name}?"), name))
                  for name in ("+CREG", "+CEREG")]
        registered = [state for state in states if is_registered(state)]
        return registered[0] if registered else states[0]

    def _wait_registration(self) -> None:
        modem = self._modem
        deadline = time.monotonic() + self._register_wait_s
        state = self.registration()
        while not is_registered(state) and time.monotonic() < deadline:
            time.sleep(modem.poll_s)
            state = self.registration()
        if not is_registered(state):
            modem.log.warning("The modem on %s is not registered on a network (%s) after "
                              "%.0f s; texts cannot be sent until it is.",
                              modem.port, state, self._register_wait_s)

    def _require_smsc(self) -> None:
        smsc = parse_csca(find_line(self._modem.check("AT+CSCA?"), "+CSCA"))
        if not smsc:
            raise ModemError(
                f"There is no SMS centre number on the SIM in the modem on "
                f"{self._modem.port}; set it with AT+CSCA=\"+<number>\" (the operator "
                f"publishes it). SMS cannot be sent without it.", kind="config")

    def _select_storage(self) -> None:
        modem = self._modem
        for memory in ("SM", "ME"):
            if modem.command(f'AT+CPMS="{memory}","{memory}","{memory}"').final.ok:
                self.storage = memory
                return
        modem.log.warning("The modem on %s accepted neither SIM nor modem message storage; "
                          "incoming SMS may be missed.", modem.port)

    def status(self) -> ModemStatus:
        """A fresh reading; `ready` means set up, SIM ready and registered."""
        modem = self._modem
        sim = self.sim_state()
        registration = self.registration()
        csq = parse_csq(find_line(modem.query("AT+CSQ"), "+CSQ"))
        operator = parse_cops(find_line(modem.query("AT+COPS?"), "+COPS"))
        smsc = parse_csca(find_line(modem.query("AT+CSCA?"), "+CSCA"))
        registered = is_registered(registration)
        return ModemStatus(
            port=modem.port, model=self.model, sim=sim, registration=registration,
            registered=registered, operator=operator, signal_csq=csq,
            signal_dbm=csq_to_dbm(csq), smsc=smsc,
            ready=self.initialised and sim == "READY" and registered)


def _first(lines: tuple[str, ...]) -> str:
    return lines[0].strip() if lines else ""
