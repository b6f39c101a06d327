"""The TOML configuration: shipped files load, and every mistake is named precisely."""

from __future__ import annotations

import copy
import json
import os
import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from edge.config.loader import (
    AlertSection,
    ContactEntry,
    HubConfig,
    HubSection,
    RadioSection,
    ResidentEntry,
    WatchEntry,
    community_id_of,
    load_config,
    parse_config,
)
from edge.domain import Role
from edge.errors import ConfigError, HubError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config"
KEY_A = "00112233445566778899aabbccddeeff"
KEY_B = "ffeeddccbbaa99887766554433221100"
MAC_A = "A4:C1:38:00:00:01"
MAC_B = "A4:C1:38:00:00:02"


def building() -> dict[str, Any]:
    """A small valid building: two residents, two encrypted watches, two contacts."""
    return {
        "hub": {
            "id": "hub-3",
            "community": "幸福里社区",
            "building": "幸福里小区 3号楼",
            "address": "幸福里路 18 号",
        },
        "residents": [
            {"id": "r-301", "name": "王秀英", "room": "301"},
            {"id": "r-302", "name": "李建国", "room": "302", "address": "幸福里路 18 号 2单元 302"},
        ],
        "watches": [
            {"mac": MAC_A, "resident": "r-301", "key": KEY_A},
            {"mac": MAC_B, "resident": "r-302", "key": KEY_B},
        ],
        "contacts": [
            {"id": "desk", "name": "值班室", "phone": "+8613800138001", "role": "duty_desk", "tier": 1},
            {
                "id": "son",
                "name": "王磊",
                "phone": "+8613800138002",
                "role": "family",
                "tier": 1,
                "resident": "r-301",
            },
        ],
    }


def parse(data: dict[str, Any]) -> HubConfig:
    return parse_config(data, source="hub.toml", base_dir=Path("/etc/edge-hub"))


def refused(data: dict[str, Any], message: str) -> None:
    """Assert the config is refused with a message that contains message verbatim."""
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse(data)


def changed(section: str, index: int | None = None, **values: Any) -> dict[str, Any]:
    """The small building with some keys of one table set (None deletes the key)."""
    data = copy.deepcopy(building())
    table = data.setdefault(section, {}) if index is None else data[section][index]
    for key, value in values.items():
        if value is None:
            table.pop(key, None)
        else:
            table[key] = value
    return data


def write(folder: Path, text: str, name: str = "hub.toml", mode: int = 0o644) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)
    return path


HUB_TOML = """
[hub]
id = "hub-3"
community = "幸福里社区"
building = "幸福里小区 3号楼"
address = "幸福里路 18 号"
{hub_extra}

[[residents]]
id = "r-301"
name = "王秀英"
room = "301"

[[watches]]
mac = "A4:C1:38:00:00:01"
resident = "r-301"
{watch_extra}
"""


def hub_file(folder: Path, hub_extra: str = "", watch_extra: str = "") -> Path:
    return write(folder, HUB_TOML.format(hub_extra=hub_extra, watch_extra=watch_extra))


# --- the shipped files ---------------------------------------------------------------


def test_example_config_loads() -> None:
    config = load_config(CONFIG_DIR / "hub.example.toml")
    assert config.hub.id == "hub-3"
    assert config.hub.database == Path("/var/lib/edge-hub/hub.db")
    assert config.insecure_watches == ()
    assert all(watch.key is not None for watch in config.roster.watches)


def test_example_insecure_button_loads_when_uncommented(tmp_path: Path) -> None:
    text = (CONFIG_DIR / "hub.example.toml").read_text(encoding="utf-8")
    block = re.search(r"^# \[\[watches\]\]\n(?:# .*\n)+", text, re.MULTILINE)
    assert block, "hub.example.toml has no commented-out insecure button"
    uncommented = re.sub(r"^# ", "", block.group(0), flags=re.MULTILINE)
    config = load_config(write(tmp_path, text.replace(block.group(0), uncommented)))
    assert [watch.label for watch in config.insecure_watches] == ["bedside pull cord"]


