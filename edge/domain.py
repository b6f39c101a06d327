"""The hub's vocabulary: phone numbers, fixes, locations and alerts, and (re-exported from
the wire contract, which the server shares) the roster's residents, watches and contacts
and the rules for MACs, keys and names."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import phonenumbers

from cloud_sync.contract.ids import plain_text
from cloud_sync.contract.roster import (
    CallWhen,
    Contact,
    Resident,
    Role,
    Roster,
    Sensor,
    SensorKind,
    Watch,
)
from firmware_bridge.ble.addresses import MAC_PATTERN, normalise_mac, parse_key

__all__ = [
    "MAC_PATTERN", "Alert", "AlertState", "CallWhen", "Contact", "Fix", "Location", "Resident",
    "Role", "Roster", "Sensor", "SensorKind", "Watch", "dialled", "e164", "normalise_mac",
    "parse_key", "plain_text",
]


def e164(number: str, country_code: str = "86") -> str:
    """A phone number in full international form, so that numbers compare as wholes:
    "+8613800138001", "008613800138001", "8613800138001" and "13800138001" (country code
    86) are one phone, as are "010-12345678" and "+86 010 12345678"; "+62813800138001" is
    another. Read with libphonenumber's rules for the country; a number it cannot read
    keeps its digits (after the country code unless it is written with "+" or "00")."""
    parsed = _parsed(number, country_code)
    if parsed is not None:
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    digits = "".join(ch for ch in number if ch.isascii() and ch.isdigit())
    if number.strip().startswith("+"):
        return "+" + digits
    if digits.startswith("00"):
        return "+" + digits[2:]
    return "+" + country_code + digits.removeprefix("0")


def dialled(number: str, country_code: str) -> str:
    """A number as a phone in the country dials it ("13905710102", "01012345678"; a
    foreign one in full), or "" when there is none."""
    if not any(ch.isascii() and ch.isdigit() for ch in number):
        return ""
    parsed = _parsed(number, country_code)
    if parsed is None:
        return e164(number, country_code)
    region = phonenumbers.region_code_for_country_code(int(country_code))
    local = phonenumbers.format_number_for_mobile_dialing(parsed, region, False)
    return local or phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _parsed(number: str, country_code: str) -> phonenumbers.PhoneNumber | None:
    region = phonenumbers.region_code_for_country_code(int(country_code)) \
        if country_code.isdigit() else "ZZ"
    try:
        return phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None


@dataclass(frozen=True, slots=True)
class Fix:
    """A GPS position reported by a watch; fixed_at is when the watch took it."""

    watch_mac: str
    lat: float
    lon: float
    accuracy_m: float
    fixed_at: float
    received_at: float


@dataclass(frozen=True, slots=True)
class Location:
    """Where to send help: the last fix, or the home address when there is none."""

    address: str
    room: str
    fix: Fix | None = None
    age_s: float | None = None
    stale: bool = False

    @property
    def source(self) -> str:
        """'gps', 'gps-stale' or 'home'."""
        if self.fix is None:
            return "home"
        return "gps-stale" if self.stale else "gps"


class AlertState(StrEnum):
    """Life of an alert: raised (cancel window) -> active -> closed."""

    RAISED = "raised"
    ACTIVE = "active"
    CANCELLED = "cancelled"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"

    @property
    def is_open(self) -> bool:
        return self in (AlertState.RAISED, AlertState.ACTIVE)


@dataclass(frozen=True, slots=True)
class Alert:
    """A call for help by one resident; further presses join it while it is open."""

    id: int
    uid: str
    ref: str
    resident_id: str
    watch_mac: str
    state: AlertState
    raised_at: float
    cancel_until: float
    press_count: int = 1
    updated_at: float = 0.0
    closed_by: str = ""
    press_counter: int | None = None
    kind: str = "sos"  # or "welfare": a welfare check, lower than an SOS (edge.alerts.welfare)
