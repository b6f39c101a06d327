"""SMS PDUs: published vectors, smspdudecoder agreeing with us, round trips, only PduError."""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime, timedelta, timezone
from io import StringIO

import pytest
from hypothesis import given
from hypothesis import strategies as st
from smspdudecoder.codecs import GSM, UCS2
from smspdudecoder.easy import read_incoming_sms
from smspdudecoder.elements import Date, Number
from smspdudecoder.fields import SMSSubmit

from edge.errors import HubError, PduError
from firmware_bridge.sms.gsm7 import BASIC, ESCAPE, EXTENSION, septet_length
from firmware_bridge.sms.pdu import (
    Concat,
    Deliver,
    StatusReport,
    Submit,
    SubmitPart,
    count_parts,
    dcs_alphabet,
    decode_pdu,
    decode_timestamp,
    encode_deliver,
    encode_status_report,
    encode_submit,
    encode_timestamp,
    text_encoding,
)

RESPONDER = "+8613800138000"
CHINA = timezone(timedelta(hours=8))
NOON = datetime(2024, 5, 1, 12, 30, 5, tzinfo=CHINA)

# The classic SMS-DELIVER of the GSM literature (dreamfabric.com "SMS and the PDU format").
CLASSIC_DELIVER = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"
# The classic SMS-SUBMIT of the same page: "hellohello" to +46708251358, relative validity.
CLASSIC_SUBMIT = "0011000B916407281553F80000AA0AE8329BFD4697D9EC37"
# A +CDS status report, as published with its field-by-field breakdown (amro.blogspot.com,
# "receiving an SMS status report message", 2007): no SMSC field, MR 0, delivered.
PUBLISHED_STATUS_REPORT = "06000B910221815716F2709021510121807090215101718000"


def sent(part: SubmitPart) -> Submit:
    """Our decoder's reading of a part, exactly as typed at the > prompt."""
    decoded = decode_pdu(bytes.fromhex(part.at_hex), direction="sent")
    assert isinstance(decoded, Submit)
    return decoded


def received(pdu: bytes | str, *, with_smsc: bool = True) -> Deliver:
    data = bytes.fromhex(pdu) if isinstance(pdu, str) else pdu
    decoded = decode_pdu(data, with_smsc=with_smsc)
    assert isinstance(decoded, Deliver)
    return decoded


def reference_deliver(digits: str, text: str, when: datetime, *, udh: str = "") -> str:
    """An SMS-DELIVER assembled field by field with smspdudecoder's own encoders."""
    ucs2 = text_encoding(text) == "ucs2"
    if ucs2:
        user_data = udh + UCS2.encode(text)
        udl = len(user_data) // 2
    else:
        assert not udh, "GSM 7-bit with a UDH needs fill bits smspdudecoder cannot add"
        user_data, udl = GSM.encode(text), septet_length(text)
    first = "44" if udh else "04"
    return ("08" + "91" + Number.encode("8613800100500") + first
            + f"{len(digits):02X}" + "91" + Number.encode(digits)
            + "00" + ("08" if ucs2 else "00") + Date.encode(when) + f"{udl:02X}" + user_data)


def deliver_pdu(user_data: str, udl: int, *, dcs: int = 0, udhi: bool = False,
                sender: str = "0B911346610089F6") -> bytes:
    """A DELIVER with a hand-made sender field, DCS and user data (hex)."""
    first = 0x44 if udhi else 0x04
    return bytes.fromhex(f"00{first:02X}{sender}00{dcs:02X}20806291731408{udl:02X}{user_data}")


# --- published vectors ------------------------------------------------------------------------


def test_the_classic_deliver_reads_how_are_you_from_a_dutch_number() -> None:
    message = received(CLASSIC_DELIVER)
    assert (message.sender, message.text, message.encoding) == ("+31641600986", "How are you?",
                                                                 "gsm7")
    assert message.smsc == "+31624000000"
    assert message.timestamp == datetime(2002, 8, 26, 19, 37, 41, tzinfo=UTC)
    assert message.timestamp.utcoffset() == timedelta(0)
    assert (message.concat, message.pid, message.dcs) == (None, 0, 0)