def test_example_documents_every_key() -> None:
    text = (CONFIG_DIR / "hub.example.toml").read_text(encoding="utf-8")
    sections = (HubSection, RadioSection, AlertSection, ResidentEntry, WatchEntry, ContactEntry)
    for section in sections:
        for item in fields(section):
            shown = re.search(rf"^#?\s*{item.name}\b", text, re.MULTILINE)
            assert shown, f"{section.__name__}.{item.name} is not shown in hub.example.toml"


def test_demo_building_has_a_watch_for_every_resident() -> None:
    config = load_config(CONFIG_DIR / "demo.toml")
    residents = config.roster.residents
    assert len(residents) >= 12
    worn = {watch.resident_id for watch in config.roster.watches}
    assert {resident.id for resident in residents} <= worn
    keys = [watch.key for watch in config.roster.watches]
    assert None not in keys and len(set(keys)) == len(keys)
    assert config.hub.community == "幸福里社区" and config.hub.building == "幸福里小区 3号楼"
    assert config.hub.database == CONFIG_DIR / "demo.db"
    assert (config.alerts.cancel_window_s, config.alerts.repeat_window_s) == (5.0, 5.0)


def test_demo_has_every_kind_of_responder() -> None:
    contacts = load_config(CONFIG_DIR / "demo.toml").roster.contacts
    desk = [c for c in contacts if c.role is Role.DUTY_DESK]
    assert desk and desk[0].tier == 1 and desk[0].resident_id is None
    assert any(c.role is Role.GRID_WORKER and c.tier == 1 for c in contacts)
    assert any(c.role is Role.NEIGHBOUR and c.tier == 2 for c in contacts)
    assert any(c.role is Role.FAMILY and c.always_sms for c in contacts)


def test_demo_residents_without_address_get_the_building_address() -> None:
    config = load_config(CONFIG_DIR / "demo.toml")
    defaulted = [r for r in config.roster.residents if r.address == f"{config.hub.address} {r.room}"]
    assert len(defaulted) >= 2


# --- values and defaults -------------------------------------------------------------


def test_small_building_parses_into_the_roster() -> None:
    config = parse(building())
    assert config.path == Path("/etc/edge-hub/hub.toml")
    assert config.radio == RadioSection() and config.alerts == AlertSection()
    assert config.roster.residents[0].address == "幸福里路 18 号 301"
    assert config.roster.residents[1].address == "幸福里路 18 号 2单元 302"
    assert config.roster.watches[0].key == bytes.fromhex(KEY_A)
    assert config.roster.contacts[0].resident_id is None
    assert config.roster.contacts[1].role is Role.FAMILY


def test_integer_is_accepted_for_a_number_of_seconds() -> None:
    config = parse(changed("alerts", cancel_window_s=0, repeat_window_s=5))
    assert config.alerts.cancel_window_s == 0.0 and isinstance(config.alerts.cancel_window_s, float)


def test_macs_are_normalised() -> None:
    data = changed("watches", 0, mac="a4-c1-38-00-00-0a")
    assert parse(data).roster.watches[0].mac == "A4:C1:38:00:00:0A"


def test_phone_spaces_and_dashes_are_stripped() -> None:
    config = parse(changed("contacts", 0, phone="+86 138-0013-8001"))
    assert config.roster.contacts[0].phone == "+8613800138001"


def test_insecure_button_without_key_is_accepted_and_listed() -> None:
    config = parse(changed("watches", 1, key=None, insecure=True, label="pull cord"))
    assert [watch.mac for watch in config.insecure_watches] == [MAC_B]
    assert config.insecure_watches[0].key is None


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    write(folder, f'[keys]\n"{MAC_A}" = "{KEY_A}"\n', name="keys.toml", mode=0o600)
    path = hub_file(folder, hub_extra='database = "data/hub.db"\nkeys_file = "keys.toml"')
    config = load_config(path)
    assert config.hub.database == folder / "data" / "hub.db"
    assert config.hub.keys_file == folder / "keys.toml"
    assert config.path == path


