"""What responders' replies mean, as they really write them: take, decline, or unclear."""

from __future__ import annotations

import pytest

from edge.sms.reply_meaning import Meaning, read_reply

KEYWORDS = ("1", "ok", "收到", "好", "好的", "到", "yes")
TAKE, DECLINE, UNCLEAR = Meaning.TAKE, Meaning.DECLINE, Meaning.UNCLEAR

REPLIES = [
    # the clear yes: a keyword alone, with a reference, or an accepting phrase
    ("1", TAKE, None), ("１", TAKE, None), (" 1 ", TAKE, None), ("1。", TAKE, None),
    ("1!", TAKE, None), ("OK", TAKE, None), ("ok!", TAKE, None), ("Ok.", TAKE, None),
    ("收到", TAKE, None), ("收到！", TAKE, None), ("收到。", TAKE, None), ("好的", TAKE, None),
    ("好", TAKE, None), ("yes", TAKE, None), ("Yes!", TAKE, None),
    ("1 A0K3", TAKE, "A0K3"), ("1A0K3", TAKE, "A0K3"), ("收到A001", TAKE, "A001"),
    ("A001 收到", TAKE, "A001"), ("ok a00k", TAKE, "A00K"), ("回复 1 A002".replace("回复 ", ""),
                                                            TAKE, "A002"),
    ("好的我马上到", TAKE, None), ("收到，马上到", TAKE, None), ("马上到", TAKE, None),
    ("我马上去", TAKE, None), ("好的，我这就去", TAKE, None), ("On my way", TAKE, None),
    ("ok, coming", TAKE, None), ("Yes, on my way!", TAKE, None), ("1 coming right away", TAKE, None),
    ("没问题，马上到", TAKE, None), ("no problem, coming", TAKE, None),
    # a decline, whatever else it says
    ("收到，但我去不了", DECLINE, None), ("1 sorry not available", DECLINE, None),
    ("ok, but I can't come", DECLINE, None), ("去不了", DECLINE, None), ("不能去", DECLINE, None),
    ("我今天没空", DECLINE, None), ("人不在杭州", DECLINE, None), ("no", DECLINE, None),
    ("No.", DECLINE, None), ("can't", DECLINE, None), ("Cannot go, sorry", DECLINE, None),
    ("not available", DECLINE, None), ("在开会来不了", DECLINE, None),
    ("A001 去不了", DECLINE, "A001"), ("I’m busy", DECLINE, None),
    # unclear: a question, or anything else
    ("1?", UNCLEAR, None), ("1？", UNCLEAR, None), ("yes? who is this", UNCLEAR, None),
    ("谁啊？", UNCLEAR, None), ("是张阿姨吗", UNCLEAR, None), ("什么事", UNCLEAR, None),
    ("11", UNCLEAR, None), ("2", UNCLEAR, None), ("好的 稍等", UNCLEAR, None),
    ("maybe later", UNCLEAR, None), ("", UNCLEAR, None), ("👍", UNCLEAR, None),
    ("1 A001 A002", UNCLEAR, None), ("I agree", UNCLEAR, None), ("hello", UNCLEAR, None),
    ("收到了，等下看看", UNCLEAR, None),
    # a sign beside the yes may turn it round: not a clear yes
    ("收到❓", UNCLEAR, None), ("1❓", UNCLEAR, None), ("1 ❌", UNCLEAR, None),
    ("ok 👎", UNCLEAR, None), ("1🙅", UNCLEAR, None), ("好的🤔", UNCLEAR, None),
    ("1 😢", UNCLEAR, None), ("1‽", UNCLEAR, None), ("1؟", UNCLEAR, None),
    # refusals as people write them, with any apostrophe
    ("收到，走不开", DECLINE, None), ("好的，来不及了", DECLINE, None), ("我去不到", DECLINE, None),
    ("好 没法到", DECLINE, None), ("1 can´t", DECLINE, None), ("1 won`t", DECLINE, None),
    ("收到 别找我", DECLINE, None), ("ok I can‘t", DECLINE, None),
    # plain marks around a yes change nothing
    ("收到～", TAKE, None), ("ok, on my way!", TAKE, None), ("好的；马上到", TAKE, None),
]


def test_the_table_holds_at_least_forty_real_replies() -> None:
    assert len(REPLIES) >= 40
    assert {meaning for _, meaning, _ in REPLIES} == {TAKE, DECLINE, UNCLEAR}


@pytest.mark.parametrize(("text", "meaning", "ref"), REPLIES)
def test_a_reply_means_what_its_writer_meant(text: str, meaning: Meaning, ref: str | None) -> None:
    read = read_reply(text, KEYWORDS)
    assert (read.meaning, read.ref) == (meaning, ref)


def test_configured_phrases_accept_too() -> None:
    assert read_reply("我来处理", KEYWORDS).meaning is UNCLEAR
    assert read_reply("我来处理", KEYWORDS, phrases=("我来处理",)).meaning is TAKE
