"""The AT parsing core: bytes in, lines, prompts, URCs and error classes out; no port."""

from __future__ import annotations

import random

import pytest

from firmware_bridge.modem.at_protocol import (
    AtReader,
    Final,
    Line,
    Prompt,
    Urc,
    classify,
    command_prefix,
    parse_final,
)
from firmware_bridge.modem.at_replies import (
    StoredSms,
    csq_to_dbm,
    parse_cmgl,
    parse_cmgr,
    parse_cmgs,
    parse_cops,
    parse_cpin,
    parse_creg,
    parse_csca,
    parse_csq,
)

DELIVER = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"

A_SESSION = (
    b'AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\n+CMTI: "SM",3\r\n\r\nOK\r\n'
    b"\r\n> "
    b"\r\n+CMGS: 17\r\n\r\nOK\r\n"
    b"\r\n+CMT: ,30\r\n" + DELIVER.encode() + b"\r\n"
    b"\r\n+CDS: 25\r\n0791132604000000061B0B911346610089F6\r\n"
    b"\r\nRING\r\n\r\nRDY\r\n\r\nSMS Ready\r\n\r\n+CME ERROR: SIM busy\r\n"
)


def feed_all(data: bytes, reader: AtReader | None = None) -> list:
    return (reader or AtReader()).feed(data)


def test_a_urc_in_the_middle_of_a_response_is_pulled_out_and_the_response_stays_intact() -> None:
    reader = AtReader()
    reader.expect("+CSQ")
    items = reader.feed(b'\r\n+CSQ: 20,99\r\n\r\n+CMTI: "SM",3\r\n\r\nOK\r\n')
    assert [i for i in items if isinstance(i, Line)] == [Line("+CSQ: 20,99"), Line("OK")]
    assert [i for i in items if isinstance(i, Urc)] == [
        Urc("+CMTI", ("SM", "3"), '+CMTI: "SM",3')]


def test_the_prompt_is_recognised_without_a_line_end() -> None:
    assert feed_all(b"AT+CMGS=23\r\r\n> ") == [Line("AT+CMGS=23"), Prompt()]


def test_feeding_one_byte_at_a_time_gives_the_same_items_as_one_read() -> None:
    whole = feed_all(A_SESSION)
    reader = AtReader()
    one_by_one = [item for byte in A_SESSION for item in reader.feed(bytes([byte]))]
    assert one_by_one == whole
    assert Prompt() in whole and len(whole) == 13


@pytest.mark.parametrize("cut", range(1, len(A_SESSION)))
def test_every_split_into_two_reads_gives_the_same_items(cut: int) -> None:
    reader = AtReader()
    assert reader.feed(A_SESSION[:cut]) + reader.feed(A_SESSION[cut:]) == feed_all(A_SESSION)


def test_two_line_urcs_carry_their_pdu_as_body() -> None:
    items = feed_all(b"\r\n+CMT: ,30\r\n" + DELIVER.encode() + b"\r\n"
                     b"\r\n+CDS: 6\r\n00061B0B9113\r\n")
    assert items == [Urc("+CMT", ("", "30"), "+CMT: ,30", DELIVER),
                     Urc("+CDS", ("6",), "+CDS: 6", "00061B0B9113")]


def test_a_two_line_urc_without_its_pdu_does_not_swallow_the_next_final() -> None:
    items = feed_all(b"\r\n+CMT: ,30\r\n\r\nOK\r\n")
    assert items == [Urc("+CMT", ("", "30"), "+CMT: ,30"), Line("OK")]


def test_solicited_creg_is_a_response_line_and_unsolicited_creg_is_a_urc() -> None:
    reader = AtReader()
    reader.expect("+CREG")
    items = reader.feed(b"\r\n+CREG: 1\r\n\r\n+CREG: 0,5\r\n\r\nOK\r\n\r\n+CREG: 2,1\r\n")
    assert items == [Urc("+CREG", ("1",), "+CREG: 1"), Line("+CREG: 0,5"), Line("OK"),
                     Urc("+CREG", ("2", "1"), "+CREG: 2,1")]  # after OK nothing is expected
    assert parse_creg("+CREG: 0,5") == "roaming"
    assert parse_creg("+CREG: 1") == "home"
    assert parse_creg('+CEREG: 1,"00C3","0010A5B3",7') == "home"
    assert parse_creg('+CREG: 2,3,"00C3","0010"') == "denied"