def test_the_classic_submit_decodes_with_its_validity_period() -> None:
    message = decode_pdu(bytes.fromhex(CLASSIC_SUBMIT), direction="sent")
    assert message == Submit("+46708251358", "hellohello", "gsm7", None, 0, False, True)


def test_the_published_status_report_says_delivered() -> None:
    report = decode_pdu(bytes.fromhex(PUBLISHED_STATUS_REPORT), with_smsc=False)
    assert isinstance(report, StatusReport)
    plus_two = timezone(timedelta(hours=2))
    assert report == StatusReport("", 0, "+20121875612",
                                  datetime(2007, 9, 12, 15, 10, 12, tzinfo=plus_two),
                                  datetime(2007, 9, 12, 15, 10, 17, tzinfo=plus_two), 0)
    assert report.delivered and report.final


@pytest.mark.parametrize(("raw", "local", "hours"), [
    ("70402132522423", datetime(2007, 4, 12, 23, 25, 42), 8),    # smspdudecoder's doctests
    ("3130523210658A", datetime(2013, 3, 25, 23, 1, 56), -7),
])
def test_timestamps_keep_their_offset_and_agree_with_smspdudecoder(
    raw: str, local: datetime, hours: int
) -> None:
    moment = decode_timestamp(bytes.fromhex(raw), "SCTS")
    assert moment == local.replace(tzinfo=timezone(timedelta(hours=hours)))
    assert moment.utcoffset() == timedelta(hours=hours)
    assert moment == Date.decode(raw)
    assert encode_timestamp(moment, "SCTS").hex().upper() == raw


@pytest.mark.parametrize(("address", "name"), [
    ("0BD0CDE6DB5DCE03", "MMoney"),                 # smspdudecoder's doctests
    ("14D0C4F23C7D760390EF7619", "Design@Home"),
])
def test_alphanumeric_senders(address: str, name: str) -> None:
    pdu = deliver_pdu("C8F71D14969741F977FD07", 12, sender=address)
    assert received(pdu).sender == name
    assert read_incoming_sms(pdu.hex())["sender"] == name


# --- SMS-SUBMIT checked by smspdudecoder ------------------------------------------------------


@pytest.mark.parametrize(("text", "encoding"), [
    ("SOS: Wang Fang, flat 3-402, pressed her watch", "gsm7"),
    ("Price: 5€ [ok] {a|b} ~x^y \\ end", "gsm7"),
    ("王芳（3号楼402）按了求救按钮，请立即前往", "ucs2"),
    ("SOS 🆘 help 🚑", "ucs2"),
])
def test_single_part_submit_reads_the_same_in_smspdudecoder(text: str, encoding: str) -> None:
    [part] = encode_submit(RESPONDER, text)
    theirs = SMSSubmit.decode(StringIO(part.at_hex))
    assert theirs["smsc"]["length"] == 0
    assert theirs["header"] == {"rp": False, "udhi": False, "srr": False, "vpf": 0,
                                "rd": False, "mti": "submit"}
    assert (theirs["message-ref"], theirs["pid"]) == (0, 0)
    assert theirs["recipient"]["toa"] == {"ton": "international", "npi": "isdn"}
    assert theirs["recipient"]["number"] == RESPONDER[1:]
    assert theirs["dcs"]["encoding"] == {"gsm7": "gsm", "ucs2": "ucs2"}[encoding]
    assert theirs["user_data"] == {"header": None, "data": text}
    assert part.cmgs_length == len(part.at_hex) // 2 - 1 and part.at_hex.startswith("00")