def test_the_community_id_is_a_topic_level_and_the_name_stays_data() -> None:
    named = parse(building())  # "幸福里社区": not usable as a topic level
    derived = community_id_of(named.hub)
    assert re.fullmatch(r"c-[0-9a-f]{12}", derived)
    assert community_id_of(parse(building()).hub) == derived, "the same on every hub of the name"
    assert community_id_of(parse(changed("hub", community="heping")).hub) == "heping"
    chosen = parse(changed("hub", community_id="xingfuli"))
    assert (community_id_of(chosen.hub), chosen.hub.community) == ("xingfuli", "幸福里社区")
    for bad in ("幸福里", "xing/fuli", "xingfuli\n", "+", ""):
        with pytest.raises(ConfigError, match=re.escape("hub.community_id: expected an id")):
            parse(changed("hub", community_id=bad))


def test_absolute_database_path_is_kept(tmp_path: Path) -> None:
    data = changed("hub", database="/srv/hub.db")
    assert parse_config(data, source="hub.toml", base_dir=tmp_path).hub.database == Path("/srv/hub.db")


# --- every rule: the message names the key path and the expected form ----------------


MISTAKES = [
    # unknown keys, with the allowed ones named
    (building() | {"resident": []},
     ("resident: unknown key (did you mean residents?); "
      "expected one of hub, radio, alerts, residents, watches, contacts")),
    (changed("radio", adaptor="hci1"),
     ("radio.adaptor: unknown key (did you mean adapter?); "
      "expected one of adapter, scanning, watchdog_s, backoff_max_s")),
    (changed("watches", 1, colour="red"),
     "watches[1].colour: unknown key; expected one of mac, resident, key, insecure, label"),
    # wrong TOML types, saying what was given
    (changed("radio", watchdog_s="120"),
     "radio.watchdog_s: expected a number of seconds greater than 0, got a string ('120')"),
    (changed("contacts", 0, tier=True),
     "contacts[0].tier: expected an integer from 1 to 99, got a boolean (true)"),
    (changed("alerts", cancel_window_s=False),
     "alerts.cancel_window_s: expected a number of seconds of at least 0, got a boolean (false)"),
    (changed("contacts", 0, tier=1.5),
     "contacts[0].tier: expected an integer from 1 to 99, got a number (1.5)"),
    (changed("hub", id=3),
     ('hub.id: expected an id of letters, digits, ".", "_" or "-" (at most 64 characters), '
      "got an integer (3)")),
    (changed("residents", 0, room=301),
     "residents[0].room: expected a non-empty string without control characters, got an integer (301)"),
    (changed("watches", 0, insecure="yes"),
     "watches[0].insecure: expected true or false, got a string ('yes')"),
    (changed("hub", keys_file=5),
     "hub.keys_file: expected a file path (a non-empty string), got an integer (5)"),
    (changed("radio", watchdog_s=float("inf")),
     "radio.watchdog_s: expected a number of seconds greater than 0, got a number (inf)"),
    (building() | {"radio": "hci0"},
     "radio: expected a table, got a string ('hci0')"),
    (building() | {"watches": {"mac": MAC_A, "resident": "r-301", "key": KEY_A}},
     "watches: expected an array of tables (write each entry as [[watches]]), got a table"),
    # missing required values
    ({key: value for key, value in building().items() if key != "hub"},
     ("hub: missing required value (the building and this hub: id, community, building, address); "
      "expected a table")),
    (changed("hub", id=None),
     ("hub.id: missing required value (this hub's id in the community, like \"hub-3\"); "
      "expected an id of letters")),
    (changed("hub", address=None),
     "hub.address: missing required value (the building's street address); expected a non-empty string"),
    (changed("residents", 0, name=None),
     "residents[0].name: missing required value (the resident's name); expected a non-empty string"),
    (changed("watches", 1, resident=None),
     "watches[1].resident: missing required value (id of the resident who wears it); expected an id"),
    (changed("contacts", 1, phone=None),
     "contacts[1].phone: missing required value (the number SMS alerts go to); expected a phone number"),
    (changed("contacts", 0, role=None),
     ("contacts[0].role: missing required value (who the contact is to the resident); "
      "expected one of grid_worker, neighbour, duty_desk, family")),
    # blank or malformed text
    (changed("residents", 0, name="  "),
     "residents[0].name: expected a non-empty string without control characters, got '  '"),
    (changed("contacts", 0, name="王\u202e主任"),
     "contacts[0].name: expected a non-empty string without control characters, got "),
    (changed("residents", 0, name="王秀英\n"),
     "residents[0].name: expected a non-empty string without control characters, got "),
    (changed("contacts", 0, tier=2**63),
     "contacts[0].tier: expected an integer from 1 to 99, got 9223372036854775808"),
    (changed("residents", 0, id="r 301"),
     ('residents[0].id: expected an id of letters, digits, ".", "_" or "-" (at most 64 characters), '
      "got 'r 301'")),
    (changed("hub", database=""),
     "hub.database: expected a file path (a non-empty string), got ''"),
    # out-of-range numbers
    (changed("radio", watchdog_s=0),
     "radio.watchdog_s: expected a number of seconds greater than 0, got 0.0"),
    (changed("radio", backoff_max_s=-1),
     "radio.backoff_max_s: expected a number of seconds greater than 0, got -1.0"),
    (changed("alerts", cancel_window_s=-1),
     "alerts.cancel_window_s: expected a number of seconds of at least 0, got -1.0"),
    (changed("alerts", repeat_window_s=-0.5),
     "alerts.repeat_window_s: expected a number of seconds of at least 0, got -0.5"),
    (changed("alerts", fix_stale_after_s=0),
     "alerts.fix_stale_after_s: expected a number of seconds greater than 0, got 0.0"),
    (changed("contacts", 1, tier=0),
     "contacts[1].tier: expected an integer from 1 to 99, got 0"),
    # enums, listing the allowed values
    (changed("radio", scanning="aggressive"),
     "radio.scanning: expected one of passive, active, got 'aggressive'"),
    (changed("hub", log_level="verbose"),
     "hub.log_level: expected one of DEBUG, INFO, WARNING, ERROR, got 'verbose'"),
    (changed("contacts", 0, role="nurse"),
     "contacts[0].role: expected one of grid_worker, neighbour, duty_desk, family, got 'nurse'"),
    # MACs and keys
    (changed("watches", 0, mac="A4:C1:38"),
     "watches[0].mac: expected a MAC address like A4:C1:38:12:34:56, got 'A4:C1:38'"),
    (changed("watches", 0, key="xyz"),
     "watches[0].key: expected 32 hex digits (a 128-bit AES key), got 3 characters"),
    (changed("watches", 0, key=None),
     (f'watches[0] ({MAC_A}): no key; add key = "<32 hex>" or put it in the keys file, '
      "or set insecure = true for a plaintext-only button")),
    (changed("watches", 0, insecure=True),
     (f"watches[0].insecure: insecure = true but {MAC_A} has a key; "
      "expected either a key (encrypted watch) or insecure = true (plaintext-only button), not both")),
    # duplicates (MACs compared after normalising) and references
    (changed("watches", 1, mac="a4c138000001"),
     f"watches[1].mac: '{MAC_A}' is already used by watches[0]; expected each mac only once"),
    (changed("residents", 1, id="r-301"),
     "residents[1].id: 'r-301' is already used by residents[0]; expected each id only once"),
    (changed("contacts", 1, id="desk"),
     "contacts[1].id: 'desk' is already used by contacts[0]; expected each id only once"),
    (changed("watches", 1, resident="r-999"),
     "watches[1].resident: no resident with id 'r-999'; expected the id of a [[residents]] entry"),
    (changed("contacts", 1, resident="r-999"),
     "contacts[1].resident: no resident with id 'r-999'; expected the id of a [[residents]] entry"),
    # phones: "+" optional, then 3-20 digits once spaces and dashes are gone
    *[
        (changed("contacts", 0, phone=phone),
         'contacts[0].phone: expected a phone number: optional "+" then 3-20 digits, like +8613800138001')
        for phone in ("12", "+86 138 0013 8001 0000 0000", "138-abc-0000", "+", "++8613800138001")
    ],
    (changed("residents", 0, phone="n/a"),
     "residents[0].phone: expected a phone number: optional \"+\" then 3-20 digits"),
]


