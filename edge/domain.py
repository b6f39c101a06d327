"""Domain types of the hub: residents, their watches, responders, fixes and alerts."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum

import phonenumbers

_NOT_PLAIN = frozenset({"Cc", "Cf", "Cs"})
MAC_PATTERN = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$")


def plain_text(text: str) -> bool:
    """No control or format characters (line breaks, DEL, bidi overrides, zero-width
    marks) and no lone surrogates (which no UTF-8 text could carry): what a name texted to
    responders or shown to a worker may hold."""
    return not any(unicodedata.category(ch) in _NOT_PLAIN for ch in text)


def normalise_mac(text: str) -> str:
    """Return MAC as upper-case colon form, or raise ValueError naming the expected form."""
    candidate = text.strip().upper().replace("-", ":")
    if len(candidate) == 12 and ":" not in candidate:
        candidate = ":".join(candidate[i : i + 2] for i in range(0, 12, 2))
    if not MAC_PATTERN.fullmatch(candidate):
        raise ValueError(f"expected a MAC address like A4:C1:38:12:34:56, got {text!r}")
    return candidate


def parse_key(text: str) -> bytes:
    """Return a 128-bit AES key from 32 hex digits, or raise ValueError."""
    cleaned = text.strip().lower()
    if len(cleaned) != 32 or any(c not in "0123456789abcdef" for c in cleaned):
        raise ValueError("expected 32 hex digits (a 128-bit AES key)")
    return bytes.fromhex(cleaned)


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


class Role(StrEnum):
    """Who a responder is to the resident."""

    GRID_WORKER = "grid_worker"
    NEIGHBOUR = "neighbour"
    DUTY_DESK = "duty_desk"
    FAMILY = "family"


@dataclass(frozen=True, slots=True)
class Resident:
    """A person who wears a watch; the home address and room stand in for a GPS fix."""

    id: str
    name: str
    room: str
    address: str
    phone: str = ""


@dataclass(frozen=True, slots=True)
class Watch:
    """A registered BLE SOS watch or button and the resident who wears it."""

    mac: str
    resident_id: str
    key: bytes | None = field(default=None, repr=False)
    insecure: bool = False
    label: str = ""


@dataclass(frozen=True, slots=True)
class Contact:
    """A responder; without resident_id the contact serves the whole building."""

    id: str
    name: str
    phone: str
    role: Role
    tier: int
    resident_id: str | None = None
    always_sms: bool = False


@dataclass(frozen=True, slots=True)
class Roster:
    """Everyone and everything the hub knows by name."""

    residents: tuple[Resident, ...] = ()
    watches: tuple[Watch, ...] = ()
    contacts: tuple[Contact, ...] = ()


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