# smspdudecoder cuts GSM 7-bit text by septet count after turning septets into characters,
# so a part with extension characters whose last octet has 7 spare bits gains an "@"; the
# extension-character case below keeps every part clear of that (153 and 57 septets).
@pytest.mark.parametrize(("text", "reference"), [
    ("x" * 200, 7), ("€ " * 70, 42), ("中" * 150, 200), ("🆘" * 40, 255),
])
def test_multipart_submit_reads_the_same_in_smspdudecoder(text: str, reference: int) -> None:
    parts = encode_submit(RESPONDER, text, reference=reference, status_report=True)
    joined = ""
    for number, part in enumerate(parts, start=1):
        theirs = SMSSubmit.decode(StringIO(part.at_hex))
        assert theirs["header"]["udhi"] and theirs["header"]["srr"]
        [element] = theirs["user_data"]["header"]["elements"]
        assert element["iei"] == 0x00
        assert element["data"] == {"reference": reference, "parts_count": len(parts),
                                   "part_number": number}
        joined += theirs["user_data"]["data"]
    assert joined == text


def test_national_numbers_spaces_and_dashes() -> None:
    [part] = encode_submit("138 0013-8000", "hi")
    theirs = SMSSubmit.decode(StringIO(part.at_hex))
    assert theirs["recipient"]["toa"] == {"ton": "unknown", "npi": "isdn"}
    assert theirs["recipient"]["number"] == "13800138000"
    assert sent(encode_submit("10086", "CXLL")[0]).recipient == "10086"
    assert sent(encode_submit("+86 138-0013-8000", "hi")[0]).recipient == RESPONDER


@pytest.mark.parametrize("bad", ["abc", "+", "", "138+0013", "+86 138 0013 8000 ext 5", "1" * 21])
def test_bad_recipients_are_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(PduError, match="^recipient: expected"):
        encode_submit(bad, "hi")


def test_the_refusal_message_shows_what_was_given() -> None:
    with pytest.raises(PduError) as caught:
        encode_submit("call me", "hi")
    assert str(caught.value) == ("recipient: expected digits with an optional leading +, "
                                 "got 'call me'")
    assert isinstance(caught.value, HubError) and isinstance(caught.value, ValueError)


def test_empty_text_is_one_empty_part() -> None:
    [part] = encode_submit(RESPONDER, "")
    assert part.tpdu[-1] == 0 and sent(part).text == ""
    assert count_parts("") == 1


def test_reference_and_part_limits() -> None:
    with pytest.raises(PduError, match="reference: expected 0..255, got 256"):
        encode_submit(RESPONDER, "x" * 200, reference=256)
    assert len(encode_submit(RESPONDER, "x" * 153 * 255)) == 255
    with pytest.raises(PduError, match="needs 256 parts, .* at most 255"):
        encode_submit(RESPONDER, "x" * (153 * 255 + 1))
    with pytest.raises(PduError, match="lone surrogate"):
        encode_submit(RESPONDER, "broken \ud83d emoji")


# --- splitting: exact boundaries --------------------------------------------------------------


@pytest.mark.parametrize(("text", "parts"), [
    ("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3), ("a" * 459, 3),
    ("€" * 80, 1), ("€" * 81, 2), ("中" * 70, 1), ("中" * 71, 2), ("中" * 134, 2),
    ("中" * 135, 3), ("🆘" * 35, 1), ("🆘" * 36, 2), ("a" * 69 + "中", 1), ("a" * 70 + "中", 2),
])
def test_part_counts_at_the_boundaries(text: str, parts: int) -> None:
    assert count_parts(text) == parts == len(encode_submit(RESPONDER, text))


def test_an_extension_character_is_never_split_at_the_153_boundary() -> None:
    text = "a" * 152 + "€" + "b" * 10
    first, second = (sent(part).text for part in encode_submit(RESPONDER, text))
    assert (first, second) == ("a" * 152, "€" + "b" * 10)


def test_a_surrogate_pair_is_never_split_at_the_67_boundary() -> None:
    text = "中" * 66 + "🆘" + "中" * 10
    first, second = (sent(part).text for part in encode_submit(RESPONDER, text))
    assert (first, second) == ("中" * 66, "🆘" + "中" * 10)


BASIC_CHARS = [char for code, char in enumerate(BASIC) if code != ESCAPE]
cjk = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
emoji = st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF)
gsm_base = st.sampled_from(BASIC_CHARS)
gsm_ext = st.sampled_from(sorted(EXTENSION))
edge_lengths = [66, 67, 68, 69, 70, 71, 133, 134, 135, 152, 153, 154, 159, 160, 161, 305, 306,
                307, 458, 459, 460]


