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
    building: str = ""  # the hub id of the building the resident lives in; "" = the hub's own


@dataclass(frozen=True, slots=True)
class Watch:
    """A registered BLE SOS watch or button and the resident who wears it."""

    mac: str
    resident_id: str
    key: bytes | None = field(default=None, repr=False)
    insecure: bool = False
    label: str = ""


class SensorKind(StrEnum):
    """What an activity sensor watches: movement in a room, or a door or window opening."""

    MOTION = "motion"
    DOOR = "door"


@dataclass(frozen=True, slots=True)
class Sensor:
    """A registered BTHome activity sensor in a resident's home (no button: its frames tell
    that the resident is up and about, never call for help)."""

    mac: str
    resident_id: str
    kind: SensorKind
    place: str
    key: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Contact:
    """A responder: for one resident, for the residents of one building (the hub id in
    `building`), or, with neither, for everyone the hub hears."""

    id: str
    name: str
    phone: str
    role: Role
    tier: int
    resident_id: str | None = None
    always_sms: bool = False
    building: str = ""
    call: CallWhen = CallWhen.NEVER


@dataclass(frozen=True, slots=True)
class Building:
    """A building of the community, named by the id of the hub that serves it."""

    id: str
    name: str
    address: str


@dataclass(frozen=True, slots=True)
class Roster:
    """Everyone and everything the hub knows by name."""

    residents: tuple[Resident, ...] = ()
    watches: tuple[Watch, ...] = ()
    contacts: tuple[Contact, ...] = ()
    buildings: tuple[Building, ...] = ()
    sensors: tuple[Sensor, ...] = ()