def test_cpin_ready_is_a_urc_unless_the_sim_state_was_asked() -> None:
    assert feed_all(b"\r\n+CPIN: READY\r\n") == [Urc("+CPIN", ("READY",), "+CPIN: READY")]
    reader = AtReader()
    reader.expect(command_prefix("AT+CPIN?"))
    assert reader.feed(b"\r\n+CPIN: SIM PIN\r\n") == [Line("+CPIN: SIM PIN")]


@pytest.mark.parametrize("line", ["RDY", "SMS Ready", "PB DONE", "*ATREADY: 1", "+QIND: SMS DONE",
                                  "+SIMCARD: NOT AVAILABLE", "+QUSIM: 1", "+STIN: 25",
                                  '+CPMS: "SM",20,20', "+CFUN: 1", "NO CARRIER", "RING"])
def test_vendor_and_standard_urcs_are_recognised(line: str) -> None:
    (item,) = feed_all(b"\r\n" + line.encode() + b"\r\n")
    assert isinstance(item, Urc) and item.raw == line


def test_the_urc_set_is_configurable() -> None:
    reader = AtReader(urc_names={"+MYURC"})
    assert reader.feed(b"+MYURC: 1\r\nRING\r\n") == [Urc("+MYURC", ("1",), "+MYURC: 1"),
                                                      Line("RING")]


def test_lone_cr_and_lone_lf_end_lines_and_empty_lines_are_ignored() -> None:
    assert feed_all(b"AT\rOK\n\r\n\r\r\nERROR\r\n") == [Line("AT"), Line("OK"), Line("ERROR")]


def test_garbage_and_invalid_utf8_never_raise_and_are_kept_as_text() -> None:
    items = feed_all(b"\xff\xfe\x00abc\r\nOK\r\n")
    assert items[0] == Line("\ufffd\ufffd\x00abc") and items[1] == Line("OK")
    noise = random.Random(3).randbytes(5000)
    reader = AtReader()
    for start in range(0, len(noise), 37):
        reader.feed(noise[start:start + 37])
    assert reader.feed(b"\r\n+CSQ: 9,99\r\n\r\nOK\r\n")[-1] == Line("OK")


@pytest.mark.parametrize(("line", "final"), [
    ("OK", Final("ok", None, "OK")),
    ("ERROR", Final("error", None, "ERROR")),
    ("+CMS ERROR: 42", Final("cms", 42, "42")),
    ("+CME ERROR: 10", Final("cme", 10, "10")),
    ("+CME ERROR: SIM not inserted", Final("cme", 10, "SIM not inserted")),
    ("+CMS ERROR: memory full", Final("cms", 322, "memory full")),
    ("NO CARRIER", Final("no_carrier", None, "NO CARRIER")),
])
def test_final_result_codes(line: str, final: Final) -> None:
    assert parse_final(line) == final


@pytest.mark.parametrize("line", ["+CSQ: 20,99", "AT", "", "OKAY", '+CMTI: "SM",1'])
def test_other_lines_are_not_final(line: str) -> None:
    assert parse_final(line) is None