@pytest.mark.parametrize(("data", "expected"), MISTAKES)
def test_mistake_names_the_key_and_the_expected_form(data: dict[str, Any], expected: str) -> None:
    refused(data, f"hub.toml: {expected}")


def test_bad_key_is_not_echoed() -> None:
    almost = KEY_A[:-1]
    with pytest.raises(ConfigError) as caught:
        parse(changed("watches", 0, key=almost))
    assert almost not in str(caught.value)
    assert "watches[0].key: expected 32 hex digits" in str(caught.value)


# --- files: syntax, missing, keys file -----------------------------------------------


def load_refused(path: Path, message: str) -> None:
    """Assert loading path is refused with a message that contains message verbatim."""
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(path)


def keys_file(folder: Path, entries: dict[str, str], mode: int = 0o600, table: str = "keys") -> Path:
    lines = [f"[{table}]", *(f'"{mac}" = "{key}"' for mac, key in entries.items())]
    return write(folder, "\n".join(lines) + "\n", name="keys.toml", mode=mode)


def hub_with_keys_file(folder: Path, watch_extra: str = "") -> Path:
    return hub_file(folder, hub_extra='keys_file = "keys.toml"', watch_extra=watch_extra)


def test_missing_config_file_says_to_copy_the_example(tmp_path: Path) -> None:
    path = tmp_path / "hub.toml"
    load_refused(path, f"config file {path} not found; copy config/hub.example.toml to {path}")


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[hub]\nid = "hub-3"\ncommunity = \n')
    with pytest.raises(ConfigError, match=re.escape(f"{path}: invalid TOML: ") + r".*line 3.*expected TOML"):
        load_config(path)


