"""The roster a receiver pushes to every hub: read from a TOML file, sent as a `roster` command."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from edge.config import parse_roster
from edge.domain import Contact, Resident, Roster, Watch
from edge.errors import ConfigError


def load_roster_file(path: Path | str) -> tuple[Roster, str]:
    """Read and check a roster file (TOML, hub.toml's arrays plus `version`); raise ConfigError."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"roster file {path} not found; expected a TOML file with "
                          "[[residents]], [[watches]] and [[contacts]] like hub.toml's") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}; expected TOML syntax") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read roster file {path}: {error}") from None
    roster = parse_roster(data, source=str(path), default_address="")
    version = data.get("version", "")
    return roster, str(version)


def roster_fields(roster: Roster, version: str) -> dict[str, Any]:
    """The fields of a `roster` command, mirroring hub.toml's arrays (keys as 32 hex digits)."""
    return {
        "version": version,
        "residents": [_resident(resident) for resident in roster.residents],
        "watches": [_watch(watch) for watch in roster.watches],
        "contacts": [_contact(contact) for contact in roster.contacts],
    }


def _resident(resident: Resident) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": resident.id, "name": resident.name, "room": resident.room}
    # parse_roster(default_address="") writes " <room>" for a resident without an address:
    # leave it out so each hub fills in its own building's address.
    if resident.address.strip() and resident.address != f" {resident.room}":
        entry["address"] = resident.address
    if resident.phone:
        entry["phone"] = resident.phone
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


def _contact(contact: Contact) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": contact.id, "name": contact.name, "phone": contact.phone,
                             "role": contact.role.value, "tier": contact.tier}
    if contact.resident_id is not None:
        entry["resident"] = contact.resident_id
    if contact.always_sms:
        entry["always_sms"] = True
    return entry