@st.composite
def boundary_texts(draw: st.DrawFn) -> str:
    """Texts whose size sits on a capacity boundary, with an odd character to shift it."""
    filler = draw(st.sampled_from(["a", "中"]))
    length = draw(st.sampled_from(edge_lengths))
    odd = draw(st.one_of(gsm_ext, emoji, gsm_base, cjk))
    at = draw(st.integers(0, length))
    return filler * at + odd + filler * (length - at)


any_text = st.one_of(
    st.text(cjk, max_size=300), st.text(emoji, max_size=150),
    st.text(st.one_of(gsm_base, gsm_ext), max_size=500),
    st.text(st.one_of(gsm_base, gsm_ext, cjk, emoji), max_size=300),
    boundary_texts(),
)


@given(any_text, st.integers(0, 255))
def test_every_text_survives_encode_submit_and_decode(text: str, reference: int) -> None:
    parts = encode_submit(RESPONDER, text, reference=reference)
    decoded = [sent(part) for part in parts]
    assert "".join(message.text for message in decoded) == text
    assert len(parts) == count_parts(text)
    encoding = text_encoding(text)
    for number, (part, message) in enumerate(zip(parts, decoded, strict=True), start=1):
        assert (part.part, part.parts, message.encoding) == (number, len(parts), encoding)
        assert message.recipient == RESPONDER and message.message_reference == 0
        assert not any(0xD800 <= ord(char) <= 0xDFFF for char in message.text)
        single = len(parts) == 1
        used = (septet_length(message.text) if encoding == "gsm7"
                else len(message.text.encode("utf-16-be")) // 2)
        assert used <= {("gsm7", True): 160, ("gsm7", False): 153,
                        ("ucs2", True): 70, ("ucs2", False): 67}[encoding, single]
        expected = None if single else Concat(reference, len(parts), number, 8)
        assert message.concat == expected


@given(st.text(st.one_of(cjk, emoji), max_size=300), st.integers(0, 255))
def test_smspdudecoder_reads_every_ucs2_part(text: str, reference: int) -> None:
    parts = encode_submit(RESPONDER, text, reference=reference)
    theirs = [SMSSubmit.decode(StringIO(part.at_hex))["user_data"]["data"] for part in parts]
    assert "".join(theirs) == text


# --- SMS-DELIVER ------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["Coming now", "5€ ok", "我马上到", "收到 👍", ""])
def test_our_decoder_reads_delivers_built_with_smspdudecoder(text: str) -> None:
    message = received(reference_deliver("8613912345678", text, NOON))
    assert (message.sender, message.text, message.timestamp) == ("+8613912345678", text, NOON)
    assert message.smsc == "+8613800100500" and message.concat is None


def test_our_decoder_reads_a_concatenated_ucs2_part_built_with_smspdudecoder() -> None:
    pdu = reference_deliver("8613912345678", "马上到", NOON, udh="050003A10302")
    assert received(pdu).concat == Concat(0xA1, 3, 2, 8)
    assert received(pdu).text == "马上到"


@pytest.mark.parametrize(("text", "reference"), [
    ("OK", None), ("我马上到，别担心", None), ("Coming " * 40, 9), ("马上到" * 50, 77),
])
def test_smspdudecoder_reads_what_encode_deliver_makes(text: str, reference: int | None) -> None:
    pdus = encode_deliver("+8613912345678", text, timestamp=NOON, reference=reference)
    theirs = [read_incoming_sms(pdu.hex()) for pdu in pdus]
    assert "".join(item["content"] for item in theirs) == text
    assert all(item["sender"] == "+8613912345678" and item["date"] == NOON for item in theirs)
    if len(pdus) > 1:
        assert [item["partial"]["part_number"] for item in theirs] == list(range(1, len(pdus) + 1))


@given(any_text, st.sampled_from([8, 16]), st.sampled_from(["+8613912345678", "10086", "ICBC"]))
def test_every_text_survives_encode_deliver_and_decode(
    text: str, ref_bits: int, sender: str
) -> None:
    pdus = encode_deliver(sender, text, timestamp=NOON, ref_bits=ref_bits)
    messages = [received(pdu) for pdu in pdus]
    assert "".join(message.text for message in messages) == text
    assert {message.sender for message in messages} == {sender}
    references = {message.concat.reference for message in messages if message.concat}
    assert len(references) == (0 if len(pdus) == 1 else 1)
    assert all(message.concat is None or message.concat.ref_bits == ref_bits
               for message in messages)


def test_sixteen_bit_references_and_other_elements_in_the_udh() -> None:
    # UDH 09: national language single shift (24 01 01), then 16-bit concatenation BEEF 3/2.
    header = "09" + "240101" + "0804BEEF0302"
    ucs2 = received(deliver_pdu(header + "9A6C", 12, dcs=0x08, udhi=True))
    assert (ucs2.text, ucs2.concat) == ("马", Concat(0xBEEF, 3, 2, 16))
    # In GSM 7-bit the 10 header bytes (80 bits) take 12 septets: 4 fill bits, then "Hi".
    body = ((0x48 | 0x69 << 7) << 4).to_bytes(3, "little").hex()  # H = 0x48, i = 0x69
    gsm = received(deliver_pdu(header + body, 14, udhi=True))
    assert (gsm.text, gsm.concat) == ("Hi", Concat(0xBEEF, 3, 2, 16))


@pytest.mark.parametrize("element", ["0003A10300", "0003A10304", "0003A10001", "0002A103"])
def test_a_concatenation_element_that_makes_no_sense_is_ignored(element: str) -> None:
    header = f"{len(element) // 2:02X}" + element
    message = received(deliver_pdu(header + "9A6C", len(header) // 2 + 2, dcs=0x08, udhi=True))
    assert (message.text, message.concat) == ("马", None)


@pytest.mark.parametrize(("dcs", "alphabet"), [
    (0x00, "gsm7"), (0x04, "8bit"), (0x08, "ucs2"), (0x0C, "gsm7"), (0x10, "gsm7"),
    (0x11, "gsm7"), (0x14, "8bit"), (0x18, "ucs2"), (0x48, "ucs2"), (0xC0, "gsm7"),
    (0xD8, "gsm7"), (0xE0, "ucs2"), (0xF0, "gsm7"), (0xF1, "gsm7"), (0xF4, "8bit"),
    (0xF6, "8bit"), (0x80, "gsm7"),
])
def test_data_coding_schemes_and_message_classes(dcs: int, alphabet: str) -> None:
    assert dcs_alphabet(dcs) == alphabet
    with pytest.raises(PduError, match="DCS: 20 marks compressed text"):
        dcs_alphabet(0x20)


def test_flash_sms_and_eight_bit_data() -> None:
    assert received(deliver_pdu("C8F71D14969741F977FD07", 12, dcs=0x10)).text == "How are you?"
    binary = received(deliver_pdu("0102FF", 3, dcs=0xF4))
    assert (binary.text, binary.encoding) == ("0102ff", "8bit")


def test_deliver_to_json_shows_local_time_and_concatenation() -> None:
    [pdu, _] = encode_deliver("ICBC", "到" * 80, timestamp=NOON, reference=5)
    assert received(pdu).to_json() == {
        "type": "SMS-DELIVER", "smsc": "+8613800100500", "sender": "ICBC",
        "timestamp": "2024-05-01T12:30:05+08:00", "text": "到" * 67, "encoding": "ucs2",
        "concat": {"reference": 5, "total": 2, "sequence": 1, "ref_bits": 8},
        "pid": 0, "dcs": 8}


def test_encode_deliver_refuses_what_a_network_would_not_send() -> None:
    with pytest.raises(PduError, match="sender: an alphanumeric address is 1..11"):
        encode_deliver("中国银行", "hi", timestamp=NOON)
    with pytest.raises(PduError, match="sender: an alphanumeric address"):
        encode_deliver("TwelveLetter", "hi", timestamp=NOON)
    with pytest.raises(PduError, match="timestamp: expected a timezone-aware datetime"):
        encode_deliver(RESPONDER, "hi", timestamp=datetime(2024, 5, 1))
    with pytest.raises(PduError, match="whole quarter hours"):
        encode_deliver(RESPONDER, "hi", timestamp=NOON.replace(tzinfo=timezone(timedelta(
            minutes=10))))
    with pytest.raises(PduError, match="ref_bits: expected 8 or 16"):
        encode_deliver(RESPONDER, "x" * 200, timestamp=NOON, ref_bits=12)
    assert received(encode_deliver(RESPONDER, "hi", timestamp=NOON, smsc="")[0]).smsc == ""


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
       st.integers(-48, 56))
def test_timestamps_round_trip_with_their_offset(local: datetime, quarters: int) -> None:
    moment = local.replace(microsecond=0, tzinfo=timezone(timedelta(minutes=15 * quarters)))
    back = decode_timestamp(encode_timestamp(moment, "SCTS"), "SCTS")
    assert back == moment and back.utcoffset() == moment.utcoffset()


# --- SMS-STATUS-REPORT ------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "delivered", "final", "text"), [
    (0x00, True, True, "received by the recipient"),
    (0x01, True, True, "forwarded, the SC cannot confirm delivery"),
    (0x02, True, True, "replaced by the SC"),
    (0x10, True, True, "SC-specific status 10: transaction completed"),
    (0x21, False, False, "recipient busy, still trying"),
    (0x30, False, False, "SC-specific status 30: temporary error, SC still trying"),
    (0x46, False, True, "validity period expired"),
    (0x4A, False, True, "reserved status 4A: permanent error, SC stopped trying"),
    (0x62, False, True, "no response from recipient, SC stopped trying"),
    (0x80, False, True, "reserved status 80: not delivered, SC stopped trying"),
])
def test_status_reports_round_trip_and_say_what_happened(
    status: int, delivered: bool, final: bool, text: str
) -> None:
    later = NOON + timedelta(seconds=42)
    pdu = encode_status_report(17, RESPONDER, status=status, sc_timestamp=NOON,
                               discharge_time=later)
    report = decode_pdu(pdu)
    assert report == StatusReport("+8613800100500", 17, RESPONDER, NOON, later, status)
    assert isinstance(report, StatusReport)
    assert (report.delivered, report.final, report.status_text) == (delivered, final, text)
    assert report.to_json()["discharge_time"] == "2024-05-01T12:30:47+08:00"