def test_config_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "hub.toml"
    path.write_bytes('[hub]\nid = "幸福"\n'.encode("gbk"))
    load_refused(path, f"{path}: not UTF-8 text; expected the file saved as UTF-8")


def test_errors_in_a_file_name_the_file(tmp_path: Path) -> None:
    path = hub_file(tmp_path, watch_extra="key = 42")
    load_refused(path, f"{path}: watches[0].key: expected 32 hex digits (a 128-bit AES key), got an integer")


def test_private_keys_file_is_accepted(tmp_path: Path) -> None:
    keys_file(tmp_path, {"a4:c1:38:00:00:01": KEY_A.upper()}, mode=0o600)
    config = load_config(hub_with_keys_file(tmp_path))
    assert config.roster.watches[0].key == bytes.fromhex(KEY_A)


def test_keys_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    keys = keys_file(tmp_path, {MAC_A: KEY_A}, mode=0o644)
    with pytest.raises(ConfigError) as caught:
        load_config(hub_with_keys_file(tmp_path))
    expected = f"keys file {keys} can be read by other users (mode 0644); run: chmod 600 {keys}"
    assert str(caught.value) == expected


def test_keys_file_writable_by_group_is_refused(tmp_path: Path) -> None:
    keys = keys_file(tmp_path, {MAC_A: KEY_A}, mode=0o620)
    expected = f"keys file {keys} can be changed by other users (mode 0620); run: chmod 600 {keys}"
    load_refused(hub_with_keys_file(tmp_path), expected)


def test_missing_keys_file(tmp_path: Path) -> None:
    load_refused(hub_with_keys_file(tmp_path), f"keys file {tmp_path / 'keys.toml'} not found; create it")


