"""edge-hub sms send and modem status against the emulated modem on a pty."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from edge.tools.cli import main
from firmware_bridge.simulators.modem_emulator import ModemEmulator
from firmware_bridge.sms.pdu import Submit, decode_pdu


@pytest.fixture
def modem(tmp_path) -> Iterator[ModemEmulator]:
    emulator = ModemEmulator()
    emulator.start()
    yield emulator
    emulator.stop()


def no_config(tmp_path) -> list[str]:
    return ["--config", str(tmp_path / "absent.toml")]


def test_sms_send_goes_through_the_modem(modem, tmp_path, capsys) -> None:
    assert modem.path is not None
    text = "测试短信：请忽略 " * 12
    assert main(["sms", "send", "--port", modem.path, *no_config(tmp_path),
                 "+8613800138001", text]) == 0
    out = capsys.readouterr().out
    assert "sent part 1/2" in out and "sent part 2/2" in out
    parts = [decode_pdu(bytes.fromhex(p), with_smsc=False, direction="sent")
             for p in modem.submitted]
    assert all(isinstance(p, Submit) and p.recipient == "+8613800138001" for p in parts)
    assert "".join(p.text for p in parts if isinstance(p, Submit)) == text


def test_modem_status_reports_sim_network_and_signal(modem, tmp_path, capsys) -> None:
    assert modem.path is not None
    assert main(["modem", "status", "--json", "--port", modem.path, *no_config(tmp_path)]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["sim"] == "READY" and status["registered"] is True
    assert status["operator"] == "CHINA MOBILE" and status["smsc"] == "+8613800100500"


def test_modem_without_sim_says_what_is_wrong(tmp_path, capsys) -> None:
    emulator = ModemEmulator(sim="NOT INSERTED")
    path = emulator.start()
    try:
        assert main(["sms", "send", "--port", path, *no_config(tmp_path),
                     "+8613800138001", "x"]) == 1
    finally:
        emulator.stop()
    assert "SIM" in capsys.readouterr().err


def test_missing_modem_section_names_the_fix(tmp_path, capsys) -> None:
    config = tmp_path / "hub.toml"
    config.write_text('[hub]\nid = "h"\ncommunity = "c"\nbuilding = "b"\naddress = "a"\n')
    assert main(["modem", "status", "--config", str(config)]) == 1
    assert "no [modem] section" in capsys.readouterr().err


def test_bad_number_is_refused_by_name(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["sms", "send", "--port", "/dev/null", "12ab", "x"])
    assert "expected digits" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["modem", "status"], ["sms", "send"]])
def test_a_one_shot_command_without_its_modem_says_what_to_check_not_that_it_retries(
        tmp_path, capsys, command: list[str]) -> None:
    message = ["+8613800138001", "x"] if command[0] == "sms" else []
    for port in (str(tmp_path / "ttyUSB9"), str(tmp_path / "usb-SimTech*-if02-port0")):
        assert main([*command, "--port", port, *no_config(tmp_path), *message]) == 1
        err = capsys.readouterr().err
        assert "is the modem plugged in" in err or "check the cable" in err, err
        assert "retr" not in err and "hub" not in err.replace("edge-hub", ""), err
