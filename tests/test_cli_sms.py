"""edge-hub sms encode|decode: what an installer types at a modem, and what a PDU says."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta, timezone

import pytest

from edge.tools.cli_sms import add_sms_commands
from firmware_bridge.sms.pdu import encode_status_report, encode_submit

RESPONDER = "+8613800138000"
NOON = datetime(2024, 5, 1, 12, 30, 5, tzinfo=timezone(timedelta(hours=8)))
# "How are you?" from +31641600986, and "hellohello" to +46708251358: the classic examples.
CLASSIC_DELIVER = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"
CLASSIC_SUBMIT = "0011000B916407281553F80000AA0AE8329BFD4697D9EC37"


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="edge-hub")
    add_sms_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


def test_encode_prints_the_cmgs_line_and_the_pdu_for_a_short_text(
    capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["sms", "encode", "--to", RESPONDER, "Hello"]) == 0
    assert capsys.readouterr().out == "AT+CMGS=19\n0001000D91683108108300F0000005C8329BFD06\n"


def test_encode_prints_every_part_of_a_long_chinese_text(
    capsys: pytest.CaptureFixture[str]
) -> None:
    text = "王芳（3号楼402）按了求救按钮，请立即前往。" * 5
    assert run(["sms", "encode", "--to", RESPONDER, "--ref", "12", "--status-report", text]) == 0
    lines = capsys.readouterr().out.splitlines()
    parts = encode_submit(RESPONDER, text, reference=12, status_report=True)
    assert len(parts) == 2
    assert lines == [line for part in parts
                     for line in (f"AT+CMGS={part.cmgs_length}", part.at_hex)]


def test_decode_prints_the_fields_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["sms", "decode", CLASSIC_DELIVER]) == 0
    fields = json.loads(capsys.readouterr().out)
    assert fields["type"] == "SMS-DELIVER"
    assert (fields["sender"], fields["text"]) == ("+31641600986", "How are you?")
    assert fields["timestamp"] == "2002-08-26T19:37:41+00:00"


def test_decode_keeps_chinese_readable(capsys: pytest.CaptureFixture[str]) -> None:
    [part] = encode_submit(RESPONDER, "请立即前往")
    assert run(["sms", "decode", "--sent", part.at_hex.lower()]) == 0
    out = capsys.readouterr().out
    assert "请立即前往" in out and '\n  "recipient": "+8613800138000",' in out


def test_decode_a_sent_pdu_and_one_without_smsc(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["sms", "decode", "--sent", CLASSIC_SUBMIT]) == 0
    assert json.loads(capsys.readouterr().out)["validity_present"] is True
    report = encode_status_report(3, RESPONDER, status=0x46, sc_timestamp=NOON,
                                  discharge_time=NOON, smsc="")
    assert run(["sms", "decode", "--no-smsc", report.hex()[2:]]) == 0
    fields = json.loads(capsys.readouterr().out)
    assert (fields["delivered"], fields["final"]) == (False, True)
    assert fields["status_text"] == "validity period expired"


def test_decode_spaces_in_the_hex_are_fine(capsys: pytest.CaptureFixture[str]) -> None:
    spaced = " ".join(CLASSIC_DELIVER[i:i + 2] for i in range(0, len(CLASSIC_DELIVER), 2))
    assert run(["sms", "decode", spaced]) == 0


def test_a_broken_pdu_says_why_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["sms", "decode", CLASSIC_DELIVER[:-10]]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ("edge-hub sms decode: UDL says 12 septets (11 bytes) "
                            "but only 6 bytes follow\n")


def test_a_submit_decoded_as_received_says_to_use_sent(
    capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["sms", "decode", CLASSIC_SUBMIT]) == 1
    assert "decode it as sent" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "message"), [
    (["sms", "encode", "--to", "call me", "hi"],
     "argument --to: expected digits with an optional leading +, got 'call me'"),
    (["sms", "encode", "--to", RESPONDER, "--ref", "256", "hi"],
     "argument --ref: expected a whole number 0..255, got '256'"),
    (["sms", "encode", "--to", RESPONDER, "--ref", "x", "hi"],
     "argument --ref: expected a whole number 0..255, got 'x'"),
    (["sms", "decode", "07911ZZ"], "argument HEX: expected an even number of hex digits"),
    (["sms", "decode", "0791F"], "argument HEX: expected an even number of hex digits"),
    (["sms"], "the following arguments are required: ACTION"),
])
def test_bad_arguments_name_the_argument_and_the_expected_form(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        run(argv)
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err
