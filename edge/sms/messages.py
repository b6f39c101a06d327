"""SMS texts for responders, in Chinese by default (English provided); pure rendering."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from edge.domain import Location, dialled
from firmware_bridge.sms.text import count_parts

KINDS = ("sos", "taken", "cancelled", "escalated", "unanswered", "welfare", "welfare_taken",
         "welfare_escalated")
PLACEHOLDERS = frozenset(
    {"ref", "name", "building", "room", "address", "time", "location", "by", "reason",
     "next", "waited", "phone", "tel", "check"}
)

DEFAULT_TEMPLATES: Mapping[str, Mapping[str, str]] = {
    "zh": {
        "sos": "【SOS {ref}】{name}{tel}{time}求助。{location}。回复1接手",
        "taken": "【{ref}】{name}的求助已由{by}接手处理，谢谢。",
        "cancelled": "【{ref}】{name}的求助已取消，无需前往，谢谢。",
        "escalated": "【{ref}】{name}的求助{waited}无人回复，已通知{next}。回复1接手",
        "unanswered": "【SOS {ref}无人接手】{name}{tel}{time}求助。{location}。回复1接手",
        "welfare": "【关怀提醒 {ref}】{check}，请打电话或上门确认。回复1接手",
        "welfare_taken": "【{ref}】{name}的关怀提醒已由{by}接手，谢谢。",
        "welfare_escalated": "【关怀提醒 {ref}】{check}，{waited}无人回复，已通知{next}。回复1接手",
    },
    "en": {
        "sos": "SOS {ref}: {name}{tel} needs help, {time}. {location}. Reply 1 if you will go.",
        "taken": "{ref}: {by} is handling {name}'s call for help. Thank you.",
        "cancelled": "{ref}: {name}'s call for help was cancelled ({reason}). No need to go.",
        "escalated": "{ref}: nobody answered {name}'s call for help in {waited}; {next} "
                     "now notified. Reply 1 if you will go.",
        "unanswered": "SOS {ref} STILL UNANSWERED: {name}{tel}, {time}. {location}. "
                      "Reply 1 if you will go.",
        "welfare": "Welfare check {ref}: {check}. Please call or visit. Reply 1 if you "
                   "will go.",
        "welfare_taken": "{ref}: {by} is looking in on {name}. Thank you.",
        "welfare_escalated": "Welfare check {ref}: {check}; nobody answered in {waited}, {next} "
                             "now notified. Reply 1 if you will go.",
    },
}
# What a welfare check says ({check}), by rule (edge.alerts.welfare.Rule).
WELFARE_CHECKS: Mapping[str, Mapping[str, str]] = {
    "zh": {"not_up": "{name}今天{detail}前未检测到活动",
           "quiet": "{name}已{detail}小时未检测到活动",
           "door_at_night": "{name}家{place}夜间已打开{minutes}分钟",
           "no_check_in": "{name}今天{detail}前未报平安"},
    "en": {"not_up": "no activity seen from {name} before {detail} today",
           "quiet": "no activity seen from {name} for {detail} hours",
           "door_at_night": "{name}'s {place} has been open {minutes} min at night",
           "no_check_in": "{name} has not checked in before {detail} today"},
}

# Each thing said once; English only in the GSM 7-bit alphabet, so that a text whose
# names are Latin letters travels in 160-character parts.
_LOCATION: Mapping[str, Mapping[str, str]] = {
    "zh": {"gps": "位置{url}（{age}前，±{acc}米）",
           "gps-stale": "{address}，{age}前在{url}",
           "gps-stale-short": "{age}前在{url}",
           "home": "住址{address}"},
    "en": {"gps": "Map: {url} (fix {age} old, +/-{acc} m)",
           "gps-stale": "OLD fix: {url} ({age} ago); home: {address}",
           "gps-stale-short": "OLD fix: {url} ({age} ago)",
           "home": "Home: {address}"},
}
_TEL = {"zh": "（{phone}）", "en": " (tel {phone})"}
_CJK_SPACE = re.compile(r"\s+(?=[\u3000-\u9fff\uff00-\uffef])|(?<=[\u3000-\u9fff\uff00-\uffef])\s+")
# Answers to a responder's reply, to that responder alone (edge.sms.conversation).
ANSWERS: Mapping[str, Mapping[str, str]] = {
    "zh": {
        "declined": "【{ref}】已记录您不能前往，正在通知其他人。",
        "unclear": "【{ref}】{name}的求助：能前往请回复“1 {ref}”接手，不能去请回复“去不了”。",
        "unknown_ref": "您回复的编号{given}不是发给您的报警。{name}的求助是{ref}，"
                       "回复“1 {ref}”接手。",
        "taken_more": "已由您接手{ref}（{name}）。另有{other}（{other_name}）仍在等，"
                      "回复“1 {other}”接手。",
    },
    "en": {
        "declined": "{ref}: noted that you cannot go; we are telling others.",
        "unclear": "{ref} ({name}): reply \"1 {ref}\" if you will go, \"can't\" if you "
                   "cannot.",
        "unknown_ref": "{given} is not an alert you were told of. {name}'s alert is {ref}: "
                       "reply \"1 {ref}\" to take it.",
        "taken_more": "You have taken {ref} ({name}). {other} ({other_name}) is still "
                      "waiting: reply \"1 {other}\" to take it.",
    },
}
DEFAULT_MAP_URL = "https://uri.amap.com/marker?position={lon:.5f},{lat:.5f}&coordinate=wgs84"


@dataclass(frozen=True, slots=True)
class MessageContext:
    """Everything a responder's text may mention about one alert."""

    ref: str
    name: str
    building: str
    room: str
    address: str
    time: str
    location: Location
    by: str = ""
    reason: str = ""
    next: str = ""
    waited_s: float = 0.0
    phone: str = ""  # the resident's own, to call first
    check: str = ""  # what a welfare check is about (welfare_text)