@pytest.mark.parametrize(("line", "kind"), [
    ("+CMS ERROR: 38", "transient"), ("+CMS ERROR: 41", "transient"),
    ("+CMS ERROR: 42", "transient"), ("+CMS ERROR: 47", "transient"),
    ("+CMS ERROR: 331", "transient"), ("+CMS ERROR: 332", "transient"),
    ("+CMS ERROR: 500", "transient"), ("+CMS ERROR: 512", "transient"),
    ("+CME ERROR: 30", "transient"), ("+CME ERROR: 31", "transient"),
    ("+CME ERROR: 100", "transient"), ("+CMS ERROR: 999", "transient"), ("ERROR", "transient"),
    ("+CME ERROR: 14", "busy"), ("+CMS ERROR: 515", "busy"), ("+CMS ERROR: 535", "busy"),
    ("+CMS ERROR: 322", "storage_full"), ("+CME ERROR: 20", "storage_full"),
    ("+CMS ERROR: 321", "transient"),
    ("+CMS ERROR: 1", "malformed"), ("+CMS ERROR: 8", "recipient"),
    ("+CMS ERROR: 10", "recipient"), ("+CMS ERROR: 21", "recipient"),
    ("+CMS ERROR: 27", "recipient"), ("+CMS ERROR: 28", "recipient"),
    ("+CMS ERROR: 29", "recipient"), ("+CMS ERROR: 30", "recipient"),
    ("+CMS ERROR: 50", "recipient"), ("+CMS ERROR: 304", "malformed"),
    ("+CMS ERROR: 305", "malformed"),
    ("+CMS ERROR: 302", "config"), ("+CMS ERROR: 303", "config"),
    ("+CMS ERROR: 310", "config"), ("+CMS ERROR: 311", "config"),
    ("+CMS ERROR: 312", "config"), ("+CMS ERROR: 313", "config"),
    ("+CMS ERROR: 316", "config"), ("+CMS ERROR: 317", "config"),
    ("+CMS ERROR: 318", "config"), ("+CMS ERROR: 330", "config"),
    ("+CME ERROR: 3", "config"), ("+CME ERROR: 4", "config"), ("+CME ERROR: 10", "config"),
    ("+CME ERROR: 11", "config"), ("+CME ERROR: 12", "config"), ("+CME ERROR: 13", "config"),
    ("+CME ERROR: 15", "config"),
])
def test_error_classes(line: str, kind: str) -> None:
    final = parse_final(line)
    assert final is not None and classify(final) == kind


@pytest.mark.parametrize(("line", "kind", "code"), [
    ("+CME ERROR: SIM not inserted", "config", 10),
    ("+CME ERROR: SIM PIN required", "config", 11),
    ("+CME ERROR: SIM busy", "busy", 14),
    ("+CME ERROR: memory full", "storage_full", 20),
    ("+CME ERROR: no network service", "transient", 30),
    ("+CMS ERROR: Congestion", "transient", 42),
    ("+CMS ERROR: Unassigned (unallocated) number", "malformed", 1),
    ("+CMS ERROR: SMSC address unknown", "config", 330),
    ("+CMS ERROR: invalid memory index", "transient", 321),
    ("+CMS ERROR: Protocol stack busy", "busy", 535),
    ("+CME ERROR: Operation not allowed", "config", 3),
    ("+CMS ERROR: SIM card is being initialised, please wait", "busy", None),
    ("+CME ERROR: SMS storage full", "storage_full", None),
    ("+CME ERROR: something odd happened", "transient", None),
])
def test_verbose_errors_classify_like_their_codes(line: str, kind: str, code: int | None) -> None:
    final = parse_final(line)
    assert final is not None and (classify(final), final.code) == (kind, code)


def test_ok_is_not_an_error_class() -> None:
    assert classify(Final("ok", None, "OK")) == "ok"


def test_information_responses() -> None:
    assert parse_csq("+CSQ: 20,99") == 20 and csq_to_dbm(20) == -73
    assert parse_csq("+CSQ: 99,99") is None and csq_to_dbm(None) is None
    assert parse_csq(None) is None and parse_csq("+CSQ: x") is None
    assert parse_cops('+COPS: 0,0,"CHINA MOBILE",7') == "CHINA MOBILE"
    assert parse_cops("+COPS: 0") == ""
    assert parse_csca('+CSCA: "+8613800100500",145') == "+8613800100500"
    assert parse_csca('+CSCA: "",129') == ""
    assert parse_cpin("+CPIN: SIM PIN") == "SIM PIN"
    assert parse_cmgs("+CMGS: 0") == 0 and parse_cmgs("+CMGS: 255") == 255
    assert parse_creg("+CREG: 0,2") == "searching" and parse_creg("+CREG: 0,0") == "not registered"
    assert parse_creg("+CREG: 0,3") == "denied" and parse_creg("+CREG: 0,4") == "unknown"
    assert parse_creg("garbage") == "unknown"