def test_status_report_with_optional_parameters_after_the_status() -> None:
    pdu = bytes.fromhex("00" + PUBLISHED_STATUS_REPORT + "00")  # TP-PI 00: nothing more
    report = decode_pdu(pdu)
    assert isinstance(report, StatusReport) and report.recipient == "+20121875612"


def test_status_report_fields_out_of_range() -> None:
    with pytest.raises(PduError, match="message_reference: expected 0..255, got 300"):
        encode_status_report(300, RESPONDER, sc_timestamp=NOON, discharge_time=NOON)


# --- refusals: only ever PduError -------------------------------------------------------------


def test_which_message_types_each_direction_decodes() -> None:
    submit = bytes.fromhex(CLASSIC_SUBMIT)
    with pytest.raises(PduError, match="TP-MTI: 01 in a received PDU is SMS-SUBMIT-REPORT"):
        decode_pdu(submit)
    with pytest.raises(PduError, match="TP-MTI: 00 in a sent PDU is SMS-DELIVER-REPORT"):
        decode_pdu(bytes.fromhex(CLASSIC_DELIVER), direction="sent")
    with pytest.raises(PduError, match="TP-MTI: 10 in a sent PDU is SMS-COMMAND"):
        decode_pdu(bytes.fromhex("0002"), direction="sent")
    with pytest.raises(PduError, match="TP-MTI: 11 in a received PDU is reserved"):
        decode_pdu(bytes.fromhex("0003"))
    with pytest.raises(PduError, match="direction: expected 'received' or 'sent'"):
        decode_pdu(submit, direction="outgoing")


