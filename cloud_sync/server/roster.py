"""A community's roster, which the receiver pushes to that community's hubs only: read from
a TOML file (one per community), sent as a `roster` command."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli

from cloud_sync.contract.errors import ConfigError
from cloud_sync.contract.ids import is_id
from cloud_sync.contract.roster import (
    Building,
    CallWhen,
    Contact,
    Resident,
    Roster,
    Sensor,
    Watch,
)
from cloud_sync.contract.roster_file import ID, parse_roster, unreached


@dataclass(frozen=True, slots=True)
class CommunityRoster:
    """One roster file: the community it belongs to (its id on the wire), the roster, its version."""

    community: str
    roster: Roster
    version: str
    source: str


def load_roster_file(path: Path | str) -> CommunityRoster:
    """Read and check a roster file (TOML: `community`, optional `version`, hub.toml's
    arrays); raise ConfigError naming the field."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = tomli.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"roster file {path} not found; expected a TOML file with "
                          "[[residents]], [[watches]] and [[contacts]] like hub.toml's") from None
    except tomli.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}; expected TOML syntax") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read roster file {path}: {error}") from None
    community = data.get("community")
    if not is_id(community):
        given = "missing" if community is None else f"{community!r}"
        raise ConfigError(f"{path}: community is {given}; expected the community's id on "
                          f"the wire, as its hubs have it in [hub] community_id ({ID.form})")
    arrays = {key: value for key, value in data.items() if key != "community"}
    roster = parse_roster(arrays, source=str(path), default_address="")
    nobody = unreached(roster)
    if nobody is not None:
        raise ConfigError(f"{path}: {nobody}")
    return CommunityRoster(community, roster, str(data.get("version", "")), str(path))


def check_rosters(rosters: Iterable[CommunityRoster]) -> dict[str, CommunityRoster]:
    """Rosters by community; raise ConfigError when two files name one community or one watch
    or sensor is registered to two communities (its key would reach the other community's
    hubs; a MAC that is a watch in one file and a sensor in another is refused the same)."""
    by_community: dict[str, CommunityRoster] = {}
    owner: dict[str, tuple[CommunityRoster, str]] = {}
    for entry in rosters:
        if entry.community in by_community:
            raise ConfigError(f"{entry.source}: community {entry.community!r} already has roster "
                              f"{by_community[entry.community].source}; expected one file per "
                              "community")
        by_community[entry.community] = entry
        devices = [(watch.mac, "watch") for watch in entry.roster.watches] + \
            [(sensor.mac, "sensor") for sensor in entry.roster.sensors]
        for mac, kind in devices:
            first, was = owner.setdefault(mac, (entry, kind))
            if first is not entry:
                raise ConfigError(f"{entry.source}: {kind} {mac} is also registered to "
                                  f"community {first.community!r} in {first.source} (as a "
                                  f"{was}); expected each watch or sensor in one community's "
                                  "roster")
    return by_community


@dataclass(frozen=True, slots=True)
class RosterPush:
    """A community's roster, ready as command fields, for that community's hubs only."""

    version: str
    fields: dict[str, Any] = field(repr=False)
    summary: str
    unreached: str | None = None  # why an SOS or a hub's fault would reach nobody

    @classmethod
    def of(cls, roster: Roster, version: str) -> RosterPush:
        summary = (f"{len(roster.residents)} residents, {len(roster.watches)} watches, "
                   f"{len(roster.sensors)} sensors, {len(roster.contacts)} contacts")
        return cls(version, roster_fields(roster, version), summary, unreached(roster))

    @property
    def missing(self) -> str | None:
        """What the roster lacks for a hub to take it (hubs refuse a roster without watches
        or contacts: it would leave every watch unheard, or nobody to text), or None."""
        lacking = [name for name in ("watches", "contacts") if not self.fields[name]]
        return " and ".join(lacking) or None

    @property
    def held_back(self) -> str | None:
        """Why the roster is not sent to the hubs (they would refuse it), or None."""
        return f"it has no {self.missing} yet" if self.missing else self.unreached


def roster_fields(roster: Roster, version: str) -> dict[str, Any]:
    """The fields of a `roster` command, mirroring hub.toml's arrays (keys as 32 hex digits)."""
    homes = {building.id: building.address for building in roster.buildings}
    fields: dict[str, Any] = {
        "version": version,
        "residents": [_resident(resident, homes) for resident in roster.residents],
        "watches": [_watch(watch) for watch in roster.watches],
        "contacts": [_contact(contact) for contact in roster.contacts],
    }
    if roster.buildings:
        fields["buildings"] = [_building(building) for building in roster.buildings]
    if roster.sensors:
        fields["sensors"] = [_sensor(sensor) for sensor in roster.sensors]
    return fields


def _building(building: Building) -> dict[str, Any]:
    return {"id": building.id, "name": building.name, "address": building.address}


def _resident(resident: Resident, homes: dict[str, str]) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": resident.id, "name": resident.name, "room": resident.room}
    # parse_roster(default_address="") writes "<building's address> <room>" for a resident
    # without an address, or " <room>" without a building: leave it out, so the address
    # follows the building's, or each hub fills in its own.
    if resident.address.strip() and \
            resident.address != f"{homes.get(resident.building, '')} {resident.room}":
        entry["address"] = resident.address
    if resident.phone:
        entry["phone"] = resident.phone
    if resident.building:
        entry["building"] = resident.building
    return entry


def _watch(watch: Watch) -> dict[str, Any]:
    entry: dict[str, Any] = {"mac": watch.mac, "resident": watch.resident_id}
    if watch.key is not None:
        entry["key"] = watch.key.hex()
    if watch.insecure:
        entry["insecure"] = True
    if watch.label:
        entry["label"] = watch.label
    return entry


def _sensor(sensor: Sensor) -> dict[str, Any]:
    entry: dict[str, Any] = {"mac": sensor.mac, "resident": sensor.resident_id,
                             "kind": sensor.kind.value, "place": sensor.place}
    if sensor.key is not None:
        entry["key"] = sensor.key.hex()
    return entry


def _contact(contact: Contact) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": contact.id, "name": contact.name, "phone": contact.phone,
                             "role": contact.role.value, "tier": contact.tier}
    if contact.resident_id is not None:
        entry["resident"] = contact.resident_id
    if contact.always_sms:
        entry["always_sms"] = True
    if contact.building:
        entry["building"] = contact.building
    if contact.call is not CallWhen.NEVER:
        entry["call"] = contact.call.value
    return entry
