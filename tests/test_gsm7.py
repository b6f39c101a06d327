"""GSM 7-bit alphabet: published packings, smspdudecoder agreeing with us, fill bits, refusals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from smspdudecoder.codecs import GSM

from edge.errors import PduError
from firmware_bridge.sms.gsm7 import (
    BASIC,
    ESCAPE,
    EXTENSION,
    char_septets,
    from_septets,
    is_gsm7,
    pack_septets,
    septet_length,
    to_septets,
    unpack_septets,
)

BASIC_CHARS = [char for code, char in enumerate(BASIC) if code != ESCAPE]
gsm7_text = st.text(alphabet=st.sampled_from(BASIC_CHARS + list(EXTENSION)), max_size=200)


def packed(text: str, fill_bits: int = 0) -> bytes:
    return pack_septets(to_septets(text), fill_bits)


def unpacked(data: bytes, count: int, fill_bits: int = 0) -> str:
    return from_septets(unpack_septets(data, count, fill_bits))


# --- the tables ------------------------------------------------------------------------------


def test_default_alphabet_has_128_distinct_code_points() -> None:
    assert len(BASIC) == 128
    assert len(set(BASIC)) == 128


def test_tables_agree_with_smspdudecoder() -> None:
    assert BASIC == GSM.ALPHABET
    assert {code: char for char, code in EXTENSION.items()} == GSM.ALPHABET_EXT


def test_extension_characters_cost_two_septets_and_others_are_refused() -> None:
    assert [char_septets(c) for c in "a€^{}\\[~]|\f"] == [1] + [2] * 10
    assert septet_length("5€ [x]") == 9
    assert is_gsm7("Café @ 3 €") and not is_gsm7("老人")
    with pytest.raises(PduError, match="not in the GSM 7-bit alphabet"):
        to_septets("help 老人")


# --- published packings -----------------------------------------------------------------------


@pytest.mark.parametrize(("text", "hex_"), [
    ("hellohello", "E8329BFD4697D9EC37"),          # the classic dreamfabric example
    ("How are you?", "C8F71D14969741F977FD07"),
    ("2 € par mois", "32D0A60C8287E5A0F63B3D07"),  # smspdudecoder's doctest, with an escape
    ("1234567", "31D98C56B3DD00"),
])
def test_published_packings(text: str, hex_: str) -> None:
    assert packed(text).hex().upper() == hex_
    assert unpacked(bytes.fromhex(hex_), septet_length(text)) == text


@given(gsm7_text)
def test_our_packing_matches_smspdudecoder(text: str) -> None:
    assert packed(text).hex().upper() == GSM.encode(text)


@given(gsm7_text, st.integers(0, 6))
def test_packing_round_trips_after_any_fill(text: str, fill_bits: int) -> None:
    data = packed(text, fill_bits)
    assert len(data) == (fill_bits + 7 * septet_length(text) + 7) // 8
    assert unpacked(data, septet_length(text), fill_bits) == text


def test_fill_bits_are_zero_and_shift_the_text() -> None:
    # After a 6-byte concatenation UDH one fill bit puts the text on a septet boundary.
    assert packed("A", 1) == bytes([0x41 << 1])
    assert packed("hellohello", 1) == (int.from_bytes(packed("hellohello"), "little") << 1)\
        .to_bytes(9, "little")


# --- what a phone shows for odd input --------------------------------------------------------


def test_unknown_extension_code_shows_the_default_character_and_lone_escape_a_space() -> None:
    assert from_septets([ESCAPE, 0x41]) == "A"
    assert from_septets([ESCAPE, ESCAPE]) == " "
    assert from_septets([0x41, ESCAPE]) == "A "


def test_refusals_are_pdu_errors_naming_what_was_wrong() -> None:
    with pytest.raises(PduError, match="UD: 10 septets need 9 bytes but only 3 bytes follow"):
        unpack_septets(b"\x00\x00\x00", 10)
    with pytest.raises(PduError, match="fill_bits: expected 0..6"):
        pack_septets([1], 7)
    with pytest.raises(PduError, match="septet 1: expected 0..127"):
        pack_septets([1, 128])
