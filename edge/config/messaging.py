"""[sms] and [modem]: how responders are texted and which modem does it."""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cloud_sync.contract.schema import Rule, above, at_least, meta, one_of
from edge.calls.policy import DEFAULT_NIGHT
from edge.clock import parse_span
from edge.sms.messages import DEFAULT_MAP_URL, check_map_url, check_template
from edge.sms.reply_meaning import DEFAULT_ACCEPT_PHRASES

SECONDS = "a number of seconds"


def _zone(text: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(text) from None
    return text


def _keyword(text: str) -> str:
    cleaned = text.strip().lower()
    if not cleaned:
        raise ValueError(text)
    return cleaned


def _country_code(text: str) -> str:
    cleaned = text.strip().lstrip("+")
    if not (cleaned.isascii() and cleaned.isdigit() and 1 <= len(cleaned) <= 3):
        raise ValueError(text)
    return cleaned


def _ring_time(value: float) -> float:
    if not 5 <= value <= 120:
        raise ValueError(value)
    return value


def _pin(text: str) -> str:
    if not (text.isascii() and text.isdigit() and 4 <= len(text) <= 8):
        raise ValueError(text)
    return text


TEMPLATE = Rule("a message template using placeholders like {ref}, {name}, {location}",
                check_template)
ZONE = Rule('a time zone name like "Asia/Shanghai"', _zone)
KEYWORD = Rule("a non-empty reply keyword", _keyword)
PHRASE = Rule("a non-empty accepting phrase", _keyword)
COUNTRY_CODE = Rule('a country calling code of 1 to 3 digits, like "86"', _country_code)
MAP_URL = Rule("a URL template with {lat} and {lon}", check_map_url)
PIN = Rule("the SIM PIN: 4 to 8 digits", _pin)
RING_TIME = Rule("a number of seconds from 5 to 120 (long enough to wake someone, short "
                 "enough to free the modem for the next call)", _ring_time)
NIGHT = Rule('local hours like "22:00-07:00" (start-end, 24-hour clock)',
             lambda text: str(parse_span(text)), takes=str)


@dataclass(frozen=True, slots=True)
class TemplatesSection:
    """[sms.templates]: replace any of the built-in texts; omitted ones use the language's."""

    sos: str | None = field(default=None, metadata=meta("first SOS text", TEMPLATE))
    taken: str | None = field(default=None, metadata=meta('"taken by <name>"', TEMPLATE))
    cancelled: str | None = field(default=None, metadata=meta('"cancelled"', TEMPLATE))
    escalated: str | None = field(default=None, metadata=meta('"escalated"', TEMPLATE))
    unanswered: str | None = field(default=None, metadata=meta('"still unanswered"', TEMPLATE))
    welfare: str | None = field(default=None, metadata=meta("a welfare check", TEMPLATE))
    welfare_taken: str | None = field(default=None,
                                      metadata=meta('a welfare check "taken by"', TEMPLATE))
    welfare_escalated: str | None = field(default=None,
                                          metadata=meta('a welfare check "escalated"', TEMPLATE))

    def as_dict(self) -> dict[str, str]:
        pairs = {"sos": self.sos, "taken": self.taken, "cancelled": self.cancelled,
                 "escalated": self.escalated, "unanswered": self.unanswered,
                 "welfare": self.welfare, "welfare_taken": self.welfare_taken,
                 "welfare_escalated": self.welfare_escalated}
        return {kind: text for kind, text in pairs.items() if text}


@dataclass(frozen=True, slots=True)
class SmsSection:
    """[sms]: texts, time zone, acknowledgement keywords and the escalation clock."""

    language: str = field(default="zh", metadata=meta("language of the texts", one_of("zh", "en")))
    timezone: str = field(default="Asia/Shanghai", metadata=meta("time zone of {time}", ZONE))
    map_url: str = field(default=DEFAULT_MAP_URL, metadata=meta("map link template", MAP_URL))
    ack_keywords: tuple[str, ...] = field(
        default=("1", "ok", "收到", "好", "好的", "到", "yes"),
        metadata=meta("a reply that is one of these acknowledges the alert", KEYWORD))
    accept_phrases: tuple[str, ...] = field(
        default=DEFAULT_ACCEPT_PHRASES,
        metadata=meta("phrases that accept too, alone or with a keyword", PHRASE))
    country_code: str = field(
        default="86", metadata=meta("the country code of national numbers", COUNTRY_CODE))
    tier_wait_s: tuple[float, ...] = field(
        default=(180.0, 300.0),
        metadata=meta("wait per tier before the next is told; the last value repeats",
                      above(0, SECONDS)))
    repeat_fast_s: float = field(
        default=30.0, metadata=meta("after the last tier: resend this often...", above(0, SECONDS)))
    repeat_fast_count: int = field(
        default=16, metadata=meta("...this many times", at_least(0, "an integer")))
    repeat_slow_s: float = field(
        default=600.0, metadata=meta("then resend this often until acknowledged", above(0, SECONDS)))
    status_report: bool = field(default=True, metadata=meta("ask the network for delivery reports"))
    templates: TemplatesSection = field(default=TemplatesSection(), metadata=meta("text overrides"))


@dataclass(frozen=True, slots=True)
class CallsSection:
    """[calls]: ring calls after SOS texts, for contacts marked call = "night" or "always"."""

    ring_s: float = field(
        default=30.0, metadata=meta("let the phone ring this long, then hang up",
                                    RING_TIME))
    night: str = field(
        default=DEFAULT_NIGHT, metadata=meta('when contacts marked call = "night" are '
                                             "called, in [sms] timezone", NIGHT))


@dataclass(frozen=True, slots=True)
class ModemSection:
    """[modem]: the GSM modem's AT port and how patient to be with it."""

    port: str = field(metadata=meta('AT port path or glob, like "/dev/ttyUSB2" or '
                                    '"/dev/serial/by-id/*SIMCOM*-if02*"'))
    baudrate: int = field(default=115200, metadata=meta("serial speed", above(0, "an integer")))
    pin: str | None = field(default=None, metadata=meta("SIM PIN, if the SIM has one", PIN,
                                                        secret=True))
    send_timeout_s: float = field(
        default=180.0, metadata=meta("wait this long for +CMGS after a message", above(0, SECONDS)))
    command_timeout_s: float = field(
        default=10.0, metadata=meta("wait this long for an answer to a command", above(0, SECONDS)))
    power_key_gpio: int | None = field(
        default=None, metadata=meta("BCM pin of the modem's power key, if wired",
                                    at_least(0, "a GPIO number")))
    inbox_poll_s: float = field(
        default=60.0, metadata=meta("read the SIM inbox this often as a backstop", above(0, SECONDS)))