def test_cmgl_pairs_headers_with_pdus_and_skips_malformed_entries() -> None:
    lines = ["+CMGL: 0,1,,30", DELIVER, "+CMGL: 3,0,,30", "not hex", "+CMGL: x,0,,1", "00",
             "+CMGL: 7,0,,30", DELIVER]
    assert parse_cmgl(lines) == [StoredSms(0, 1, bytes.fromhex(DELIVER)),
                                 StoredSms(7, 0, bytes.fromhex(DELIVER))]


def test_cmgr_gives_the_message_or_none_for_an_empty_slot() -> None:
    assert parse_cmgr(["+CMGR: 0,,30", DELIVER], 4) == StoredSms(4, 0, bytes.fromhex(DELIVER))
    assert parse_cmgr([], 4) is None


def test_command_prefix() -> None:
    assert command_prefix("AT+CREG?") == "+CREG"
    assert command_prefix('AT+CPMS="SM","SM","SM"') == "+CPMS"
    assert command_prefix("ATE0") is None and command_prefix("AT") is None


# ------------------------------------------------------------ bytes a modem should never send

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from firmware_bridge.modem.at_replies import args_of, parse_cpin, parse_csca  # noqa: E402,F811

ODD_DIGITS = ["²", "٣", "①", "𝟗", "¹²", "3²", "0x1", "-1", "7 7"]
PARSERS = (parse_csq, parse_creg, parse_cmgs, parse_cops, parse_csca, parse_cpin, args_of)


@pytest.mark.parametrize("digits", ODD_DIGITS)
def test_error_codes_that_are_not_ascii_digits_are_read_as_unknown_not_raised(digits: str) -> None:
    final = parse_final(f"+CMS ERROR: {digits}")
    assert final is not None and final.kind == "cms"
    assert classify(final) in ("transient", "busy", "storage_full", "config", "recipient",
                               "malformed")
    items = AtReader().feed(f"+CME ERROR: {digits}\r\n".encode())
    assert items == [Line(f"+CME ERROR: {digits}".strip())]


def test_the_reported_superscript_two_is_a_line_not_a_crash() -> None:
    assert AtReader().feed(b"+CMS ERROR: \xc2\xb2\r\n") == [Line("+CMS ERROR: ²")]


@pytest.mark.parametrize("digits", ODD_DIGITS)
def test_information_parsers_give_nothing_for_odd_digits(digits: str) -> None:
    assert parse_csq(f"+CSQ: {digits},99") is None
    assert parse_creg(f"+CREG: 0,{digits}") in ("unknown", "home", "roaming", "searching",
                                                  "denied", "not registered")
    assert parse_cmgs(f"+CMGS: {digits}") is None
    assert parse_cmgl([f"+CMGL: {digits},0,,5", "0011"]) == []
    stored = parse_cmgr([f"+CMGR: {digits},,5", "0011"], 3)
    assert stored is not None and stored.status == 0


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=80), max_size=12), st.sampled_from([None, "+CREG", "+CMGS"]))
def test_no_bytes_on_the_line_raise_out_of_the_reader(chunks: list[bytes],
                                                       expected: str | None) -> None:
    reader = AtReader()
    reader.expect(expected)
    for chunk in chunks:
        for item in reader.feed(chunk):
            assert isinstance(item, (Line, Prompt, Urc))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=60), st.text(max_size=60))
def test_no_text_raises_out_of_a_parser(header: str, body: str) -> None:
    for parse in PARSERS:
        parse(header)
    parse_final(header)
    parse_cmgl([header, body, header, body])
    parse_cmgr([header, body], 1)
    for name in ("+CMS ERROR: ", "+CME ERROR: ", "+CREG: ", "+CMGL: ", "+CMGR: ", "+CMTI: "):
        for parse in PARSERS:
            parse(name + header)
        parse_cmgl([name + header, body])
        parse_cmgr([name + header, body], 0)
        final = parse_final(name + header)
        if final is not None:
            classify(final)
