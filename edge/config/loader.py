"""The hub's TOML configuration: sections, roster and keys file, all validated on load."""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeGuard

from edge.config.messaging import ModemSection, SmsSection
from edge.config.panel import PanelSection, check_panel
from edge.config.supervision import SupervisionSection
from edge.config.uplink import UplinkSection
from cloud_sync.contract.schema import (
    TEXT,
    Place,
    Rule,
    above,
    between,
    at_least,
    build,
    meta,
    one_of,
    read_value,
)
from edge.domain import Contact, Resident, Role, Roster, Watch, normalise_mac, parse_key
from edge.errors import ConfigError

EXAMPLE_CONFIG = "config/hub.example.toml"
DEFAULT_CONFIG = Path("/etc/edge-hub/hub.toml")

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_PHONE = re.compile(r"^\+?[0-9]{3,20}$")
_PRIVATE_BITS = 0o077


def _identifier(text: str) -> str:
    if not _ID.fullmatch(text):
        raise ValueError(text)
    return text


def is_id(value: object) -> TypeGuard[str]:
    """True when value is an id (ID's form): safe as an MQTT topic level, a file name, a key."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def _phone(text: str) -> str:
    digits = text.replace(" ", "").replace("-", "")
    if not _PHONE.fullmatch(digits):
        raise ValueError(text)
    return digits


ID = Rule('an id of letters, digits, ".", "_" or "-" (at most 64 characters)', _identifier)
PHONE = Rule('a phone number: optional "+" then 3-20 digits, like +8613800138001', _phone)
MAC = Rule("a MAC address like A4:C1:38:12:34:56", normalise_mac)
AES_KEY = Rule("32 hex digits (a 128-bit AES key)", parse_key, takes=str)
SECONDS = "a number of seconds"


@dataclass(frozen=True, slots=True)
class HubSection:
    """[hub]: which hub this is, the building it serves, and where it keeps its files."""

    id: str = field(metadata=meta('this hub\'s id in the community, like "hub-3"', ID))
    community: str = field(metadata=meta("the community the building belongs to, as people "
                                         "name it", TEXT))
    building: str = field(metadata=meta('the building\'s display name, like "幸福里小区 3号楼"', TEXT))
    address: str = field(metadata=meta("the building's street address", TEXT))
    database: Path = field(
        default=Path("/var/lib/edge-hub/hub.db"),
        metadata=meta("SQLite database file; relative to the config file's folder"),
    )
    keys_file: Path | None = field(
        default=None,
        metadata=meta("TOML file with a [keys] table of MAC = key, mode 0600; relative to the config folder"),
    )
    log_level: str = field(
        default="INFO", metadata=meta("log level", one_of("DEBUG", "INFO", "WARNING", "ERROR"))
    )
    community_id: str | None = field(
        default=None,
        metadata=meta('the community\'s id on the wire (MQTT topics), like "xingfuli"; default: '
                      "the name if it is such an id, else one made from it", ID),
    )
    storage_reserve_mb: float = field(
        default=8.0,
        metadata=meta("space kept free beside the database for alerts when the disk fills; "
                      "0 = none", at_least(0, "a number of MB")),
    )
    low_space_mb: float = field(
        default=50.0,
        metadata=meta("below this much free space the hub reports a storage fault and stops "
                      "keeping telemetry", at_least(0, "a number of MB")),
    )
    max_database_mb: float | None = field(
        default=None,
        metadata=meta("largest the database may grow; reaching it counts as a full disk",
                      above(1, "a number of MB")),
    )


def community_id_of(hub: HubSection) -> str:
    """The community's id on the wire: [hub] community_id, or the name itself when it is
    such an id, or "c-" and twelve hex digits made from the name (the same on every hub
    whose configuration gives the same name)."""
    if hub.community_id:
        return hub.community_id
    if _ID.fullmatch(hub.community):
        return hub.community
    return "c-" + hashlib.sha256(hub.community.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class RadioSection:
    """[radio]: the Bluetooth adapter and how the scanner is kept alive."""

    adapter: str = field(default="hci0", metadata=meta("BlueZ adapter name", TEXT))
    scanning: str = field(
        default="passive",
        metadata=meta(
            "scan mode; passive falls back to active where BlueZ lacks it", one_of("passive", "active")
        ),
    )
    watchdog_s: float = field(
        default=120.0,
        metadata=meta("restart the scanner after this long without hearing any advert", above(0, SECONDS)),
    )
    backoff_max_s: float = field(
        default=60.0,
        metadata=meta("longest wait between scanner restart attempts", above(0, SECONDS)),
    )


@dataclass(frozen=True, slots=True)
class AlertSection:
    """[alerts]: timing of the pre-alarm, press repeats and GPS fixes."""

    cancel_window_s: float = field(
        default=30.0,
        metadata=meta("pre-alarm time the resident has to cancel; 0 = no pre-alarm", at_least(0, SECONDS)),
    )
    repeat_window_s: float = field(
        default=10.0,
        metadata=meta(
            "presses from one watch this soon after the last accepted press are repeats", at_least(0, SECONDS)
        ),
    )
    fix_stale_after_s: float = field(
        default=900.0,
        metadata=meta("a GPS fix older than this is reported as stale", above(0, SECONDS)),
    )


@dataclass(frozen=True, slots=True)
class ResidentEntry:
    """One [[residents]] table as written; address defaults to "<hub.address> <room>"."""

    id: str = field(metadata=meta("the resident's id, unique in this file", ID))
    name: str = field(metadata=meta("the resident's name", TEXT))
    room: str = field(metadata=meta('the room or flat, like "301"', TEXT))
    address: str | None = field(default=None, metadata=meta("home address where help is sent", TEXT))
    phone: str | None = field(default=None, metadata=meta("the resident's own phone", PHONE))


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
    """One [[contacts]] table as written; without resident it serves the whole building."""

    id: str = field(metadata=meta("the contact's id, unique in this file", ID))
    name: str = field(metadata=meta("the contact's name", TEXT))
    phone: str = field(metadata=meta("the number SMS alerts go to", PHONE))
    role: Role = field(metadata=meta("who the contact is to the resident"))
    tier: int = field(metadata=meta("escalation tier; 1 is told first", between(1, 99)))
    resident: str | None = field(
        default=None, metadata=meta("id of the resident served; omit for everyone", ID)
    )
    always_sms: bool = field(default=False, metadata=meta("SMS this contact on every alert"))


@dataclass(frozen=True, slots=True)
class ConfigFile:
    """The whole file as written, before cross-checks."""

    hub: HubSection = field(metadata=meta("the building and this hub: id, community, building, address"))
    radio: RadioSection = field(default=RadioSection(), metadata=meta("the Bluetooth scanner"))
    alerts: AlertSection = field(default=AlertSection(), metadata=meta("alert timing"))
    residents: tuple[ResidentEntry, ...] = field(default=(), metadata=meta("[[residents]] entries"))
    watches: tuple[WatchEntry, ...] = field(default=(), metadata=meta("[[watches]] entries"))
    contacts: tuple[ContactEntry, ...] = field(default=(), metadata=meta("[[contacts]] entries"))
    sms: SmsSection = field(default=SmsSection(), metadata=meta("texts to responders"))
    modem: ModemSection | None = field(default=None, metadata=meta("the GSM modem; omit for none"))
    uplink: UplinkSection | None = field(default=None, metadata=meta("the community server"))
    supervision: SupervisionSection = field(default=SupervisionSection(),
                                            metadata=meta("self-checks of hub and watches"))
    panel: PanelSection | None = field(default=None, metadata=meta("the hub's GPIO panel"))


@dataclass(frozen=True, slots=True)
class RosterFile:
    """A roster on its own: pushed by the server or kept in a receiver's roster file."""

    version: str = field(default="", metadata=meta("the roster's version, for logs"))
    residents: tuple[ResidentEntry, ...] = field(default=(), metadata=meta("residents"))
    watches: tuple[WatchEntry, ...] = field(default=(), metadata=meta("watches"))
    contacts: tuple[ContactEntry, ...] = field(default=(), metadata=meta("contacts"))