def test_key_in_keys_file_for_an_unknown_watch(tmp_path: Path) -> None:
    keys = keys_file(tmp_path, {MAC_A: KEY_A, MAC_B: KEY_B})
    path = hub_with_keys_file(tmp_path)
    expected = f'{keys}: keys."{MAC_B}": no watch with this MAC in {path}; expected only MACs of [[watches]]'
    load_refused(path, expected)


def test_key_both_inline_and_in_keys_file(tmp_path: Path) -> None:
    keys = keys_file(tmp_path, {MAC_A: KEY_A})
    path = hub_with_keys_file(tmp_path, watch_extra=f'key = "{KEY_B}"')
    expected = f"{path}: watches[0].key: {MAC_A} also has a key in keys file {keys}; expected the key in one"
    load_refused(path, expected)


def test_bad_key_in_keys_file(tmp_path: Path) -> None:
    keys = keys_file(tmp_path, {MAC_A: "nope"})
    expected = f'{keys}: keys."{MAC_A}": expected 32 hex digits (a 128-bit AES key), got 4 characters'
    load_refused(hub_with_keys_file(tmp_path), expected)


@pytest.mark.parametrize(("key", "shape"), [
    ("z" + KEY_A[1:], "one of them not a hex digit (0-9, a-f): the one at position 1"),
    (KEY_A[:30] + "xy", "2 of them not hex digits (0-9, a-f), the first at position 31"),
])
def test_a_key_of_the_right_length_that_is_not_hex_says_so(tmp_path: Path, key: str,
                                                            shape: str) -> None:
    keys = keys_file(tmp_path, {MAC_A: key})
    expected = (f'{keys}: keys."{MAC_A}": expected 32 hex digits (a 128-bit AES key), got 32 '
                f"characters, {shape} (value not shown: it may be a secret)")
    load_refused(hub_with_keys_file(tmp_path), expected)
    load_refused(hub_file(tmp_path, watch_extra=f'key = "{key}"'), shape)


def test_bad_mac_in_keys_file(tmp_path: Path) -> None:
    keys = keys_file(tmp_path, {"watch-1": KEY_A})
    expected = f"{keys}: keys.watch-1: expected a MAC address like A4:C1:38:12:34:56, got 'watch-1'"
    load_refused(hub_with_keys_file(tmp_path), expected)


def test_same_mac_twice_in_keys_file(tmp_path: Path) -> None:
    keys = keys_file(tmp_path, {MAC_A: KEY_A, MAC_A.lower(): KEY_A})
    expected = f'{keys}: keys."{MAC_A.lower()}": {MAC_A} is listed twice; expected each watch once'
    load_refused(hub_with_keys_file(tmp_path), expected)


def test_keys_file_with_other_tables(tmp_path: Path) -> None:
    keys = keys_file(tmp_path, {MAC_A: KEY_A}, table="key")
    load_refused(hub_with_keys_file(tmp_path), f"{keys}: key: unknown key; expected only a [keys] table")


# --- the error type ----------------------------------------------------------------


def test_config_error_is_a_value_error_and_a_hub_error() -> None:
    with pytest.raises(ValueError):
        parse(changed("radio", scanning="loud"))
    assert issubclass(ConfigError, HubError)


def test_example_config_mentions_every_key() -> None:
    from dataclasses import fields

    from edge.config.loader import (
        AlertSection,
        ContactEntry,
        HubSection,
        RadioSection,
        ResidentEntry,
        SensorEntry,
        WatchEntry,
    )
    from edge.config.messaging import (
        CallsSection,
        ModemSection,
        SmsSection,
        TemplatesSection,
    )
    from edge.config.panel import PanelSection, PullCordEntry
    from edge.config.supervision import SupervisionSection
    from edge.config.uplink import UplinkSection
    from edge.config.welfare import WelfareResident, WelfareSection

    text = (Path(__file__).resolve().parents[1] / "config" / "hub.example.toml").read_text(
        encoding="utf-8")
    sections = (HubSection, RadioSection, AlertSection, SmsSection, TemplatesSection,
                ModemSection, UplinkSection, SupervisionSection, PanelSection, PullCordEntry,
                ResidentEntry, WatchEntry, ContactEntry, CallsSection, SensorEntry,
                WelfareSection, WelfareResident)
    missing = [f"{cls.__name__}.{f.name}" for cls in sections for f in fields(cls)
               if f.name not in text]
    assert missing == []


