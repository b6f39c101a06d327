"""The roster: residents, their watches and the responders, as the hub keeps them and the
server pushes them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    """Who a responder is to the resident."""

    GRID_WORKER = "grid_worker"
    NEIGHBOUR = "neighbour"
    DUTY_DESK = "duty_desk"
    FAMILY = "family"


class CallWhen(StrEnum):
    """When a contact also gets a ring call after an SOS text: never, at night, always."""

    NEVER = "never"
    NIGHT = "night"
    ALWAYS = "always"


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
    call: CallWhen = CallWhen.NEVER


@dataclass(frozen=True, slots=True)
class Roster:
    """Everyone and everything the hub knows by name."""

    residents: tuple[Resident, ...] = ()
    watches: tuple[Watch, ...] = ()
    contacts: tuple[Contact, ...] = ()
