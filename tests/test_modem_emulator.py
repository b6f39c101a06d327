"""The modem emulator, spoken to byte by byte through its pty with plain pyserial."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial
from gpiozero import DigitalInputDevice, OutputDevice
from gpiozero.pins.mock import MockConnectedPin, MockFactory

from firmware_bridge.simulators.modem_emulator import ModemEmulator

DELIVER = bytes.fromhex(
    "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07")
TPDU = "11000B911326880736F40000A70A546869732069732061"  # 23 octets
FINAL = re.compile(rb"(OK|ERROR|\+CM[SE] ERROR: [^\r]*)\r\n$")


class Terminal:
    """A person at a serial terminal: types a line, reads until the final result."""

    def __init__(self, path: str) -> None:
        self.port = serial.Serial(path, 115200, timeout=0.02, exclusive=True)

    def send(self, data: bytes) -> None:
        self.port.write(data)

    def read_until(self, pattern: re.Pattern[bytes] | bytes, timeout: float = 1.0) -> bytes:
        wanted = re.compile(re.escape(pattern)) if isinstance(pattern, bytes) else pattern
        seen, deadline = b"", time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen += self.port.read(4096)
            if wanted.search(seen):
                return seen
        raise AssertionError(f"{wanted.pattern!r} not seen; got {seen!r}")

    def quiet(self, seconds: float = 0.15) -> bytes:
        """Everything said within `seconds` (expected: nothing)."""
        seen, deadline = b"", time.monotonic() + seconds
        while time.monotonic() < deadline:
            seen += self.port.read(4096)
        return seen

    def ask(self, command: str) -> bytes:
        self.send(command.encode() + b"\r")
        return self.read_until(FINAL)


@pytest.fixture
def emulator() -> Iterator[ModemEmulator]:
    modem = ModemEmulator(boot_s=0.05)
    modem.start()
    yield modem
    modem.stop()


@pytest.fixture
def term(emulator: ModemEmulator) -> Iterator[Terminal]:
    assert emulator.path is not None
    terminal = Terminal(emulator.path)
    yield terminal
    terminal.port.close()


def pdu_mode(term: Terminal) -> None:
    for command in ("ATE0", "AT+CMEE=1", "AT+CMGF=0", "AT+CNMI=2,1,0,1,0"):
        assert term.ask(command).endswith(b"OK\r\n")


def test_echo_is_on_like_a_real_modem_until_ate0(term: Terminal, emulator: ModemEmulator) -> None:
    assert term.ask("AT") == b"AT\r\r\nOK\r\n"
    assert term.ask("ATE0") == b"ATE0\r\r\nOK\r\n"
    assert term.ask("AT") == b"\r\nOK\r\n"
    assert emulator.commands == ["AT", "ATE0", "AT"]


def test_identity_signal_operator_and_sms_centre(term: Terminal) -> None:
    term.ask("ATE0")
    assert b"Model: SIMCOM_SIM7600G-H" in term.ask("ATI")
    assert term.ask("AT+CGMM") == b"\r\nSIMCOM_SIM7600G-H\r\n\r\nOK\r\n"
    assert term.ask("AT+CSQ") == b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n"
    assert term.ask("AT+COPS?") == b'\r\n+COPS: 0,0,"CHINA MOBILE",7\r\n\r\nOK\r\n'
    assert term.ask("AT+CSCA?") == b'\r\n+CSCA: "+8613800100500",145\r\n\r\nOK\r\n'
    assert term.ask("AT+CREG?") == b"\r\n+CREG: 0,1\r\n\r\nOK\r\n"
    assert term.ask("AT+CFUN?") == b"\r\n+CFUN: 1\r\n\r\nOK\r\n"
    assert term.ask("AT+BOGUS") == b"\r\nERROR\r\n"


def test_error_format_follows_cmee(term: Terminal, emulator: ModemEmulator) -> None:
    emulator.sim = "NOT INSERTED"
    term.ask("ATE0")
    assert term.ask("AT+CPIN?") == b"\r\nERROR\r\n"
    term.ask("AT+CMEE=1")
    assert term.ask("AT+CPIN?") == b"\r\n+CME ERROR: 10\r\n"
    term.ask("AT+CMEE=2")
    assert term.ask("AT+CPIN?") == b"\r\n+CME ERROR: SIM not inserted\r\n"
    assert term.ask("AT+CSCA?") == b"\r\n+CMS ERROR: SIM not inserted\r\n"


def test_three_wrong_pins_lock_the_sim_with_its_puk() -> None:
    emulator = ModemEmulator(sim="SIM PIN", pin="4321")
    terminal = Terminal(emulator.start())
    try:
        pdu_mode(terminal)
        assert b"+CPIN: SIM PIN" in terminal.ask("AT+CPIN?")
        for tries_left in (2, 1, 0):
            assert terminal.ask("AT+CPIN=0000") == b"\r\n+CME ERROR: 16\r\n"
            assert emulator.pin_tries_left == tries_left
        assert b"+CPIN: SIM PUK" in terminal.ask("AT+CPIN?")
        assert terminal.ask("AT+CPIN=4321") == b"\r\n+CME ERROR: 16\r\n"
    finally:
        terminal.port.close()
        emulator.stop()


def test_the_right_pin_unlocks_the_sim(term: Terminal, emulator: ModemEmulator) -> None:
    emulator.sim = "SIM PIN"
    pdu_mode(term)
    term.send(b"AT+CPIN=1234\r")
    assert term.read_until(b"SMS Ready\r\n") == b"\r\nOK\r\n\r\nSMS Ready\r\n"
    assert term.ask("AT+CPIN?") == b"\r\n+CPIN: READY\r\n\r\nOK\r\n"


def test_a_pdu_is_accepted_with_a_rolling_reference_and_logged(tmp_path: Path) -> None:
    log = tmp_path / "pdus.txt"
    emulator = ModemEmulator(pdu_log=log)
    terminal = Terminal(emulator.start())
    try:
        pdu_mode(terminal)
        for reference in (0, 1):
            terminal.send(b"AT+CMGS=23\r")
            terminal.read_until(b"\r\n> ")
            terminal.send(b"00" + TPDU.encode() + b"\x1a")
            assert terminal.read_until(FINAL) == f"\r\n+CMGS: {reference}\r\n\r\nOK\r\n".encode()
        assert emulator.submitted == [TPDU, TPDU]
        assert log.read_text().splitlines() == [TPDU, TPDU]
    finally:
        terminal.port.close()
        emulator.stop()


def test_a_pdu_of_the_wrong_length_is_refused_with_cms_304(term: Terminal,
                                                             emulator: ModemEmulator) -> None:
    pdu_mode(term)
    term.send(b"AT+CMGS=22\r")
    term.read_until(b"> ")
    term.send(b"00" + TPDU.encode() + b"\x1a")
    assert term.read_until(FINAL) == b"\r\n+CMS ERROR: 304\r\n"
    term.send(b"AT+CMGS=23\r")
    term.read_until(b"> ")
    term.send(b"00ZZ\x1a")
    assert term.read_until(FINAL) == b"\r\n+CMS ERROR: 304\r\n"
    assert emulator.submitted == []


def test_esc_after_the_prompt_abandons_the_sms(term: Terminal, emulator: ModemEmulator) -> None:
    pdu_mode(term)
    term.send(b"AT+CMGS=23\r")
    term.read_until(b"> ")
    term.send(b"0011\x1b")
    assert term.read_until(FINAL) == b"\r\nOK\r\n"
    assert emulator.submitted == []


def test_text_mode_sms_commands_are_refused(term: Terminal) -> None:
    term.ask("ATE0")
    term.ask("AT+CMEE=1")
    assert term.ask("AT+CMGF?") == b"\r\n+CMGF: 1\r\n\r\nOK\r\n"
    assert term.ask("AT+CMGS=23") == b"\r\n+CMS ERROR: 302\r\n"


def test_no_network_means_cms_331_on_send(term: Terminal, emulator: ModemEmulator) -> None:
    pdu_mode(term)
    emulator.registration = "searching"
    assert term.ask("AT+CREG?") == b"\r\n+CREG: 0,2\r\n\r\nOK\r\n"
    term.send(b"AT+CMGS=23\r")
    term.read_until(b"> ")
    term.send(b"00" + TPDU.encode() + b"\x1a")
    assert term.read_until(FINAL) == b"\r\n+CMS ERROR: 331\r\n"


def test_radio_off_deregisters(term: Terminal) -> None:
    pdu_mode(term)
    term.ask("AT+CFUN=0")
    assert term.ask("AT+CREG?") == b"\r\n+CREG: 0,0\r\n\r\nOK\r\n"
    assert term.ask("AT+CSQ") == b"\r\n+CSQ: 99,99\r\n\r\nOK\r\n"


def test_registration_changes_are_announced_when_enabled(term: Terminal,
                                                         emulator: ModemEmulator) -> None:
    pdu_mode(term)
    term.ask("AT+CREG=1")
    emulator.registration = "denied"
    assert term.read_until(b"+CREG: 3\r\n") == b"\r\n+CREG: 3\r\n"


def test_inbound_sms_is_stored_announced_listed_read_and_deleted(
        term: Terminal, emulator: ModemEmulator) -> None:
    pdu_mode(term)
    assert emulator.deliver_pdu(DELIVER) == 0
    assert term.read_until(b'\r\n') == b'\r\n+CMTI: "SM",0\r\n'
    listing = term.ask("AT+CMGL=4")
    assert listing == b"\r\n+CMGL: 0,0,,30\r\n\r\n" + DELIVER.hex().upper().encode() + \
        b"\r\n\r\nOK\r\n"
    assert term.ask("AT+CMGL=0") == b"\r\nOK\r\n"  # listing marked it read
    assert term.ask("AT+CMGR=0").startswith(b"\r\n+CMGR: 1,,30\r\n")
    assert term.ask("AT+CMGD=0") == b"\r\nOK\r\n"
    assert term.ask("AT+CMGR=0") == b"\r\nOK\r\n"
    assert term.ask("AT+CMGR=99") == b"\r\n+CMS ERROR: 321\r\n"
    assert emulator.stored == {}


def test_full_storage_holds_messages_back_until_space_is_freed(term: Terminal) -> None:
    emulator = ModemEmulator(storage_size=2)
    terminal = Terminal(emulator.start())
    try:
        pdu_mode(terminal)
        assert [emulator.deliver_pdu(DELIVER) for _ in range(3)] == [0, 1, None]
        assert b'"SM",2,2' in terminal.ask("AT+CPMS?")
        terminal.quiet(0.05)
        terminal.send(b"AT+CMGD=1,4\r")
        assert terminal.read_until(b'+CMTI: "SM",0\r\n') == b'\r\nOK\r\n\r\n+CMTI: "SM",0\r\n'
        assert list(emulator.stored) == [0]
    finally:
        terminal.port.close()
        emulator.stop()


def test_direct_delivery_and_status_reports_follow_cnmi(term: Terminal,
                                                        emulator: ModemEmulator) -> None:
    pdu_mode(term)
    term.ask("AT+CNMI=2,2,0,1,0")
    emulator.deliver_pdu(DELIVER)
    assert term.read_until(b"FD07\r\n") == b"\r\n+CMT: ,30\r\n" + DELIVER.hex().upper().encode() \
        + b"\r\n"
    emulator.status_report(bytes.fromhex("00061B0B911346610089F6"))
    assert term.read_until(b"F6\r\n") == b"\r\n+CDS: 10\r\n00061B0B911346610089F6\r\n"
    term.ask("AT+CNMI=2,1,0,2,0")
    emulator.status_report(bytes.fromhex("00061B0B911346610089F6"))
    assert term.read_until(b"\r\n", 0.5) == b'\r\n+CDSI: "SM",0\r\n'


def test_fail_next_answers_armed_errors_then_recovers(term: Terminal,
                                                      emulator: ModemEmulator) -> None:
    pdu_mode(term)
    emulator.fail_next("CMGS", cms=42, count=2)
    emulator.fail_next("AT+CSQ", cme=100)
    for _ in range(2):
        term.send(b"AT+CMGS=23\r")
        term.read_until(b"> ")
        term.send(b"00" + TPDU.encode() + b"\x1a")
        assert term.read_until(FINAL) == b"\r\n+CMS ERROR: 42\r\n"
    assert term.ask("AT+CSQ") == b"\r\n+CME ERROR: 100\r\n"
    assert term.ask("AT+CSQ").endswith(b"OK\r\n")
    assert emulator.submitted == []


def test_a_lost_prompt_still_waits_for_the_pdu(term: Terminal, emulator: ModemEmulator) -> None:
    pdu_mode(term)
    emulator.lose_prompt_next()
    term.send(b"AT+CMGS=23\r")
    assert term.quiet() == b""
    term.send(b"\x1b")
    assert term.read_until(FINAL) == b"\r\nOK\r\n"


def test_silence_after_ctrl_z_still_sends(term: Terminal, emulator: ModemEmulator) -> None:
    pdu_mode(term)
    emulator.timeout_after_ctrl_z_next()
    term.send(b"AT+CMGS=23\r")
    term.read_until(b"> ")
    term.send(b"00" + TPDU.encode() + b"\x1a")
    assert term.quiet() == b""
    assert emulator.submitted == emulator.ambiguous_sent == [TPDU]
    assert term.ask("AT").endswith(b"OK\r\n")


def test_a_urc_slips_inside_the_next_response(term: Terminal, emulator: ModemEmulator) -> None:
    pdu_mode(term)
    emulator.urc_inside_next_response('+CMTI: "SM",5')
    assert term.ask("AT+CSQ") == b'\r\n+CSQ: 20,99\r\n\r\n+CMTI: "SM",5\r\n\r\nOK\r\n'
    emulator.inject("RING")
    assert term.read_until(b"RING\r\n") == b"\r\nRING\r\n"


def test_urc_storm_and_garbage_reach_the_line(term: Terminal, emulator: ModemEmulator) -> None:
    pdu_mode(term)
    emulator.urc_storm(50, "+CREG: 1")
    assert term.read_until(b"\r\n+CREG: 1\r\n" * 50).count(b"+CREG: 1") == 50
    emulator.garbage(40)
    assert len(term.read_until(re.compile(rb"[\s\S]{40}"))) == 40


def test_a_reboot_is_silent_then_announces_itself_with_default_settings(
        term: Terminal, emulator: ModemEmulator) -> None:
    pdu_mode(term)
    emulator.reboot()
    term.send(b"AT\r")
    assert term.read_until(b"SMS Ready\r\n") == b"\r\nRDY\r\n\r\n+CPIN: READY\r\n\r\nSMS Ready\r\n"
    assert term.ask("AT") == b"AT\r\r\nOK\r\n"  # the AT during boot got nothing; echo is back
    assert term.ask("AT+CMGF?").startswith(b"AT+CMGF?\r\r\n+CMGF: 1\r\n")
    term.ask("AT+CFUN=1,1")
    assert term.read_until(b"SMS Ready\r\n").startswith(b"\r\nRDY")


def test_stall_ignores_commands_and_hang_ignores_even_a_reset(term: Terminal,
                                                              emulator: ModemEmulator) -> None:
    pdu_mode(term)
    emulator.stall_next(1)
    term.send(b"AT\r")
    assert term.quiet() == b""
    assert term.ask("AT") == b"\r\nOK\r\n"
    emulator.hang()
    term.send(b"AT\rAT+CFUN=1,1\r")
    assert term.quiet() == b""
    emulator.unhang()
    assert term.ask("AT") == b"\r\nOK\r\n"


def test_the_power_key_revives_a_hung_modem_and_switches_a_running_one_off(
        term: Terminal, emulator: ModemEmulator) -> None:
    factory = MockFactory()  # no global pin factory: the devices get it passed in
    modem_pwrkey = factory.pin(27)
    factory.pin(17, pin_class=MockConnectedPin, input_pin=modem_pwrkey)
    power_key = OutputDevice(17, pin_factory=factory)
    sense = DigitalInputDevice(27, pin_factory=factory)
    sense.when_deactivated = emulator.power_key_pulse
    pdu_mode(term)
    emulator.hang()
    power_key.on()
    power_key.off()
    assert term.read_until(b"SMS Ready\r\n").startswith(b"\r\nRDY")
    assert term.ask("AT") == b"AT\r\r\nOK\r\n"
    power_key.on()
    power_key.off()
    assert term.read_until(b"POWER DOWN\r\n") == b"\r\nNORMAL POWER DOWN\r\n"
    assert not emulator.powered
    term.send(b"AT\r")
    assert term.quiet() == b""


def test_the_port_disappears_and_reappears_under_a_new_name(tmp_path: Path) -> None:
    emulator = ModemEmulator(boot_s=0.05)
    emulator.start(link=tmp_path / "ttyUSB2")
    terminal = Terminal(str(tmp_path / "ttyUSB2"))
    try:
        emulator.disappear()
        assert not (tmp_path / "ttyUSB2").exists()
        with pytest.raises(serial.SerialException):
            terminal.quiet(0.2)
        emulator.reappear(link=tmp_path / "ttyUSB3")
        again = Terminal(str(tmp_path / "ttyUSB3"))
        assert again.read_until(b"SMS Ready\r\n").startswith(b"\r\nRDY")
        assert again.ask("AT") == b"AT\r\r\nOK\r\n"
        again.port.close()
    finally:
        terminal.port.close()
        emulator.stop()


def test_the_emulator_refuses_unknown_states() -> None:
    with pytest.raises(ValueError, match="sim"):
        ModemEmulator(sim="MISSING")
    emulator = ModemEmulator()
    with pytest.raises(ValueError, match="registration"):
        emulator.registration = "orbit"