@dataclass(frozen=True, slots=True)
class KeysFile:
    """Watch keys from hub.keys_file by normalised MAC; source names the file in errors."""

    source: str
    keys: Mapping[str, bytes] = field(repr=False)


@dataclass(frozen=True, slots=True)
class HubConfig:
    """Everything the hub is configured with, checked and cross-checked."""

    path: Path
    hub: HubSection
    radio: RadioSection
    alerts: AlertSection
    roster: Roster
    sms: SmsSection = SmsSection()
    modem: ModemSection | None = None
    uplink: UplinkSection | None = None
    supervision: SupervisionSection = SupervisionSection()
    panel: PanelSection | None = None

    @property
    def insecure_watches(self) -> tuple[Watch, ...]:
        """Watches registered as plaintext-only buttons (no key, no replay protection)."""
        return tuple(watch for watch in self.roster.watches if watch.insecure)


def load_config(path: Path | str) -> HubConfig:
    """Read and check the config file and its keys file; raise ConfigError on any fault."""
    path = Path(path)
    hint = f"copy {EXAMPLE_CONFIG} to {path} and edit it for this building"
    data = _read_toml(path, what="config file", missing_hint=hint)
    source, base_dir = str(path), path.absolute().parent
    written = build(ConfigFile, data, Place(source), base_dir)
    keys = None if written.hub.keys_file is None else load_keys(written.hub.keys_file, config=source)
    return _assemble(written, Place(source), base_dir, keys)


def parse_config(
    data: Mapping[str, Any], *, source: str, base_dir: Path, keys: KeysFile | None = None
) -> HubConfig:
    """Check parsed TOML; reads no file (pass the keys file's content as keys)."""
    written = build(ConfigFile, dict(data), Place(source), base_dir)
    return _assemble(written, Place(source), base_dir, keys)


def load_keys(path: Path | str, *, config: str = "the config file") -> KeysFile:
    """Read a keys file, refusing it if other users may read or change it."""
    path = Path(path)
    hint = f"create it with a [keys] table (see {EXAMPLE_CONFIG}) or remove hub.keys_file from {config}"
    data = _read_toml(path, what="keys file", missing_hint=hint, private=True)
    return parse_keys(data, source=str(path))


