"""The hub's TOML configuration: sections, roster and keys file, all validated on load."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import tomli

from cloud_sync.contract.ids import ID_PATTERN
from cloud_sync.contract.roster_file import (
    AES_KEY,
    ID,
    MAC,
    ContactEntry,
    KeysFile,
    ResidentEntry,
    SensorEntry,
    WatchEntry,
    roster_of,
)
from cloud_sync.contract.schema import (
    TEXT,
    Place,
    above,
    at_least,
    build,
    meta,
    one_of,
    read_value,
)
from edge.config.messaging import CallsSection, ModemSection, SmsSection
from edge.config.panel import PanelSection, check_panel
from edge.config.paths import EXAMPLE_CONFIG
from edge.config.supervision import SupervisionSection
from edge.config.uplink import UplinkSection
from edge.config.welfare import WelfareSection, check_welfare
from edge.domain import Roster, Watch
from edge.errors import ConfigError

_PRIVATE_BITS = 0o077


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
    if ID_PATTERN.fullmatch(hub.community):
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
class ConfigFile:
    """The whole file as written, before cross-checks."""

    hub: HubSection = field(metadata=meta("the building and this hub: id, community, building, address"))
    radio: RadioSection = field(default=RadioSection(), metadata=meta("the Bluetooth scanner"))
    alerts: AlertSection = field(default=AlertSection(), metadata=meta("alert timing"))
    residents: tuple[ResidentEntry, ...] = field(default=(), metadata=meta("[[residents]] entries"))
    watches: tuple[WatchEntry, ...] = field(default=(), metadata=meta("[[watches]] entries"))
    contacts: tuple[ContactEntry, ...] = field(default=(), metadata=meta("[[contacts]] entries"))
    sensors: tuple[SensorEntry, ...] = field(default=(), metadata=meta("[[sensors]] entries"))
    sms: SmsSection = field(default=SmsSection(), metadata=meta("texts to responders"))
    calls: CallsSection = field(default=CallsSection(),
                                metadata=meta("ring calls after SOS texts"))
    modem: ModemSection | None = field(default=None, metadata=meta("the GSM modem; omit for none"))
    uplink: UplinkSection | None = field(default=None, metadata=meta("the community server"))
    supervision: SupervisionSection = field(default=SupervisionSection(),
                                            metadata=meta("self-checks of hub and watches"))
    panel: PanelSection | None = field(default=None, metadata=meta("the hub's GPIO panel"))
    welfare: WelfareSection = field(default=WelfareSection(),
                                    metadata=meta("welfare checks from activity sensors"))


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
    calls: CallsSection = CallsSection()
    welfare: WelfareSection = WelfareSection()

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
    listed = place.key("keys")
    for text, value in table.items():
        here = listed.key(text)
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
            return tomli.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} not found; {missing_hint}") from None
    except tomli.TOMLDecodeError as exc:
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
    roster = roster_of(written, written.hub.address, place, keys)
    if written.panel is not None:
        check_panel(written.panel, place.key("panel"), {r.id for r in roster.residents})
    check_welfare(written.welfare, place.key("welfare"), {r.id for r in roster.residents})
    path = base_dir / Path(place.source).name
    return HubConfig(path=path, hub=written.hub, radio=written.radio, alerts=written.alerts,
                     roster=roster, sms=written.sms, modem=written.modem,
                     uplink=written.uplink, supervision=written.supervision,
                     panel=written.panel, calls=written.calls, welfare=written.welfare)


