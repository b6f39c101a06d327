"""Reassembly: a long reply comes back whole, in any order, once, or as far as it got."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_bridge.sms.pdu import Concat, Deliver, decode_pdu, encode_deliver
from firmware_bridge.sms.reassembly import Message, Reassembler

DAUGHTER = "+8613912345678"
NEIGHBOUR = "+8613787654321"
CHINA = timezone(timedelta(hours=8))
NOON = datetime(2024, 5, 1, 12, 0, 0, tzinfo=CHINA)
REPLY = "我是王芳的女儿，我现在在路上，大约二十分钟到。请先帮她坐起来，不要让她一个人。" * 4


def parts_of(text: str, *, sender: str = DAUGHTER, reference: int | None = 33,
             ref_bits: int = 8) -> list[Deliver]:
    """What the modem hands the hub: every DELIVER of text, decoded."""
    pdus = encode_deliver(sender, text, timestamp=NOON, reference=reference, ref_bits=ref_bits)
    decoded = [decode_pdu(pdu) for pdu in pdus]
    assert all(isinstance(part, Deliver) for part in decoded)
    return [part for part in decoded if isinstance(part, Deliver)]


def feed(reassembler: Reassembler, parts: list[Deliver], start: float = 0.0) -> list[Message]:
    """Add parts one second apart; the messages that came out."""
    results = (reassembler.add(part, start + index) for index, part in enumerate(parts))
    return [message for message in results if message is not None]


def test_a_single_part_reply_comes_out_at_once() -> None:
    [part] = parts_of("OK, coming")
    message = Reassembler().add(part, 0.0)
    assert message == Message(DAUGHTER, "OK, coming", NOON, (part,), True, ())
    assert message.total == 1


def test_a_long_reply_comes_out_when_its_last_part_arrives() -> None:
    parts = parts_of(REPLY)
    assert len(parts) == 3
    reassembler = Reassembler()
    assert [reassembler.add(part, 1.0) for part in parts[:-1]] == [None, None]
    assert reassembler.pending == 1
    message = reassembler.add(parts[-1], 2.0)
    assert message == Message(DAUGHTER, REPLY, NOON, tuple(parts), True, ())
    assert message.total == 3
    assert reassembler.pending == 0


def test_parts_out_of_order_and_repeated_come_out_once_in_order() -> None:
    first, second, third = parts_of(REPLY)
    reassembler = Reassembler()
    assert feed(reassembler, [third, first, third, first, second, second]) == [
        Message(DAUGHTER, REPLY, NOON, (first, second, third), True, ())]
    assert reassembler.expire(10_000.0) == []


def test_sixteen_bit_references() -> None:
    parts = parts_of(REPLY, reference=0xBEEF, ref_bits=16)
    assert {part.concat for part in parts} == {Concat(0xBEEF, 3, seq, 16) for seq in (1, 2, 3)}
    assert [message.text for message in feed(Reassembler(), parts[::-1])] == [REPLY]


def test_replies_from_two_people_with_the_same_reference_do_not_mix() -> None:
    other = "好的，我马上下楼去看看王阿姨，你放心。" * 8
    mine, theirs = parts_of(REPLY), parts_of(other, sender=NEIGHBOUR)
    assert {part.concat for part in mine} == {part.concat for part in theirs}
    interleaved = [part for pair in zip(mine, theirs, strict=True) for part in pair]
    messages = feed(Reassembler(), interleaved)
    assert {(message.sender, message.text) for message in messages} == {
        (DAUGHTER, REPLY), (NEIGHBOUR, other)}


def test_a_reply_missing_a_part_comes_out_incomplete_after_the_timeout() -> None:
    first, _, third = parts_of(REPLY)
    reassembler = Reassembler(timeout_s=600.0)
    feed(reassembler, [first, third], start=100.0)
    assert reassembler.expire(699.0) == []
    [message] = reassembler.expire(700.0)
    assert message == Message(DAUGHTER, first.text + third.text, NOON, (first, third), False,
                              (2,))
    assert message.total == 3
    assert reassembler.pending == 0 and reassembler.expire(10_000.0) == []


def test_a_late_repeat_after_the_message_came_out_does_not_start_a_ghost() -> None:
    parts = parts_of(REPLY)
    reassembler = Reassembler(timeout_s=600.0)
    assert len(feed(reassembler, parts)) == 1
    assert reassembler.add(parts[0], 30.0) is None
    assert reassembler.expire(1_000.0) == []


def test_an_emoji_a_phone_split_across_two_parts_is_joined_again() -> None:
    first = Deliver("", DAUGHTER, NOON, "到了\ud83d", "ucs2", Concat(9, 2, 1), 0, 8)
    second = replace(first, text="\udc4d", concat=Concat(9, 2, 2))
    [message] = feed(Reassembler(), [second, first])
    assert message.text == "到了👍"


def test_the_earliest_part_time_is_the_message_time() -> None:
    first, second, third = parts_of(REPLY)
    early = replace(second, timestamp=NOON - timedelta(seconds=5))
    [message] = feed(Reassembler(), [first, early, third])
    assert message.timestamp == NOON - timedelta(seconds=5)


def test_restore_after_a_restart_then_the_last_part_completes_the_reply() -> None:
    first, second, third = parts_of(REPLY)
    stored = [(second, 50.0), (first, 40.0)]
    reassembler = Reassembler(timeout_s=600.0)
    assert reassembler.restore(stored) == []
    assert reassembler.add(third, 60.0) == Message(DAUGHTER, REPLY, NOON,
                                                   (first, second, third), True, ())


def test_restore_keeps_the_original_arrival_time_for_the_timeout() -> None:
    first, _, _ = parts_of(REPLY)
    reassembler = Reassembler(timeout_s=600.0)
    reassembler.restore([(first, 40.0)])
    assert [message.missing for message in reassembler.expire(640.0)] == [(2, 3)]


def test_restore_gives_out_a_reply_whose_parts_were_all_stored() -> None:
    parts = parts_of(REPLY)
    messages = Reassembler().restore((part, 10.0 + index) for index, part in enumerate(parts))
    assert messages == [Message(DAUGHTER, REPLY, NOON, tuple(parts), True, ())]


def test_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="timeout_s: expected seconds above 0"):
        Reassembler(timeout_s=0)


@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x1FAFF,
                             exclude_categories=["Cs"]), min_size=1, max_size=700),
       st.sampled_from([8, 16]), st.randoms(use_true_random=False))
def test_any_text_in_any_order_with_repeats_comes_out_once_and_whole(
    text: str, ref_bits: int, random: Random
) -> None:
    parts = parts_of(text, reference=None, ref_bits=ref_bits)
    arrivals = parts + [part for part in parts if part.concat and part.concat.sequence % 2]
    random.shuffle(arrivals)
    messages = feed(Reassembler(), arrivals)
    assert [(message.text, message.complete) for message in messages] == [(text, True)]