def test_truncated_user_data_names_udl() -> None:
    short = bytes.fromhex(CLASSIC_DELIVER)[:-5]
    expected = "UDL says 12 septets (11 bytes) but only 6 bytes follow"
    with pytest.raises(PduError, match=f"^{re.escape(expected)}$"):
        decode_pdu(short)
    with pytest.raises(PduError, match="but 12 bytes follow"):
        decode_pdu(bytes.fromhex(CLASSIC_DELIVER + "00"))


@pytest.mark.parametrize(("pdu", "message"), [
    ("00", "first octet: expected 1 byte"),
    ("0004", "OA length"),
    ("00040B91", "OA: expected 6 bytes"),
    ("00041591" + "11" * 11, "OA: length 21 is more than 20"),
    ("0C91" + "11" * 11, "SMSC: length 12"),
    ("0004039121F30000208062917314", "SCTS: expected 7 bytes"),
    ("0004039121F30000AA806291731408", "SCTS: AA is not two swapped decimal digits"),
    ("0004039121F30000203162917314080100", "SCTS: 20316291731408 is not a valid time"),
    ("0004039121FF0000208062917314080100", "OA: filler F inside"),
    ("0004039121F300082080629173140803000000", "UCS2 text must be whole 2-byte units"),
    ("0044039121F3000820806291731408020500", "UDH: needs 6 bytes but the user data is 2 bytes"),
    ("0044039121F3000820806291731408040300FF00", "UDH: element 00 says 255 bytes"),
    ("0044039121F300002080629173140803020000", "UDH: 3 bytes do not fit a UDL of 3"),
    ("0004039121F3000020806291731408A1" + "00" * 141, "UDL: 161 septets (141 bytes) do not fit"),
])
def test_broken_pdus_name_the_field(pdu: str, message: str) -> None:
    with pytest.raises(PduError, match=re.escape(message)):
        decode_pdu(bytes.fromhex(pdu))


