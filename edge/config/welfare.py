"""[welfare]: the building's welfare rules, and each resident's own where they differ.

Times of day are local, in the [sms] time zone. A rule set to "off" (or 0) is not checked.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import time

from cloud_sync.contract.roster_file import ID
from cloud_sync.contract.schema import Place, Rule, above, at_least, meta
from edge.alerts.welfare import WelfareRules
from edge.clock import parse_hhmm, parse_span


def _time_or_off(text: str) -> str:
    return "off" if text.strip() == "off" else parse_hhmm(text).strftime("%H:%M")


SPAN = Rule('a span of the day like "07:00-22:00" (24-hour HH:MM-HH:MM)',
            lambda text: str(parse_span(text)))
TIME_OR_OFF = Rule('a 24-hour time like "10:00", or "off"', _time_or_off)
HOURS = Rule("a number of hours, 0 = off", at_least(0).apply)
MINUTES = Rule("a number of minutes, 0 = off", at_least(0).apply)


def _clock(text: str) -> time | None:
    return None if text == "off" else parse_hhmm(text)


@dataclass(frozen=True, slots=True)
class WelfareResident:
    """One [[welfare.residents]] table: a resident whose rules differ from the building's;
    a key left out takes the building's value."""

    id: str = field(metadata=meta("id of the resident, as in [[residents]]", ID))
    waking_hours: str | None = field(default=None, metadata=meta(
        "the resident's waking hours (one who works nights, say)", SPAN))
    night: str | None = field(default=None, metadata=meta("the resident's night", SPAN))
    quiet_hours: float | None = field(default=None, metadata=meta("no activity this long", HOURS))
    up_by: str | None = field(default=None, metadata=meta("up (any activity) by", TIME_OR_OFF))
    door_open_at_night_min: float | None = field(
        default=None, metadata=meta("a door open at night this long", MINUTES))
    check_in_by: str | None = field(
        default=None, metadata=meta("daily check-in (double press) by", TIME_OR_OFF))


@dataclass(frozen=True, slots=True)
class WelfareSection:
    """[welfare]: when a resident's activity (or its absence) raises a welfare check."""

    waking_hours: str = field(default="07:00-22:00",
                              metadata=meta("the hours that count for quiet_hours", SPAN))
    night: str = field(default="22:00-06:00",
                       metadata=meta("the night, for doors and for getting up", SPAN))
    quiet_hours: float = field(default=12.0, metadata=meta(
        "a check when no activity is seen for this many waking hours", HOURS))
    up_by: str = field(default="10:00", metadata=meta(
        "a check when no activity is seen after the night by this time", TIME_OR_OFF))
    door_open_at_night_min: float = field(default=15.0, metadata=meta(
        "a check when a door stays open this many minutes of the night", MINUTES))
    check_in_by: str = field(default="off", metadata=meta(
        "a check when the resident has not double-pressed the watch by this time",
        TIME_OR_OFF))
    check_every_s: float = field(default=60.0, metadata=meta(
        "how often the rules are looked at", above(0, "a number of seconds")))
    residents: tuple[WelfareResident, ...] = field(
        default=(), metadata=meta("[[welfare.residents]]: residents with rules of their own"))

    def rules_for(self, resident_id: str) -> WelfareRules:
        """The resident's rules: their own where set, else the building's."""
        own = next((r for r in self.residents if r.id == resident_id),
                   WelfareResident(resident_id))
        quiet = self.quiet_hours if own.quiet_hours is None else own.quiet_hours
        door = (self.door_open_at_night_min if own.door_open_at_night_min is None
                else own.door_open_at_night_min)
        return WelfareRules(
            waking=parse_span(own.waking_hours or self.waking_hours),
            night=parse_span(own.night or self.night), quiet_h=quiet or None,
            up_by=_clock(own.up_by or self.up_by), door_open_min=door or None,
            check_in_by=_clock(own.check_in_by or self.check_in_by))


def check_welfare(section: WelfareSection, place: Place, resident_ids: Collection[str]) -> None:
    """Every [[welfare.residents]] names a known resident, once; and each one's up_by (the
    building's too) comes after their night ends, or nobody could ever be up by then."""
    seen: set[str] = set()
    _check_up_by(section.rules_for(""), place.key("up_by"))
    for index, entry in enumerate(section.residents):
        here = place.key("residents").index(index)
        if entry.id not in resident_ids:
            raise here.key("id").error(f"no resident with id {entry.id!r}; expected the id "
                                       "of a [[residents]] entry")
        if entry.id in seen:
            raise here.key("id").error(f"{entry.id!r} has rules above already; expected "
                                       "each resident once")
        seen.add(entry.id)
        _check_up_by(section.rules_for(entry.id), here.key("up_by"))


def _check_up_by(rules: WelfareRules, here: Place) -> None:
    up_by, night = rules.up_by, rules.night
    if up_by is not None and (night.contains(up_by) or up_by == night.end):
        raise here.error(f"{up_by:%H:%M} is not after the night ({night}) ends: a check would "
                         f"be raised every day; expected a time after {night.end:%H:%M}, or "
                         '"off"')