@pytest.mark.parametrize("bad", ["+8613800138001\n", "138 0013 8001\n", "+86\n13800138001"])
def test_a_phone_number_with_a_line_break_is_refused(bad: str, tmp_path: Path) -> None:
    """In hub.toml, in a roster the server pushes and in the server's roster file."""
    from cloud_sync.contract.roster_file import PHONE, parse_roster
    from cloud_sync.server.roster import load_roster_file

    with pytest.raises(ValueError):
        PHONE.apply(bad)
    refused(changed("contacts", 0, phone=bad), "contacts[0].phone: expected")
    pushed = {"residents": building()["residents"], "watches": building()["watches"],
              "contacts": [{**building()["contacts"][0], "phone": bad}]}
    with pytest.raises(ConfigError, match=re.escape("contacts[0].phone: expected")):
        parse_roster(pushed, source="roster command", default_address="幸福里路 18 号")
    file = tmp_path / "roster.toml"
    file.write_text(f"""community = "xingfuli"\nversion = "1"\n
[[residents]]\nid = "r-301"\nname = "王秀英"\nroom = "301"\n
[[contacts]]\nid = "desk"\nname = "值班室"\nphone = {json.dumps(bad)}\nrole = "duty_desk"\ntier = 1\n
""", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape("contacts[0].phone: expected")):
        load_roster_file(file)


@pytest.mark.parametrize("url, ok", [
    ("https://server.example/eldercare", True), ("http://127.0.0.1:8080", True),
    ("http://localhost/x", True), ("http://server.example/eldercare", False),
    ("ftp://server.example", False),
])
def test_the_https_fallback_sends_the_hubs_login_only_encrypted(url: str, ok: bool) -> None:
    data = {**building(), "uplink": {"broker": "mqtts://server.example:8883", "http_url": url,
                                     "username": "xingfuli/b3", "password": "s" * 43}}
    if ok:
        config = parse(data)
        assert config.uplink is not None and config.uplink.http_url == url.rstrip("/")
    else:
        refused(data, "uplink.http_url")


def test_ring_calls_are_set_per_contact_and_night_hours_are_checked() -> None:
    from edge.domain import CallWhen

    data = building()
    data["contacts"][0]["call"] = "night"
    data["calls"] = {"ring_s": 25, "night": "21:30-6:00"}
    config = parse_config(data, source="hub.toml", base_dir=Path("."))
    assert [c.call for c in config.roster.contacts] == [CallWhen.NIGHT, CallWhen.NEVER]
    assert (config.calls.ring_s, config.calls.night) == (25, "21:30-06:00")
    for key, value, expected in (("night", "22-7", "22:00-07:00"),
                                 ("night", "07:00-07:00", "22:00-07:00"),
                                 ("night", "25:00-07:00", "22:00-07:00"),
                                 ("ring_s", 0, "from 5 to 120"),
                                 ("ring_s", 4.5, "from 5 to 120"),
                                 ("ring_s", 121, "from 5 to 120"),
                                 ("ring_s", 600, "from 5 to 120")):
        with pytest.raises(ConfigError, match=rf"calls\.{key}: expected .*{expected}"):
            parse_config({**building(), "calls": {key: value}}, source="hub.toml",
                         base_dir=Path("."))
    data = building()
    data["contacts"][1]["call"] = "sometimes"
    with pytest.raises(ConfigError, match=r"contacts\[1\]\.call: expected one of never, "
                                          r"night, always, got 'sometimes'"):
        parse_config(data, source="hub.toml", base_dir=Path("."))