def check_template(text: str) -> str:
    """The template, or ValueError naming placeholders that do not exist."""
    try:
        names = {field for _, field, _, _ in string.Formatter().parse(text) if field}
    except ValueError as error:
        raise ValueError(f"broken template ({error})") from None
    unknown = sorted(names - PLACEHOLDERS)
    if unknown:
        raise ValueError(f"unknown placeholder {{{unknown[0]}}}; available: "
                         + ", ".join("{%s}" % p for p in sorted(PLACEHOLDERS)))
    return text


def check_map_url(text: str) -> str:
    """A map URL template with {lat} and {lon}, or ValueError."""
    try:
        text.format(lat=31.0, lon=121.0)
    except (KeyError, IndexError, ValueError) as error:
        raise ValueError(f"only {{lat}} and {{lon}} may be used ({error})") from None
    return text


def duration(seconds: float, language: str, *, whole_hours: bool = False) -> str:
    """'40秒' / '3分钟' / '1小时5分钟', or '40 s' / '3 min' / '1 h 5 min'; with
    `whole_hours`, an hour or more is rounded to hours ('2小时', '2 h')."""
    if seconds < 60:
        return f"{max(0, round(seconds))}秒" if language == "zh" else f"{max(0, round(seconds))} s"
    minutes = round(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    if whole_hours and hours:
        whole = round(seconds / 3600)
        return f"{whole}小时" if language == "zh" else f"{whole} h"
    if language == "zh":
        return f"{hours}小时{minutes}分钟" if hours else f"{minutes}分钟"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def render_location(location: Location, language: str, map_url: str,
                    short: bool = False) -> str:
    """Where to go, as a map link with the fix's age, or the home address (with an old
    fix, both, unless `short`)."""
    forms = _LOCATION[language]
    fix = location.fix
    address = compact(location.address) if language == "zh" else location.address
    if fix is None:
        return forms["home"].format(address=address)
    form = location.source + ("-short" if short and location.source == "gps-stale" else "")
    return forms[form].format(
        url=map_url.format(lat=fix.lat, lon=fix.lon),
        age=duration(location.age_s or 0.0, language, whole_hours=True),  # a fix's age
        acc=round(fix.accuracy_m), address=address,
    )


def compact(text: str) -> str:
    """Chinese written without the spaces around its characters ("3号楼 2单元 102" ->
    "3号楼2单元102"): a text part holds 70 of them."""
    return _CJK_SPACE.sub("", text)


def render(kind: str, ctx: MessageContext, templates: Mapping[str, str], language: str,
           map_url: str) -> str:
    """The text of one SMS of `kind` for this alert."""
    template = templates.get(kind) or DEFAULT_TEMPLATES[language][kind]
    values = {
        "ref": ctx.ref, "name": ctx.name, "building": ctx.building, "room": ctx.room,
        "address": ctx.address, "time": ctx.time, "by": ctx.by, "reason": ctx.reason,
        "next": ctx.next, "waited": duration(ctx.waited_s, language),
        "location": render_location(ctx.location, language, map_url),
        "check": ctx.check, "phone": ctx.phone,
        "tel": _TEL[language].format(phone=ctx.phone) if ctx.phone else "",
    }
    text = template.format_map(values)
    if ctx.location.source == "gps-stale" and count_parts(text) > 2:
        # the home address responders know already gives way to the old fix's link
        values["location"] = render_location(ctx.location, language, map_url, short=True)
        text = template.format_map(values)
    return text


def welfare_text(rule: str, detail: str, name: str, language: str) -> str:
    """What a welfare check is about, e.g. "张桂兰今天10:00前未检测到活动"."""
    place, _, minutes = detail.rpartition("|")
    forms = WELFARE_CHECKS.get(language, WELFARE_CHECKS["zh"])
    form = forms.get(rule, forms["quiet"])
    return form.format(name=name, detail=detail, place=place, minutes=minutes)


def answer(kind: str, language: str, **values: str) -> str:
    """The text of an answer to a responder's reply (ANSWERS)."""
    return ANSWERS.get(language, ANSWERS["zh"])[kind].format(**values)


def when(at: float, now: float, zone: ZoneInfo, language: str) -> str:
    """The time of a press as a text shows it: "08:15" today, with the date otherwise
    ("11月28日23:50", "28 Nov 23:50")."""
    moment, today = datetime.fromtimestamp(at, zone), datetime.fromtimestamp(now, zone)
    if moment.date() == today.date():
        return moment.strftime("%H:%M")
    if language == "zh":
        return f"{moment.month}月{moment.day}日{moment:%H:%M}"
    return moment.strftime("%d %b %H:%M").lstrip("0")


def callable_number(phone: str, country_code: str) -> str:
    """A resident's number as a responder dials it: national form for the same country
    ("+86 139 0571 0102" -> "13905710102", "010-12345678" -> "01012345678"), else in
    full; "" when there is none."""
    return dialled(phone, country_code)
