"""SerialModem talking to the modem emulator through a real pty with pyserial; no mocks."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from gpiozero import DigitalInputDevice, OutputDevice
from gpiozero.pins.mock import MockConnectedPin, MockFactory

from edge.errors import ModemError, PduError
from firmware_bridge.modem.serial_modem import ModemEvent, SerialModem, StoredSms
from firmware_bridge.simulators.modem_emulator import ModemEmulator

DELIVER = bytes.fromhex(
    "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07")
AT_HEX = "0011000B911326880736F40000A70A546869732069732061"  # SMSC "00" + 23-octet TPDU
TPDU = AT_HEX[2:]
REPORT = bytes.fromhex("0006000B911326880736F4" + "02107021000000" * 2 + "00")


def wait_for(condition: Callable[[], bool], timeout: float = 1.5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)


class Hub:
    """The hub side of the wire: a SerialModem and the events it reported."""

    def __init__(self, port: str, **overrides: object) -> None:
        self.events: list[ModemEvent] = []
        options: dict[str, object] = {
            "command_timeout_s": 0.25, "send_timeout_s": 0.3, "boot_wait_s": 0.6,
            "register_wait_s": 0.1, "poll_s": 0.02, "on_event": self.events.append}
        options.update(overrides)
        self.modem = SerialModem(port, **options)  # type: ignore[arg-type]

    def kinds(self) -> list[str]:
        return [event.kind for event in list(self.events)]


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[ModemEmulator]:
    modem = ModemEmulator(boot_s=0.05)
    modem.start(link=tmp_path / "ttyUSB2")
    yield modem
    modem.stop()


@pytest.fixture
def hub(emulator: ModemEmulator) -> Iterator[Hub]:
    assert emulator.path is not None
    side = Hub(emulator.path)
    side.modem.open()
    yield side
    side.modem.close()


@pytest.fixture
def ready(hub: Hub) -> Hub:
    hub.modem.initialise()
    return hub


def pin_entries(emulator: ModemEmulator) -> list[str]:
    return [c for c in emulator.commands if c.upper().startswith("AT+CPIN=")]


# ------------------------------------------------------------ setting up


def test_a_healthy_modem_is_set_up_for_pdu_sms(hub: Hub, emulator: ModemEmulator) -> None:
    status = hub.modem.initialise()
    assert status.to_json() == {
        "port": emulator.path, "model": "SIMCOM_SIM7600G-H", "sim": "READY",
        "registration": "home", "registered": True, "operator": "CHINA MOBILE",
        "signal_csq": 20, "signal_dbm": -73, "smsc": "+8613800100500", "ready": True}
    for command in ("ATE0", "AT+CMEE=2", "AT+CMGF=0", 'AT+CPMS="SM","SM","SM"',
                    "AT+CNMI=2,1,0,1,0"):
        assert command in emulator.commands
    assert not emulator.echo


def test_no_sim_is_a_config_error_that_says_what_to_do(hub: Hub, emulator: ModemEmulator) -> None:
    emulator.sim = "NOT INSERTED"
    with pytest.raises(ModemError, match="No SIM card.*insert a SIM") as raised:
        hub.modem.initialise()
    assert raised.value.kind == "config"
    assert str(emulator.path) in str(raised.value)


def test_a_sim_pin_is_entered_once_per_lock_and_again_only_once_proven(
        emulator: ModemEmulator) -> None:
    emulator.sim = "SIM PIN"
    hub = Hub(str(emulator.path), pin="1234")
    try:
        assert hub.modem.initialise().sim == "READY"
        assert hub.modem.initialise().sim == "READY"  # unlocked: not entered again
        assert pin_entries(emulator) == ["AT+CPIN=1234"]
        emulator.reboot()  # the PIN-protected SIM locks again on a restart
        wait_for(lambda: "rebooted" in hub.kinds())
        assert hub.modem.initialise().sim == "READY"  # the PIN was proven right: re-entered
        assert pin_entries(emulator) == ["AT+CPIN=1234", "AT+CPIN=1234"]
        assert emulator.pin_tries_left == 3
    finally:
        hub.modem.close()


def test_a_rejected_pin_is_never_entered_again(emulator: ModemEmulator) -> None:
    emulator.sim = "SIM PIN"
    hub = Hub(str(emulator.path), pin="0000")
    try:
        with pytest.raises(ModemError, match="refused the configured PIN") as raised:
            hub.modem.initialise()
        assert raised.value.kind == "config"
        with pytest.raises(ModemError, match="never tries an unproven PIN twice"):
            hub.modem.initialise()
        assert pin_entries(emulator) == ["AT+CPIN=0000"] and emulator.pin_tries_left == 2
    finally:
        hub.modem.close()


def test_a_sim_pin_without_a_configured_pin_is_a_config_error(hub: Hub,
                                                              emulator: ModemEmulator) -> None:
    emulator.sim = "SIM PIN"
    with pytest.raises(ModemError, match="no PIN is configured") as raised:
        hub.modem.initialise()
    assert raised.value.kind == "config" and pin_entries(emulator) == []


def test_a_puk_locked_sim_is_reported_and_nothing_is_entered(emulator: ModemEmulator) -> None:
    emulator.sim = "SIM PUK"
    hub = Hub(str(emulator.path), pin="1234")
    try:
        with pytest.raises(ModemError, match="PUK") as raised:
            hub.modem.initialise()
        assert raised.value.kind == "config" and pin_entries(emulator) == []
    finally:
        hub.modem.close()


def test_a_missing_sms_centre_is_a_config_error() -> None:
    emulator = ModemEmulator(smsc="")
    hub = Hub(emulator.start())
    try:
        with pytest.raises(ModemError, match="no SMS centre.*AT\\+CSCA") as raised:
            hub.modem.initialise()
        assert raised.value.kind == "config"
    finally:
        hub.modem.close()
        emulator.stop()


def test_not_registered_shows_in_status_and_sending_fails_transiently(
        hub: Hub, emulator: ModemEmulator) -> None:
    emulator.registration = "searching"
    status = hub.modem.initialise()
    assert (status.registration, status.registered, status.ready) == ("searching", False, False)
    with pytest.raises(ModemError) as raised:
        hub.modem.send_pdu(AT_HEX, 23)
    assert (raised.value.kind, raised.value.code) == ("transient", 331)


# ------------------------------------------------------------ sending


def test_a_pdu_is_sent_and_its_reference_returned(ready: Hub, emulator: ModemEmulator) -> None:
    assert ready.modem.send_pdu(AT_HEX, 23) == 0
    assert ready.modem.send_pdu(AT_HEX, 23) == 1
    assert emulator.submitted == [TPDU, TPDU]


@pytest.mark.parametrize(("fault", "kind", "code"), [
    ({"cms": 42}, "transient", 42), ({"cms": 331}, "transient", 331),
    ({"cms": 535}, "busy", 535), ({"cme": 14}, "busy", 14),
    ({"cms": 322}, "storage_full", 322), ({"cms": 1}, "malformed", 1),
    ({"cms": 21}, "recipient", 21), ({"cms": 330}, "config", 330),
    ({"cms": 310}, "config", 310), ({"cms": 777}, "transient", 500),  # "unknown error"
])
def test_each_send_error_maps_to_its_kind(ready: Hub, emulator: ModemEmulator,
                                          fault: dict[str, int], kind: str,
                                          code: int | None) -> None:
    emulator.fail_next("CMGS", **fault)  # answered in AT+CMEE=2 words, mapped back
    with pytest.raises(ModemError) as raised:
        ready.modem.send_pdu(AT_HEX, 23)
    assert (raised.value.kind, raised.value.code) == (kind, code)
    assert ready.modem.send_pdu(AT_HEX, 23) == 0


def test_a_lost_prompt_is_aborted_and_the_modem_still_answers(ready: Hub,
                                                              emulator: ModemEmulator) -> None:
    emulator.lose_prompt_next()
    with pytest.raises(ModemError, match="no '> ' prompt") as raised:
        ready.modem.send_pdu(AT_HEX, 23)
    assert raised.value.kind == "transient" and emulator.submitted == []
    assert ready.modem.status().ready
    assert ready.modem.send_pdu(AT_HEX, 23) == 0 and emulator.submitted == [TPDU]


def test_silence_after_ctrl_z_is_ambiguous(ready: Hub, emulator: ModemEmulator) -> None:
    emulator.timeout_after_ctrl_z_next()
    with pytest.raises(ModemError, match="may or may not have been sent") as raised:
        ready.modem.send_pdu(AT_HEX, 23)
    assert raised.value.kind == "ambiguous" and emulator.ambiguous_sent == [TPDU]
    assert ready.modem.send_pdu(AT_HEX, 23) == 0  # the caller's resend
    assert emulator.submitted == [TPDU, TPDU]


def test_a_pdu_that_is_not_hex_or_the_wrong_length_is_refused_before_the_modem(
        ready: Hub, emulator: ModemEmulator) -> None:
    with pytest.raises(PduError):
        ready.modem.send_pdu("00ZZ", 1)
    with pytest.raises(PduError):
        ready.modem.send_pdu(AT_HEX, 22)
    assert not any(c.startswith("AT+CMGS") for c in emulator.commands)


def test_a_pdu_built_by_the_codec_goes_out_unchanged(ready: Hub, emulator: ModemEmulator) -> None:
    sms_pdu = pytest.importorskip("firmware_bridge.sms.pdu")
    parts = sms_pdu.encode_submit("+31612345678", "SOS flat 3B: Mrs Jansen")
    for part in parts:
        ready.modem.send_pdu(part.at_hex, part.cmgs_length)
    assert emulator.submitted == [part.at_hex[2:] for part in parts]
    inbound = sms_pdu.encode_deliver("+31612345678", "OK coming",
                                     timestamp=datetime(2025, 1, 2, tzinfo=UTC))[0]
    index = emulator.deliver_pdu(inbound)
    assert index is not None
    message = ready.modem.read_message(index)
    assert message is not None and sms_pdu.decode_pdu(message.pdu).text == "OK coming"


# ------------------------------------------------------------ receiving and events


def test_an_inbound_sms_is_announced_read_and_deleted(ready: Hub, emulator: ModemEmulator) -> None:
    index = emulator.deliver_pdu(DELIVER)
    wait_for(lambda: "new_message" in ready.kinds())
    assert ready.events[-1] == ModemEvent("new_message", storage="SM", index=index,
                                          text=f'+CMTI: "SM",{index}')
    assert index == 0 and ready.modem.read_message(0) == StoredSms(0, 0, DELIVER)
    ready.modem.delete_message(0)
    assert ready.modem.list_messages() == [] and ready.modem.read_message(0) is None


def test_a_status_report_arrives_with_its_pdu(ready: Hub, emulator: ModemEmulator) -> None:
    emulator.status_report(REPORT)
    wait_for(lambda: "status_report" in ready.kinds())
    assert ready.events[-1].pdu == REPORT


def test_clearing_storage_empties_it(ready: Hub, emulator: ModemEmulator) -> None:
    for _ in range(3):
        emulator.deliver_pdu(DELIVER)
    assert [m.index for m in ready.modem.list_messages()] == [0, 1, 2]
    ready.modem.clear_storage()
    assert ready.modem.list_messages() == [] and emulator.stored == {}


def test_a_urc_inside_a_response_leaves_the_response_intact(ready: Hub,
                                                           emulator: ModemEmulator) -> None:
    emulator.deliver_pdu(DELIVER)
    emulator.urc_inside_next_response('+CMTI: "SM",7')  # between +CMGL: and its PDU
    assert ready.modem.list_messages() == [StoredSms(0, 0, DELIVER)]
    wait_for(lambda: any(e.index == 7 for e in ready.events))


def test_a_urc_storm_is_delivered_and_commands_still_work(ready: Hub,
                                                         emulator: ModemEmulator) -> None:
    emulator.urc_storm(300, "+CREG: 5")
    assert ready.modem.status().ready
    wait_for(lambda: ready.kinds().count("registration") >= 300)
    assert ready.events[-1] == ModemEvent("registration", text="roaming")
    assert ready.modem.send_pdu(AT_HEX, 23) == 0


def test_garbage_on_the_line_does_not_stop_the_modem(ready: Hub, emulator: ModemEmulator) -> None:
    emulator.garbage(500)
    assert ready.modem.status().ready
    assert ready.modem.send_pdu(AT_HEX, 23) == 0


def test_a_line_no_parser_can_read_leaves_the_reader_running(ready: Hub,
                                                            emulator: ModemEmulator) -> None:
    emulator.inject(b"\r\n+CMS ERROR: \xc2\xb2\r\n+CREG: \xc2\xb2,\xd9\xa3\r\n"
                    b"+CMTI: \"SM\",\xc2\xb2\r\n+CMGS: \xe2\x91\xa0\r\n")
    time.sleep(0.05)
    assert ready.modem.port_alive()
    assert ready.modem.status().ready
    assert ready.modem.send_pdu(AT_HEX, 23) == 0


class FailingSerial:
    """A real pyserial port whose reads fail in a way no one planned for, when told."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        import serial

        self.port = serial.Serial(*args, **kwargs)
        self.fail = threading.Event()

    def read(self, size: int = 1) -> bytes:
        if self.fail.is_set():
            raise RuntimeError("a bug in the reader's path")
        return self.port.read(size)

    def __getattr__(self, name: str) -> object:
        return getattr(self.port, name)


