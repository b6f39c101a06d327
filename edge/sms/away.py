"""Away mode by SMS: "离家 3天" / "away 3 days" from the resident's own phone or one of
their own contacts pauses the welfare rules; "回家" / "back" resumes them.

`read_away` is pure. `AwayBook` acts on a text from a known number and answers it; a
building-wide contact (the duty desk) serves everyone, so its text cannot say who is
away and is not taken.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from edge.clock import Clock
from edge.domain import e164
from edge.sms.texts import SmsStore
from edge.storage.store import TELEMETRY_PRIORITY, Store

DAY_S = 86400.0
MAX_AWAY_DAYS = 90
BACK = "back"
_AWAY = re.compile(r"^(?:离家|外出|away|out)\s*(\d{1,3})\s*(天|日|周|星期|days?|weeks?|d|w)$")
_BACK = frozenset({"回家", "回来了", "已回家", "back", "home", "im back", "i'm back"})
_WEEK_UNITS = frozenset({"周", "星期", "week", "weeks", "w"})


def read_away(text: str) -> float | str | None:
    """Seconds away for "离家 3天" / "away 2 weeks", BACK for "回家" / "back", else None.
    Read as people write: full-width digits, any case, spaces or not."""
    plain = unicodedata.normalize("NFKC", text).strip().lower().rstrip("。.!！")
    if plain in _BACK:
        return BACK
    found = _AWAY.fullmatch(plain)
    if found is None:
        return None
    days = int(found[1]) * (7 if found[2] in _WEEK_UNITS else 1)
    if not 1 <= days <= MAX_AWAY_DAYS:
        return None
    return days * DAY_S


@dataclass(frozen=True, slots=True)
class AwayRules:
    """Numbers compare in international form; answers in the texts' language and zone."""

    country_code: str = "86"
    language: str = "zh"
    timezone: str = "Asia/Shanghai"


class AwayBook:
    """Sets and ends away spells from texts; `handle` returns what it did, or None when
    the text is no away command (the reply path then reads it)."""

    def __init__(self, sms: SmsStore, clock: Clock, rules: AwayRules = AwayRules(),
                 log: logging.Logger | None = None) -> None:
        self.sms, self.store, self.clock, self.rules = sms, sms.store, clock, rules
        self._log = log or logging.getLogger("edge.sms.replies")

    def handle(self, phone: str, text: str) -> str | None:
        meant = read_away(text)
        if meant is None:
            return None
        who = self._whose(phone)
        if who is None:
            self._log.warning("Away text %r from %s ignored: not the resident's own number nor "
                              "one of their own contacts.", text, phone)
            return "away: unknown number"
        resident_id, name, by = who
        now = self.clock.now()
        if meant == BACK:
            record_away(self.store, resident_id, None, by, now)
            self._answer(phone, f"已记录：{name}已回家，关怀提醒恢复。" if self._zh else
                         f"Noted: {name} is back; welfare checks resume.")
            self._told(resident_id, None, by)
            return "away: back"
        until = now + float(meant)
        record_away(self.store, resident_id, until, by, now)
        shown = datetime.fromtimestamp(until, ZoneInfo(self.rules.timezone))
        self._answer(phone, f"已记录：{name}离家至{shown.month}月{shown.day}日{shown:%H:%M}，"
                     "期间暂停关怀提醒。提前回家请回复“回家”。" if self._zh else
                     f"Noted: {name} is away until {shown:%d %b %H:%M}; welfare checks are "
                     "paused. Reply \"back\" on return.")
        self._told(resident_id, until, by)
        return "away: set"

    @property
    def _zh(self) -> bool:
        return self.rules.language == "zh"

    def _whose(self, phone: str) -> tuple[str, str, str] | None:
        """(resident id, resident name, who sent it) for a resident's own number or one of
        their own contacts; None otherwise."""
        code = self.rules.country_code
        for resident in self.store.residents():
            if resident.phone and e164(resident.phone, code) == phone:
                return resident.id, resident.name, resident.name
            for contact in self.store.contacts_for(resident.id):
                if contact.resident_id == resident.id and e164(contact.phone, code) == phone:
                    return resident.id, resident.name, contact.name
        return None

    def _answer(self, phone: str, text: str) -> None:
        now = self.clock.now()
        self.store.write(lambda: self.sms.enqueue(phone, "reply", text, now))

    def _told(self, resident_id: str, until: float | None, by: str) -> None:
        self._log.warning("Resident %s is %s (by SMS from %s); the welfare rules %s.",
                          resident_id, "back" if until is None else "away",
                          by, "watch again" if until is None else "pause until then")


def record_away(store: Store, resident_id: str, until: float | None, by: str,
                now: float) -> None:
    """Store an away spell (or its end, until None) and tell the server, in one
    transaction; the SMS path, `edge-hub resident away` and the server's command share it."""
    def write() -> None:
        if until is None:
            store.end_away(resident_id, now)
        else:
            store.set_away(resident_id, until, by, now)
        body = {"resident": resident_id, "away_until": until, "by": by}
        store.append_event("resident.away", now, body, TELEMETRY_PRIORITY)
    store.write(write)
