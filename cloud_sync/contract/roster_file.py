"""The roster as a file: the [[residents]], [[watches]], [[contacts]] and [[sensors]] tables that
hub.toml, a pushed roster command and a server's roster file all share, checked into the
roster's values with errors that name the table, the entry and what is expected."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cloud_sync.contract.errors import ConfigError
from cloud_sync.contract.ids import identifier, normalise_mac
from cloud_sync.contract.roster import (
    Building,
    CallWhen,
    Contact,
    Resident,
    Role,
    Roster,
    Sensor,
    SensorKind,
    Watch,
)
from cloud_sync.contract.schema import TEXT, Place, Rule, between, build, meta
from firmware_bridge.ble.addresses import parse_key

_PHONE = re.compile(r"^\+?[0-9]{3,20}$")


def _phone(text: str) -> str:
    digits = text.replace(" ", "").replace("-", "")
    if not _PHONE.fullmatch(digits):
        raise ValueError(text)
    return digits


ID = Rule('an id of letters, digits, ".", "_" or "-" (at most 64 characters)', identifier)
PHONE = Rule('a phone number: optional "+" then 3-20 digits, like +8613800138001', _phone)
MAC = Rule("a MAC address like A4:C1:38:12:34:56", normalise_mac)
AES_KEY = Rule("32 hex digits (a 128-bit AES key)", parse_key, takes=str)

@dataclass(frozen=True, slots=True)
class ResidentEntry:
    """One [[residents]] table as written; address defaults to "<address> <room>" with the
    address of the resident's building ([[buildings]]), or else of the hub."""

    id: str = field(metadata=meta("the resident's id, unique in this file", ID))
    name: str = field(metadata=meta("the resident's name", TEXT))
    room: str = field(metadata=meta('the room or flat, like "301"', TEXT))
    address: str | None = field(default=None, metadata=meta("home address where help is sent", TEXT))
    phone: str | None = field(default=None, metadata=meta("the resident's own phone", PHONE))
    building: str | None = field(
        default=None, metadata=meta("id of the resident's building (its hub id) in [[buildings]]", ID)
    )


@dataclass(frozen=True, slots=True)
class BuildingEntry:
    """One [[buildings]] table of a server's roster: a building, named by its hub's id."""

    id: str = field(metadata=meta("the id of the hub that serves the building", ID))
    name: str = field(metadata=meta('the building\'s name, like "3号楼"', TEXT))
    address: str = field(metadata=meta("the building's street address", TEXT))


@dataclass(frozen=True, slots=True)
class WatchEntry:
    """One [[watches]] table as written."""

    mac: str = field(metadata=meta("the watch's Bluetooth MAC address", MAC))
    resident: str = field(metadata=meta("id of the resident who wears it", ID))
    key: bytes | None = field(default=None, metadata=meta("the watch's BTHome AES key", AES_KEY, secret=True))
    insecure: bool = field(default=False, metadata=meta("true for a plaintext-only button with no key"))
    label: str = field(default="", metadata=meta("a note for installers, like the model"))


@dataclass(frozen=True, slots=True)
class ContactEntry:
    """One [[contacts]] table as written: for one resident, for one building's residents,
    or, with neither, for everyone."""

    id: str = field(metadata=meta("the contact's id, unique in this file", ID))
    name: str = field(metadata=meta("the contact's name", TEXT))
    phone: str = field(metadata=meta("the number SMS alerts go to", PHONE))
    role: Role = field(metadata=meta("who the contact is to the resident"))
    tier: int = field(metadata=meta("escalation tier; 1 is told first", between(1, 99)))
    resident: str | None = field(
        default=None, metadata=meta("id of the resident served; omit for everyone", ID)
    )
    always_sms: bool = field(default=False, metadata=meta("SMS this contact on every alert"))
    building: str | None = field(
        default=None,
        metadata=meta("id of the building whose residents the contact serves (in [[buildings]])", ID),
    )
    call: CallWhen = field(default=CallWhen.NEVER, metadata=meta(
        "ring this contact's phone after each SOS text: never, night ([calls] night hours) "
        "or always"))


@dataclass(frozen=True, slots=True)
class SensorEntry:
    """One [[sensors]] table as written: a BTHome motion or door/window sensor."""

    mac: str = field(metadata=meta("the sensor's Bluetooth MAC address", MAC))
    resident: str = field(metadata=meta("id of the resident whose home it is in", ID))
    kind: SensorKind = field(metadata=meta('"motion" or "door" (a door or window contact)'))
    place: str = field(metadata=meta('where it is, like "bathroom door"', TEXT))
    key: bytes | None = field(default=None, metadata=meta("the sensor's BTHome AES key", AES_KEY, secret=True))


