"""Voice calls through the production SerialModem and the modem emulator over a real pty:
ATD<number>; returns at once, +CLCC follows the call, the result codes end it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge.errors import ModemError, ModemSilent
from firmware_bridge.modem.at_protocol import AtReader, Line, Urc, command_prefix
from firmware_bridge.modem.at_replies import CallLine, parse_clcc
from firmware_bridge.modem.serial_modem import ModemEvent, SerialModem
from firmware_bridge.simulators.modem_emulator import ModemEmulator
from firmware_bridge.simulators.modem_emulator_catalogue import inject

PHONE = "+8613800138001"


def wait_for(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[ModemEmulator]:
    modem = ModemEmulator(boot_s=0.05)
    modem.start(link=tmp_path / "ttyUSB2")
    yield modem
    modem.stop()


@pytest.fixture
def events() -> list[ModemEvent]:
    return []


@pytest.fixture
def modem(emulator: ModemEmulator, events: list[ModemEvent]) -> Iterator[SerialModem]:
    assert emulator.path is not None
    serial_modem = SerialModem(emulator.path, command_timeout_s=0.5, boot_wait_s=0.6,
                               register_wait_s=0.1, poll_s=0.02, on_event=events.append)
    serial_modem.open()
    serial_modem.initialise()
    yield serial_modem
    serial_modem.close()


def states(modem: SerialModem) -> list[str]:
    return [call.state for call in modem.calls()]


def ended(events: list[ModemEvent]) -> list[str]:
    return [event.text for event in list(events) if event.kind == "call_ended"]


# ------------------------------------------------------------ pure parsing


def test_clcc_lines_are_read_into_calls_and_junk_is_skipped() -> None:
    lines = ['+CLCC: 1,0,3,0,0,"+8613800138001",145', "+CLCC: x,0,3", "+CLCC: 2,1,4,1,0"]
    assert parse_clcc(lines) == [CallLine(1, True, "ringing", True, "+8613800138001"),
                                 CallLine(2, False, "incoming", False, "")]
    assert parse_clcc([]) == []


def test_a_call_result_answers_atd_but_is_unsolicited_after_it() -> None:
    reader = AtReader()
    reader.expect(command_prefix("ATD13800138001;"))
    assert reader.feed(b"\r\nBUSY\r\n") == [Line("BUSY")]  # ATD's own final result
    assert reader.feed(b"\r\nBUSY\r\n") == [Urc("BUSY", (), "BUSY")]  # a later call's end
    reader.expect(command_prefix("AT+CLCC"))
    assert reader.feed(b"\r\nNO ANSWER\r\n") == [Urc("NO ANSWER", (), "NO ANSWER")]


# ------------------------------------------------------------ through the pty


def test_atd_returns_at_once_and_clcc_follows_the_ringing_call(
        modem: SerialModem, emulator: ModemEmulator) -> None:
    started = time.monotonic()
    assert modem.dial(PHONE) == "dialling"
    assert time.monotonic() - started < 0.4  # the AT channel is free while it rings
    wait_for(lambda: states(modem) == ["ringing"])
    assert modem.query("AT+CSQ")  # other commands go on during the call
    modem.hang_up()
    assert modem.calls() == []
    assert [(c.number, c.outcome) for c in emulator.calls] == [(PHONE, "hung_up")]
    assert f"ATD{PHONE};" in emulator.commands and "ATH" in emulator.commands


def test_an_answered_call_shows_as_active(modem: SerialModem, emulator: ModemEmulator) -> None:
    emulator.on_call(PHONE, "answer", after_s=0.1)
    modem.dial(PHONE)
    wait_for(lambda: states(modem) == ["active"])
    modem.hang_up()
    assert [(c.number, c.outcome) for c in emulator.calls] == [(PHONE, "answered")]


@pytest.mark.parametrize(("behaviour", "code", "outcome"), [
    ("busy", "busy", "busy"), ("no_answer", "no_answer", "no_answer"),
    ("drop", "dropped", "dropped")])
def test_a_call_that_ends_on_its_own_says_how(modem: SerialModem, emulator: ModemEmulator,
                                              events: list[ModemEvent], behaviour: str,
                                              code: str, outcome: str) -> None:
    emulator.on_call(PHONE, behaviour, after_s=0.1)
    modem.dial(PHONE)
    wait_for(lambda: ended(events) == [code])
    assert modem.calls() == []
    assert [c.outcome for c in emulator.calls] == [outcome]


def test_no_dialtone_and_a_data_only_sim_answer_atd_itself(tmp_path: Path) -> None:
    emulator = ModemEmulator(boot_s=0.05, voice=False)
    emulator.start()
    assert emulator.path is not None
    modem = SerialModem(emulator.path, command_timeout_s=0.5, register_wait_s=0.1)
    try:
        modem.open()
        modem.initialise()
        assert modem.dial(PHONE) == "dropped"  # NO CARRIER: the SIM has no voice service
        emulator.on_call("+8613800138002", "no_dialtone")
        assert modem.dial("+8613800138002") == "no_dialtone"
    finally:
        modem.close()
        emulator.stop()


def test_a_refused_dial_and_an_undiallable_number_raise(modem: SerialModem,
                                                        emulator: ModemEmulator) -> None:
    emulator.fail_next("ATD", cme=3)
    with pytest.raises(ModemError) as refused:
        modem.dial(PHONE)
    assert refused.value.kind == "config"
    with pytest.raises(ModemError) as wrong:
        modem.dial("138;ATH")
    assert wrong.value.kind == "malformed"
    assert not any("138;ATH" in command for command in emulator.commands)


def test_when_ath_leaves_voice_calls_alone_chup_ends_the_call(
        modem: SerialModem, emulator: ModemEmulator) -> None:
    emulator.voice_hangup_ignored()
    modem.dial(PHONE)
    wait_for(lambda: states(modem) == ["ringing"])
    modem.hang_up()
    assert modem.calls() == []
    assert "AT+CHUP" in emulator.commands


def test_the_fault_catalogue_sets_and_clears_a_phones_behaviour(
        modem: SerialModem, emulator: ModemEmulator, events: list[ModemEvent]) -> None:
    injected = inject(emulator, "call", {"behaviour": "busy", "after_s": 0.05})
    modem.dial(PHONE)
    wait_for(lambda: ended(events) == ["busy"])
    assert injected.clear is not None
    injected.clear()
    modem.dial(PHONE)
    time.sleep(0.3)
    assert states(modem) == ["ringing"]  # back to ringing until hung up
    modem.hang_up()


def test_a_modem_that_stops_answering_during_a_call_is_given_up_on_in_seconds(
        emulator: ModemEmulator) -> None:
    """AT+CLCC and ATH wait only the short probe time, not the command timeout, and the
    error says the modem is silent (not that it refused)."""
    assert emulator.path is not None
    modem = SerialModem(emulator.path, command_timeout_s=10, register_wait_s=0.1)
    try:
        modem.open()
        modem.initialise()
        modem.dial(PHONE)
        emulator.hang()
        for step in (modem.calls, modem.hang_up):
            started = time.monotonic()
            with pytest.raises(ModemSilent):
                step()
            assert time.monotonic() - started < modem.probe_timeout_s + 1
    finally:
        modem.close()