VALID = [
    (bytes.fromhex(CLASSIC_DELIVER), "received", True),
    (bytes.fromhex(PUBLISHED_STATUS_REPORT), "received", False),
    (bytes.fromhex(CLASSIC_SUBMIT), "sent", True),
    *((pdu, "received", True) for pdu in encode_deliver("ICBC", "x" * 200, timestamp=NOON)),
    *((pdu, "received", True) for pdu in encode_deliver(RESPONDER, "到" * 80, timestamp=NOON,
                                                        ref_bits=16)),
    *((bytes.fromhex(part.at_hex), "sent", True)
      for part in encode_submit(RESPONDER, "🆘€" * 60, status_report=True)),
]


@pytest.mark.parametrize(("pdu", "direction", "with_smsc"), VALID)
def test_every_truncation_of_a_valid_pdu_is_a_pdu_error(
    pdu: bytes, direction: str, with_smsc: bool
) -> None:
    decode_pdu(pdu, direction=direction, with_smsc=with_smsc)
    for end in range(len(pdu)):
        with pytest.raises(PduError):
            decode_pdu(pdu[:end], direction=direction, with_smsc=with_smsc)


def decodes_or_refuses(pdu: bytes, direction: str, with_smsc: bool) -> None:
    with contextlib.suppress(PduError):
        decode_pdu(pdu, direction=direction, with_smsc=with_smsc)


@given(st.binary(max_size=200), st.sampled_from(["received", "sent"]), st.booleans())
def test_garbage_only_ever_raises_pdu_error(pdu: bytes, direction: str, with_smsc: bool) -> None:
    decodes_or_refuses(pdu, direction, with_smsc)


@given(st.sampled_from(VALID), st.data())
def test_damaged_pdus_only_ever_raise_pdu_error(
    valid: tuple[bytes, str, bool], data: st.DataObject
) -> None:
    pdu, direction, with_smsc = valid
    damaged = bytearray(pdu)
    for _ in range(data.draw(st.integers(1, 4))):
        damaged[data.draw(st.integers(0, len(damaged) - 1))] = data.draw(st.integers(0, 255))
    end = data.draw(st.integers(0, len(damaged) + 3))
    tail = data.draw(st.binary(max_size=3))
    decodes_or_refuses(bytes(damaged[:end]) + tail, direction, with_smsc)