@dataclass(frozen=True, slots=True)
class RosterFile:
    """A roster on its own: pushed by the server or kept in a receiver's roster file."""

    version: str = field(default="", metadata=meta("the roster's version, for logs"))
    residents: tuple[ResidentEntry, ...] = field(default=(), metadata=meta("residents"))
    watches: tuple[WatchEntry, ...] = field(default=(), metadata=meta("watches"))
    contacts: tuple[ContactEntry, ...] = field(default=(), metadata=meta("contacts"))
    buildings: tuple[BuildingEntry, ...] = field(default=(), metadata=meta("buildings"))
    sensors: tuple[SensorEntry, ...] = field(default=(), metadata=meta("activity sensors"))


@dataclass(frozen=True, slots=True)
class KeysFile:
    """Watch and sensor keys from hub.keys_file by normalised MAC; source names the file in errors."""

    source: str
    keys: Mapping[str, bytes] = field(repr=False)


class WrittenRoster(Protocol):
    """The tables a roster is written as, in hub.toml or a roster file."""

    @property
    def residents(self) -> tuple[ResidentEntry, ...]: ...
    @property
    def watches(self) -> tuple[WatchEntry, ...]: ...
    @property
    def contacts(self) -> tuple[ContactEntry, ...]: ...
    @property
    def sensors(self) -> tuple[SensorEntry, ...]: ...


def parse_roster(data: Mapping[str, Any], *, source: str, default_address: str) -> Roster:
    """A roster pushed by the server (or a receiver's roster file), checked like hub.toml's."""
    written = build(RosterFile, data, Place(source), Path("."))
    return roster_of(written, default_address, Place(source), None, written.buildings)


def roster_of(written: WrittenRoster, default_address: str, place: Place,
              keys: KeysFile | None, building_entries: Sequence[BuildingEntry] = ()) -> Roster:
    buildings = _buildings(building_entries, place)
    residents = _residents(written, default_address, place, buildings)
    resident_ids = {resident.id for resident in residents}
    watches = _watches(written, place, resident_ids, keys)
    sensors = _sensors(written, place, resident_ids, keys)
    if keys is not None:
        _refuse_unused_keys(keys, {w.mac for w in watches} | {s.mac for s in sensors}, place.source)
    contacts = _contacts(written, place, resident_ids, buildings)
    return Roster(residents=residents, watches=watches, contacts=contacts,
                  buildings=tuple(buildings.values()), sensors=sensors)


def unreached(roster: Roster) -> str | None:
    """Why an SOS or a hub's fault would reach nobody under `roster`, naming the entry, or
    None. A contact with neither resident nor building serves everyone (the duty desk);
    one for a building serves only there, so it needs such a contact beside it."""
    if any(c.resident_id is None and not c.building for c in roster.contacts):
        return None
    for position, contact in enumerate(roster.contacts):
        if contact.building:
            return (f"contacts[{position}] ({contact.id}) serves building {contact.building!r}, "
                    "but no contact serves everyone, so hubs and residents outside that "
                    "building would reach nobody; expected a contact with neither resident "
                    "nor building (the community's duty desk)")
    own = {contact.resident_id for contact in roster.contacts}
    for position, resident in enumerate(roster.residents):
        if resident.id not in own:
            return (f"residents[{position}] ({resident.id}): no contact serves them; expected "
                    "a contact of theirs, or one for everyone (neither resident nor building)")
    return None


def _buildings(entries: Sequence[BuildingEntry], place: Place) -> dict[str, Building]:
    _refuse_duplicates([entry.id for entry in entries], place.key("buildings"), "id")
    return {entry.id: Building(entry.id, entry.name, entry.address) for entry in entries}


def _residents(written: WrittenRoster, default_address: str, place: Place,
               buildings: Mapping[str, Building]) -> tuple[Resident, ...]:
    _refuse_duplicates([entry.id for entry in written.residents], place.key("residents"), "id")
    residents = []
    for position, entry in enumerate(written.residents):
        home = default_address
        if entry.building is not None:
            here = place.key("residents").index(position).key("building")
            home = _require_building(entry.building, here, buildings).address
        residents.append(Resident(id=entry.id, name=entry.name, room=entry.room,
                                  address=entry.address or f"{home} {entry.room}",
                                  phone=entry.phone or "", building=entry.building or ""))
    return tuple(residents)


def _require_building(building: str, here: Place, buildings: Mapping[str, Building]) -> Building:
    if not buildings:
        raise here.error(f"building {building!r}, but the roster lists no [[buildings]]; "
                         "expected the hub id of a [[buildings]] entry (hub.toml lists none: "
                         "leave building out there, and the hub's own building is meant)")
    if building not in buildings:
        raise here.error(f"no building with id {building!r}; expected the hub id of a "
                         "[[buildings]] entry")
    return buildings[building]