def test_a_reader_thread_that_dies_reports_the_port_lost_at_once(
        emulator: ModemEmulator) -> None:
    opened: list[FailingSerial] = []

    def factory(*args: object, **kwargs: object) -> FailingSerial:
        opened.append(FailingSerial(*args, **kwargs))
        return opened[-1]

    hub = Hub(str(emulator.path), serial_factory=factory)
    try:
        hub.modem.initialise()
        opened[-1].fail.set()
        emulator.inject("RING")
        wait_for(lambda: not hub.modem.port_alive())
        wait_for(lambda: any(e.kind == "other" and "lost" in e.text for e in hub.events))
        with pytest.raises(ModemError) as lost:
            hub.modem.status()
        assert lost.value.kind == "dead"
    finally:
        hub.modem.close()


def test_a_failing_event_handler_does_not_stop_the_reader(emulator: ModemEmulator,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    seen: list[ModemEvent] = []

    def clumsy(event: ModemEvent) -> None:
        seen.append(event)
        raise RuntimeError("handler bug")

    hub = Hub(str(emulator.path), on_event=clumsy)
    try:
        hub.modem.initialise()
        emulator.inject("RING")
        emulator.inject("RING")
        wait_for(lambda: len(seen) == 2)
        assert hub.modem.status().ready and "reader carries on" in caplog.text
    finally:
        hub.modem.close()


def test_the_event_handler_may_not_call_the_modem(emulator: ModemEmulator) -> None:
    problems: list[ModemError] = []
    hub = Hub(str(emulator.path))

    def reentrant(event: ModemEvent) -> None:
        try:
            hub.modem.status()
        except ModemError as error:
            problems.append(error)

    hub.modem = SerialModem(str(emulator.path), command_timeout_s=0.25, on_event=reentrant)
    try:
        hub.modem.initialise()
        emulator.inject("RING")
        wait_for(lambda: bool(problems))
        assert problems[0].kind == "config" and "owner thread" in str(problems[0])
    finally:
        hub.modem.close()


def test_a_reboot_mid_session_is_reported_and_the_modem_set_up_again(
        ready: Hub, emulator: ModemEmulator) -> None:
    emulator.reboot()
    wait_for(lambda: "rebooted" in ready.kinds())
    before = len(emulator.commands)
    assert ready.modem.send_pdu(AT_HEX, 23) == 0  # sets PDU mode up again first
    assert "AT+CMGF=0" in emulator.commands[before:]
    assert ready.modem.initialise().ready


# ------------------------------------------------------------ the port


def test_a_vanishing_port_fails_the_pending_command_as_dead(ready: Hub,
                                                            emulator: ModemEmulator) -> None:
    ready.modem.command_timeout_s = 1.5
    emulator.stall_next(1)
    threading.Timer(0.1, emulator.disappear).start()
    started = time.monotonic()
    with pytest.raises(ModemError) as raised:
        ready.modem.status()
    assert raised.value.kind == "dead" and time.monotonic() - started < 1.0
    wait_for(lambda: ModemEvent("other", text="port lost") in ready.events)
    with pytest.raises(ModemError) as again:
        ready.modem.send_pdu(AT_HEX, 23)
    assert again.value.kind == "dead"


def test_a_glob_is_resolved_and_resolved_again_when_the_modem_returns_elsewhere(
        tmp_path: Path, emulator: ModemEmulator) -> None:
    hub = Hub(str(tmp_path / "ttyUSB*"))
    try:
        assert hub.modem.initialise().port == str(tmp_path / "ttyUSB2")
        emulator.disappear()
        wait_for(lambda: "other" in hub.kinds())
        emulator.reappear(link=tmp_path / "ttyUSB3")
        assert hub.modem.recover() == "reset"
        assert hub.modem.status().port == str(tmp_path / "ttyUSB3")
        assert hub.modem.send_pdu(AT_HEX, 23) == 0
    finally:
        hub.modem.close()


def test_no_matching_port_is_reported_as_dead(tmp_path: Path) -> None:
    with pytest.raises(ModemError, match="No serial port matches") as raised:
        SerialModem(str(tmp_path / "ttyUSB*")).open()
    assert raised.value.kind == "dead"


def test_a_second_owner_of_the_port_is_refused_with_a_clear_message(hub: Hub,
                                                                    emulator: ModemEmulator) -> None:
    second = SerialModem(str(emulator.path))
    with pytest.raises(ModemError, match="already open in another program.*ModemManager") as raised:
        second.open()
    assert raised.value.kind == "config"
    assert hub.modem.initialise().ready


# ------------------------------------------------------------ recovery


@pytest.mark.parametrize(("ignored", "step"), [(0, "at"), (1, "esc"), (2, "cfun"), (5, "reset")])
def test_the_recovery_ladder_stops_at_the_first_step_that_works(
        ready: Hub, emulator: ModemEmulator, ignored: int, step: str,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    emulator.stall_next(ignored)
    assert ready.modem.recover() == step
    assert ready.modem.status().ready
    assert f"answers again after step {step!r}" in caplog.text


def power_key_wired_to(emulator: ModemEmulator) -> tuple[OutputDevice, DigitalInputDevice]:
    """The Pi's GPIO17 wired to the modem's PWRKEY input, on gpiozero's mock pins."""
    factory = MockFactory()
    pwrkey = factory.pin(27)
    factory.pin(17, pin_class=MockConnectedPin, input_pin=pwrkey)
    sense = DigitalInputDevice(27, pin_factory=factory)
    sense.when_deactivated = emulator.power_key_pulse
    return OutputDevice(17, pin_factory=factory), sense


def test_a_hung_modem_is_revived_by_the_power_key(emulator: ModemEmulator) -> None:
    power_key, _wire = power_key_wired_to(emulator)
    hub = Hub(str(emulator.path), power_key=power_key, power_key_pulse_s=0.01,
              command_timeout_s=0.1, boot_wait_s=0.3)
    try:
        hub.modem.initialise()
        emulator.hang()
        assert hub.modem.recover() == "power_key"
        assert [state.state for state in power_key.pin.states] == [False, True, False]
        assert hub.modem.status().ready and emulator.powered
    finally:
        hub.modem.close()


def test_the_power_key_is_never_pulsed_on_a_modem_that_answers(emulator: ModemEmulator) -> None:
    power_key, _wire = power_key_wired_to(emulator)
    hub = Hub(str(emulator.path), power_key=power_key)
    try:
        hub.modem.initialise()
        assert hub.modem.recover() == "at"
        assert [state.state for state in power_key.pin.states] == [False]
        assert emulator.powered
    finally:
        hub.modem.close()


def test_a_hung_modem_without_a_power_key_is_dead(emulator: ModemEmulator,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    hub = Hub(str(emulator.path), command_timeout_s=0.1, boot_wait_s=0.2)
    try:
        hub.modem.initialise()
        emulator.hang()
        with pytest.raises(ModemError, match="no recovery step revived it") as raised:
            hub.modem.recover()
        assert raised.value.kind == "dead"
        assert "No power key is configured" in caplog.text
    finally:
        hub.modem.close()