def parse_keys(data: Mapping[str, Any], *, source: str) -> KeysFile:
    """Check a parsed keys file: one [keys] table of MAC = 32 hex digits."""
    place = Place(source)
    for name in data:
        if name != "keys":
            raise place.key(name).error('unknown key; expected only a [keys] table of "MAC" = "<32 hex>"')
    table = data.get("keys", {})
    if not isinstance(table, dict):
        raise place.key("keys").error('expected a [keys] table of "MAC" = "<32 hex>"')
    keys: dict[str, bytes] = {}
    for text, value in table.items():
        here = place.key("keys").key(text)
        mac = read_value(str, text, here, MAC)
        if mac in keys:
            raise here.error(f"{mac} is listed twice; expected each watch once")
        keys[mac] = read_value(bytes, value, here, AES_KEY, secret=True)
    return KeysFile(source, MappingProxyType(keys))


def _read_toml(path: Path, *, what: str, missing_hint: str, private: bool = False) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            if private:
                _refuse_shared(path, os.fstat(handle.fileno()).st_mode)
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} not found; {missing_hint}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}; expected TOML syntax (https://toml.io)") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; expected the file saved as UTF-8") from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read {what} {path}: {exc.strerror}; check it is a file the hub may read"
        ) from None


def _refuse_shared(path: Path, mode: int) -> None:
    if mode & _PRIVATE_BITS:
        what = "read" if mode & 0o044 else "changed"
        raise ConfigError(
            f"keys file {path} can be {what} by other users (mode {mode & 0o777:04o}); run: chmod 600 {path}"
        )


def _assemble(written: ConfigFile, place: Place, base_dir: Path, keys: KeysFile | None) -> HubConfig:
    roster = _roster(written, written.hub.address, place, keys)
    if written.panel is not None:
        check_panel(written.panel, place.key("panel"), {r.id for r in roster.residents})
    path = base_dir / Path(place.source).name
    return HubConfig(path=path, hub=written.hub, radio=written.radio, alerts=written.alerts,
                     roster=roster, sms=written.sms, modem=written.modem,
                     uplink=written.uplink, supervision=written.supervision,
                     panel=written.panel)


def parse_roster(data: Mapping[str, Any], *, source: str, default_address: str) -> Roster:
    """A roster pushed by the server (or a receiver's roster file), checked like hub.toml's."""
    written = build(RosterFile, data, Place(source), Path("."))
    return _roster(written, default_address, Place(source), None)


def _roster(written: ConfigFile | RosterFile, default_address: str, place: Place,
            keys: KeysFile | None) -> Roster:
    residents = _residents(written, default_address, place)
    resident_ids = {resident.id for resident in residents}
    watches = _watches(written, place, resident_ids, keys)
    contacts = _contacts(written, place, resident_ids)
    return Roster(residents=residents, watches=watches, contacts=contacts)


def _residents(written: ConfigFile | RosterFile, default_address: str,
               place: Place) -> tuple[Resident, ...]:
    _refuse_duplicates([entry.id for entry in written.residents], place.key("residents"), "id")
    return tuple(
        Resident(
            id=entry.id,
            name=entry.name,
            room=entry.room,
            address=entry.address or f"{default_address} {entry.room}",
            phone=entry.phone or "",
        )
        for entry in written.residents
    )


def _watches(
    written: ConfigFile | RosterFile, place: Place, resident_ids: set[str], keys: KeysFile | None
) -> tuple[Watch, ...]:
    entries = written.watches
    _refuse_duplicates([entry.mac for entry in entries], place.key("watches"), "mac")
    watches = []
    for position, entry in enumerate(entries):
        here = place.key("watches").index(position)
        _require_resident(entry.resident, here.key("resident"), resident_ids)
        key = _watch_key(entry, here, keys)
        watches.append(Watch(entry.mac, entry.resident, key, entry.insecure, entry.label))
    if keys is not None:
        _refuse_unused_keys(keys, {entry.mac for entry in entries}, place.source)
    return tuple(watches)


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
                    f"no watch with this MAC in {config}; expected only MACs of [[watches]] entries "
                    "(add the watch or remove its key)"
                )
            )


def _contacts(written: ConfigFile | RosterFile, place: Place,
              resident_ids: set[str]) -> tuple[Contact, ...]:
    entries = written.contacts
    _refuse_duplicates([entry.id for entry in entries], place.key("contacts"), "id")
    contacts = []
    for position, entry in enumerate(entries):
        if entry.resident is not None:
            _require_resident(
                entry.resident, place.key("contacts").index(position).key("resident"), resident_ids
            )
        contacts.append(
            Contact(
                entry.id, entry.name, entry.phone, entry.role, entry.tier, entry.resident, entry.always_sms
            )
        )
    return tuple(contacts)


def _require_resident(resident_id: str, here: Place, resident_ids: set[str]) -> None:
    if resident_id not in resident_ids:
        raise here.error(f"no resident with id {resident_id!r}; expected the id of a [[residents]] entry")


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
