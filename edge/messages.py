"""SMS texts for responders, in Chinese by default (English provided); pure rendering."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass

from edge.domain import Location

KINDS = ("sos", "taken", "cancelled", "escalated", "unanswered")
PLACEHOLDERS = frozenset(
    {"ref", "name", "building", "room", "address", "time", "location", "by", "reason",
     "next", "waited"}
)

DEFAULT_TEMPLATES: Mapping[str, Mapping[str, str]] = {
    "zh": {
        "sos": "【SOS {ref}】{name}（{building}{room}室）{time}紧急求助。位置：{location}。"
               "回复1接手",
        "taken": "【{ref}】{name}的求助已由{by}接手处理，谢谢。",
        "cancelled": "【{ref}】{name}的求助已取消，无需前往，谢谢。",
        "escalated": "【{ref}】{name}的求助{waited}无人回复，已通知{next}。回复1接手",
        "unanswered": "【SOS {ref} 仍无人接手】{name}（{building}{room}室）{time}求助。"
                      "位置：{location}。回复1接手",
    },
    "en": {
        "sos": "SOS {ref}: {name} ({building} room {room}) pressed for help at {time}. "
               "Location: {location}. Reply 1 if you will go.",
        "taken": "{ref}: {by} is handling {name}'s call for help. Thank you.",
        "cancelled": "{ref}: {name}'s call for help was cancelled ({reason}). No need to go.",
        "escalated": "{ref}: nobody answered {name}'s call for help in {waited}; {next} "
                     "now notified. Reply 1 if you will go.",
        "unanswered": "SOS {ref} STILL UNANSWERED: {name} ({building} room {room}) at {time}. "
                      "Location: {location}. Reply 1 if you will go.",
    },
}

_LOCATION: Mapping[str, Mapping[str, str]] = {
    "zh": {"gps": "{url}（{age}前定位±{acc}米）",
           "gps-stale": "{url}（定位已过时，{age}前）；住址{address}",
           "home": "无定位——住址{address}"},
    "en": {"gps": "{url} (fix {age} old, ±{acc} m)",
           "gps-stale": "{url} (OLD fix, {age} ago); home {address}",
           "home": "no fix — home address {address}"},
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


def duration(seconds: float, language: str) -> str:
    """'40秒' / '3分钟' / '1小时5分钟', or '40 s' / '3 min' / '1 h 5 min'."""
    if seconds < 60:
        return f"{max(0, round(seconds))}秒" if language == "zh" else f"{max(0, round(seconds))} s"
    minutes = round(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    if language == "zh":
        return f"{hours}小时{minutes}分钟" if hours else f"{minutes}分钟"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def render_location(location: Location, language: str, map_url: str) -> str:
    """Where to go, as a map link with the fix's age, or the home address."""
    forms = _LOCATION[language]
    fix = location.fix
    if fix is None:
        return forms["home"].format(address=location.address)
    return forms[location.source].format(
        url=map_url.format(lat=fix.lat, lon=fix.lon),
        age=duration(location.age_s or 0.0, language),
        acc=round(fix.accuracy_m), address=location.address,
    )


def render(kind: str, ctx: MessageContext, templates: Mapping[str, str], language: str,
           map_url: str) -> str:
    """The text of one SMS of `kind` for this alert."""
    template = templates.get(kind) or DEFAULT_TEMPLATES[language][kind]
    values = {
        "ref": ctx.ref, "name": ctx.name, "building": ctx.building, "room": ctx.room,
        "address": ctx.address, "time": ctx.time, "by": ctx.by, "reason": ctx.reason,
        "next": ctx.next, "waited": duration(ctx.waited_s, language),
        "location": render_location(ctx.location, language, map_url),
    }
    return template.format_map(values)
