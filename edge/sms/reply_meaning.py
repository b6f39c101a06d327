"""What a responder's SMS reply means: take the alert, decline it, or unclear. Pure.

Only a clear yes takes an alert: the reply is made of accepting words alone (a keyword
such as "1" or "收到", a configured phrase such as "马上到"), with at most an alert
reference, and with no refusal and no question in it. Any refusal ("去不了", "can't",
"no") declines, whatever else the reply says. Everything else is unclear and changes
nothing. Replies are read as people write them: full-width characters and punctuation,
Chinese without spaces, any case.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

DEFAULT_ACCEPT_PHRASES = (
    "马上到", "马上去", "我去", "我马上去", "我马上到", "这就去", "正在去", "在路上", "我来",
    "我去看看", "我过去", "马上过去", "我这就去", "没问题", "on my way", "coming",
    "i am coming", "im coming", "i will go", "ill go", "going now", "on the way", "will go",
    "no problem", "right away",
)
_DECLINES_ZH = ("去不了", "不能去", "没空", "没有空", "不在", "来不了", "不去", "没时间",
                "不方便", "去不成", "无法", "不行", "过不去", "赶不过去", "赶不到", "不能来",
                "不来", "没法去", "到不了", "走不开", "来不及", "去不到", "没法到", "没法来",
                "没办法", "别找我", "找别人", "不能到", "不能过去", "在外地")
_DECLINES_EN = re.compile(
    r"\b(can'?t|cannot|can not|not available|not coming|not free|not able|unavailable|no|"
    r"nope|sorry|busy|won'?t|unable|decline)\b")
_NOT_A_DECLINE = re.compile(r"\bno (problem|prob|worries)\b")
_QUESTION_ZH = ("吗", "什么", "谁", "哪", "怎么", "为什么", "多少", "几点", "是不是", "么")
_REF = re.compile(r"(?<![A-Za-z])[Aa][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{3,8}(?![0-9A-Za-z])")
_DROPPED = re.compile(r"[\s\W_]+", re.UNICODE)
# Punctuation that only ends or separates words; any other sign ("❓", "‽", "👎", "🤔")
# may change what the words say, so a reply holding one is not a clear yes.
_PLAIN_MARKS = frozenset(".,!;:~-'\"…。，、；：～·")
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "´": "'", "`": "'", "ʼ": "'", "′": "'"})


class Meaning(StrEnum):
    TAKE = "take"
    DECLINE = "decline"
    UNCLEAR = "unclear"


@dataclass(frozen=True, slots=True)
class ReadReply:
    """A reply as the hub understood it: its meaning and the alert it names, if any."""

    meaning: Meaning
    ref: str | None = None


def normalise(text: str) -> str:
    """Full-width to half-width, one case, and every apostrophe (’ ´ `) as '."""
    return unicodedata.normalize("NFKC", text.translate(_APOSTROPHES)).casefold().strip()


def read_reply(text: str, keywords: Iterable[str],
               phrases: Iterable[str] = DEFAULT_ACCEPT_PHRASES) -> ReadReply:
    """The meaning of `text`; `keywords` and `phrases` are what accepts."""
    written = unicodedata.normalize("NFKC", text.translate(_APOSTROPHES))
    refs = sorted({ref.upper() for ref in _REF.findall(written) if _looks_like_ref(ref)})
    ref = refs[0] if len(refs) == 1 else None
    for found in refs:
        written = re.sub(re.escape(found), " ", written, flags=re.IGNORECASE)
    plain = normalise(written)
    if _declines(plain):
        return ReadReply(Meaning.DECLINE, ref)
    if "?" in plain or any(word in plain for word in _QUESTION_ZH) or len(refs) > 1 \
            or not all(_plain(ch) for ch in plain):
        return ReadReply(Meaning.UNCLEAR, ref)
    rest = _DROPPED.sub("", plain)
    if rest and _made_of(rest, _squeezed(keywords), _squeezed(phrases)):
        return ReadReply(Meaning.TAKE, ref)
    return ReadReply(Meaning.UNCLEAR, ref)


def _plain(ch: str) -> bool:
    """A letter, a digit, a space or a mark in _PLAIN_MARKS."""
    return ch.isalnum() or ch.isspace() or ch in _PLAIN_MARKS


def _squeezed(words: Iterable[str]) -> set[str]:
    return {squeezed for word in words if (squeezed := _DROPPED.sub("", normalise(word)))}


def _looks_like_ref(token: str) -> bool:
    """An alert reference as texted ("A0K3"): with a digit, or written in capitals;
    "agree" or "away" are words."""
    return any(ch.isdigit() for ch in token) or token.isupper()


def _declines(plain: str) -> bool:
    squeezed = _DROPPED.sub("", plain)
    english = _NOT_A_DECLINE.sub(" ", plain)
    return any(word in squeezed for word in _DECLINES_ZH) or bool(_DECLINES_EN.search(english))


def _made_of(text: str, keywords: set[str], phrases: set[str]) -> bool:
    """True when `text` is at most one keyword and any accepting phrases, and nothing else
    ("好的我马上到", "ok coming"; not "11")."""
    never = 2
    fewest = [0] + [never] * len(text)  # fewest keywords that make text[:i] of accepting words
    words = [(word, 1) for word in keywords] + [(phrase, 0) for phrase in phrases]
    for end in range(1, len(text) + 1):
        for word, cost in words:
            start = end - len(word)
            if start >= 0 and text.startswith(word, start):
                fewest[end] = min(fewest[end], fewest[start] + cost)
    return fewest[-1] <= 1