def _watches(
    written: WrittenRoster, place: Place, resident_ids: set[str], keys: KeysFile | None
) -> tuple[Watch, ...]:
    entries = written.watches
    _refuse_duplicates([entry.mac for entry in entries], place.key("watches"), "mac")
    watches = []
    listed = place.key("watches")
    for position, entry in enumerate(entries):
        here = listed.index(position)
        _require_resident(entry.resident, here, resident_ids)
        key = _watch_key(entry, here, keys)
        watches.append(Watch(entry.mac, entry.resident, key, entry.insecure, entry.label))
    return tuple(watches)


def _sensors(
    written: WrittenRoster, place: Place, resident_ids: set[str], keys: KeysFile | None
) -> tuple[Sensor, ...]:
    """The activity sensors; each needs a key (a faked frame would hide a welfare check)."""
    entries = written.sensors
    _refuse_duplicates([entry.mac for entry in entries], place.key("sensors"), "mac")
    watch_macs = {entry.mac for entry in written.watches}
    sensors = []
    listed = place.key("sensors")
    for position, entry in enumerate(entries):
        here = listed.index(position)
        _require_resident(entry.resident, here, resident_ids)
        if entry.mac in watch_macs:
            raise here.key("mac").error(
                f"{entry.mac} is also a [[watches]] entry; expected each MAC only once")
        filed = None if keys is None else keys.keys.get(entry.mac)
        if entry.key is not None and filed is not None and keys is not None:
            raise here.key("key").error(
                f"{entry.mac} also has a key in keys file {keys.source}; "
                "expected the key in one place only (remove one of them)")
        key = entry.key if entry.key is not None else filed
        if key is None:
            raise ConfigError(
                f'{here} ({entry.mac}): no key; add key = "<32 hex>" or put it in the keys '
                "file (sensors must be encrypted: a faked frame could hide a welfare check)")
        sensors.append(Sensor(entry.mac, entry.resident, entry.kind, entry.place, key))
    return tuple(sensors)


def _watch_key(entry: WatchEntry, here: Place, keys: KeysFile | None) -> bytes | None:
    filed = None if keys is None else keys.keys.get(entry.mac)
    if entry.key is not None and filed is not None and keys is not None:
        raise here.key("key").error(
            f"{entry.mac} also has a key in keys file {keys.source}; "
            "expected the key in one place only (remove one of them)"
        )
    key = entry.key if entry.key is not None else filed
    if entry.insecure and key is not None:
        where = "" if filed is None or keys is None else f" in keys file {keys.source}"
        raise here.key("insecure").error(
            f"insecure = true but {entry.mac} has a key{where}; expected either a key (encrypted watch) "
            "or insecure = true (plaintext-only button), not both"
        )
    if key is None and not entry.insecure:
        raise ConfigError(
            f'{here} ({entry.mac}): no key; add key = "<32 hex>" or put it in the keys file, '
            "or set insecure = true for a plaintext-only button"
        )
    return key


def _refuse_unused_keys(keys: KeysFile, macs: set[str], config: str) -> None:
    for mac in keys.keys:
        if mac not in macs:
            raise (
                Place(keys.source)
                .key("keys")
                .key(mac)
                .error(
                    f"no watch with this MAC in {config}; expected only MACs of [[watches]] "
                    "or [[sensors]] entries (add the watch or sensor, or remove its key)"
                )
            )


def _contacts(written: WrittenRoster, place: Place, resident_ids: set[str],
              buildings: Mapping[str, Building]) -> tuple[Contact, ...]:
    entries = written.contacts
    _refuse_duplicates([entry.id for entry in entries], place.key("contacts"), "id")
    contacts = []
    listed = place.key("contacts")
    for position, entry in enumerate(entries):
        here = listed.index(position)
        if entry.resident is not None:
            _require_resident(entry.resident, here, resident_ids)
        if entry.building is not None:
            if entry.resident is not None:
                raise here.key("building").error(
                    "the contact serves one resident already; expected resident or building, "
                    "not both (a resident's contact serves them wherever they live)")
            _require_building(entry.building, here.key("building"), buildings)
        contacts.append(Contact(entry.id, entry.name, entry.phone, entry.role, entry.tier,
                                entry.resident, entry.always_sms, entry.building or "",
                                entry.call))
    return tuple(contacts)


def _require_resident(resident_id: str, entry: Place, resident_ids: set[str]) -> None:
    """The entry (at place `entry`) names a resident of the roster."""
    if resident_id not in resident_ids:
        raise entry.key("resident").error(f"no resident with id {resident_id!r}; expected the id of a [[residents]] entry")


def _refuse_duplicates(values: Sequence[str], array: Place, key: str) -> None:
    first_seen: dict[str, int] = {}
    for position, value in enumerate(values):
        if value in first_seen:
            earlier = array.index(first_seen[value]).path
            raise (
                array.index(position)
                .key(key)
                .error(f"{value!r} is already used by {earlier}; expected each {key} only once")
            )
        first_seen[value] = position
