"""The server's rosters, kept in its database and edited by a community's administrator:
every change is checked whole as a hub would check it, watch keys are kept for the hubs
and never shown again, each watch stays in one community, and a roster file given at
start does not undo the console's changes unless the file itself changed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloud_sync.contract.roster import Resident, Roster, Watch
from cloud_sync.server.errors import BatchError
from cloud_sync.server.roster import CommunityRoster
from cloud_sync.server.roster_book import RosterBook
from cloud_sync.server.store import open_store

MAC = "A4:C1:38:12:34:56"
RESIDENT = {"id": "r-101", "name": "张桂兰", "room": "101", "phone": "+8613900000001"}


@pytest.fixture
def book(tmp_path: Path) -> Iterator[RosterBook]:
    store = open_store(f"sqlite:///{tmp_path / 'server.db'}")
    yield RosterBook(store.db)
    store.close()


def with_watch(book: RosterBook, key: str = "generate") -> str | None:
    book.put("xingfuli", "residents", RESIDENT, by="管理员", now=1.0)
    return book.put("xingfuli", "watches", {"mac": MAC.lower(), "resident": "r-101",
                                            "label": "X3"}, by="管理员", now=2.0, key=key).new_key


def test_a_generated_key_reaches_the_hubs_and_is_never_shown_again(book: RosterBook) -> None:
    key = with_watch(book)
    assert key is not None and len(key) == 32 and int(key, 16) >= 0
    push = book.push_of("xingfuli")
    assert push is not None and push.version == "r2"
    assert push.fields["watches"] == [{"mac": MAC, "resident": "r-101", "key": key,
                                       "label": "X3"}]
    view = book.view("xingfuli")
    assert view["watches"] == [{"mac": MAC, "resident": "r-101", "label": "X3", "key_set": True}]
    assert key not in json.dumps(view)
    book.put("xingfuli", "watches", {"mac": MAC, "resident": "r-101", "label": "X4"}, by="管理员",
             now=3.0)  # an edit that says nothing of the key keeps it
    assert book.push_of("xingfuli").fields["watches"][0]["key"] == key  # type: ignore[union-attr]
    assert [line["what"] for line in book.view("xingfuli")["log"]] == [
        f"changed watch {MAC}", f"added watch {MAC}, key generated", "added resident r-101"]


def test_a_change_a_hub_would_refuse_is_refused_naming_the_field(book: RosterBook) -> None:
    with_watch(book)
    before = book.push_of("xingfuli")
    refusals = [
        (lambda: book.put("xingfuli", "residents", {**RESIDENT, "phone": "call me"}, by="a",
                          now=4.0), "residents[0].phone"),
        (lambda: book.put("xingfuli", "watches", {"mac": MAC, "resident": "r-101"}, by="a",
                          now=4.0, key="set", key_hex="12345"), "32 hex digits"),
        (lambda: book.put("xingfuli", "watches", {"mac": "A4:C1:38:00:00:01", "resident": "r-9"},
                          by="a", now=4.0, key="generate"), "no resident with id 'r-9'"),
        (lambda: book.put("xingfuli", "watches", {"mac": "A4:C1:38:00:00:02",
                                                  "resident": "r-101"}, by="a", now=4.0),
         "no key"),
        (lambda: book.put("xingfuli", "watches", {"mac": MAC, "resident": "r-101",
                                                  "insecure": True}, by="a", now=4.0,
                          key="generate"), "insecure"),
        (lambda: book.remove("xingfuli", "residents", "r-101", by="a", now=4.0),
         "no resident with id 'r-101'"),  # its watch still names it
        (lambda: book.put("xingfuli", "contacts", {"id": "c1", "name": "李娜",
                                                   "phone": "+8613800138001", "role": "boss",
                                                   "tier": 1}, by="a", now=4.0), "role"),
        (lambda: book.put("xingfuli", "people", {"id": "x"}, by="a", now=4.0),
         "unknown roster table"),
        (lambda: book.put("xingfuli", "watches", {"mac": "nope", "resident": "r-101"}, by="a",
                          now=4.0), "MAC address"),
    ]
    for change, named in refusals:
        with pytest.raises(BatchError, match=named.replace("[", r"\[").replace("]", r"\]")):
            change()
    assert book.push_of("xingfuli") == before and book.version_of("xingfuli") == "r2"


def test_a_watch_belongs_to_one_community_only(book: RosterBook) -> None:
    with_watch(book)
    book.put("heping", "residents", {"id": "r-7", "name": "李大爷", "room": "7"}, by="b", now=5.0)
    with pytest.raises(BatchError, match=f"{MAC} is registered to another community"):
        book.put("heping", "watches", {"mac": MAC, "resident": "r-7"}, by="b", now=6.0,
                 key="generate")
    book.remove("xingfuli", "watches", MAC, by="a", now=7.0)
    book.put("heping", "watches", {"mac": MAC, "resident": "r-7"}, by="b", now=8.0,
             key="generate")  # moved: allowed once the first community let it go
    assert [w["mac"] for w in book.view("heping")["watches"]] == [MAC]


def test_a_sensor_belongs_to_one_community_and_is_never_also_a_watch(book: RosterBook) -> None:
    sensor = {"mac": "B0:C7:DE:00:03:01", "resident": "r-101", "kind": "door",
              "place": "卫生间门"}
    with_watch(book)
    book.put("xingfuli", "sensors", sensor, by="a", now=3.0, key="generate")
    book.put("heping", "residents", {"id": "r-7", "name": "李大爷", "room": "7"}, by="b", now=4.0)
    refusals = [
        (lambda: book.put("heping", "sensors", {**sensor, "resident": "r-7"}, by="b", now=5.0,
                          key="generate"),
         "sensors: B0:C7:DE:00:03:01 is registered to another community; expected each sensor"),
        (lambda: book.put("heping", "watches", {"mac": sensor["mac"], "resident": "r-7"},
                          by="b", now=5.0, key="generate"),
         "watches: B0:C7:DE:00:03:01 is registered to another community"),
        (lambda: book.put("heping", "sensors", {**sensor, "mac": MAC, "resident": "r-7"},
                          by="b", now=5.0, key="generate"),
         f"sensors: {MAC} is registered to another community"),  # a watch in xingfuli
        (lambda: book.put("xingfuli", "sensors", {**sensor, "mac": MAC}, by="a", now=5.0,
                          key="generate"),
         f"sensors\\[1\\].mac: {MAC} is also a \\[\\[watches\\]\\] entry"),
    ]
    for change, named in refusals:
        with pytest.raises(BatchError, match=named):
            change()
    assert book.version_of("heping") == "r1" and book.version_of("xingfuli") == "r3"
    book.remove("xingfuli", "sensors", sensor["mac"], by="a", now=6.0)
    book.put("heping", "sensors", {**sensor, "resident": "r-7"}, by="b", now=7.0,
             key="generate")  # moved: allowed once the first community let it go
    assert [s["mac"] for s in book.view("heping")["sensors"]] == [sensor["mac"]]


def test_sensors_saved_before_they_were_registered_are_registered_as_the_server_starts(
        tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'server.db'}"
    store = open_store(db)
    try:
        book = RosterBook(store.db)
        with_watch(book)
        book.put("xingfuli", "sensors", {"mac": "B0:C7:DE:00:03:01", "resident": "r-101",
                                         "kind": "motion", "place": "客厅"}, by="a", now=3.0,
                 key="generate")
        with store.db.transaction(write=True) as tx:  # as version 7 left it: watches only
            tx.run("DELETE FROM roster_watches WHERE mac = 'B0:C7:DE:00:03:01'")
            tx.run("UPDATE receiver_schema SET version = 7")
    finally:
        store.close()
    store = open_store(db)
    try:
        book = RosterBook(store.db)
        book.put("heping", "residents", {"id": "r-7", "name": "李大爷", "room": "7"}, by="b",
                 now=4.0)
        with pytest.raises(BatchError, match="watches: B0:C7:DE:00:03:01 is registered"):
            book.put("heping", "watches", {"mac": "B0:C7:DE:00:03:01", "resident": "r-7"},
                     by="b", now=5.0, key="generate")
    finally:
        store.close()


def test_a_roster_file_loads_once_and_console_changes_stand(book: RosterBook,
                                                            tmp_path: Path) -> None:
    roster = Roster(residents=(Resident("r-1", "王奶奶", "201", " 201"),),
                    watches=(Watch(MAC, "r-1", bytes(range(16))),))
    file = CommunityRoster("xingfuli", roster, "2026-11", str(tmp_path / "xingfuli.toml"))
    assert book.load_file(file, now=1.0) and book.version_of("xingfuli") == "r1-2026-11"
    book.put("xingfuli", "residents", {"id": "r-2", "name": "赵爷爷", "room": "202"}, by="管理员",
             now=2.0)
    assert not book.load_file(file, now=3.0), "the same file again: the console's edit stands"
    assert [r["id"] for r in book.view("xingfuli")["residents"]] == ["r-1", "r-2"]
    changed = CommunityRoster("xingfuli", Roster(residents=roster.residents), "2026-12",
                              file.source)
    loaded = book.load_file(changed, now=4.0)  # someone changed the file: the roster now
    assert loaded is not None and loaded.replaced_edits, "the console's edit is gone: said"
    view = book.view("xingfuli")
    assert [r["id"] for r in view["residents"]] == ["r-1"] and view["watches"] == []
    assert view["version"] == "r3-2026-12" and "as version r3-2026-12" in view["log"][0]["what"]
    assert book.load_file(file, now=5.0) is None, "a server with the older copy undoes nothing"
    assert book.version_of("xingfuli") == "r3-2026-12"


def test_versions_never_repeat_so_a_hub_that_reports_one_has_that_roster(
        book: RosterBook) -> None:
    roster = Roster(residents=(Resident("r-1", "王奶奶", "201", " 201"),))
    book.load_file(CommunityRoster("xingfuli", roster, "r2", "a.toml"), now=1.0)  # a file
    other = RosterBook(book.db)  # another server process on the same database
    first = other.push_of("xingfuli", book.version_of("xingfuli"))
    book.put("xingfuli", "residents", {"id": "r-1", "name": "王奶奶", "room": "202"}, by="管理员",
             now=2.0)  # the console's save: the next revision, whatever the file called its own
    version = book.version_of("xingfuli")
    assert first is not None and version not in (None, first.version)
    second = other.push_of("xingfuli", version)  # the other process's kept copy is not used
    assert second is not None and second.fields["residents"][0]["room"] == "202"


def test_sensors_are_kept_with_their_keys_for_the_hubs_and_pushed(book: RosterBook,
                                                                  tmp_path: Path) -> None:
    from cloud_sync.contract.roster import Contact, Role, Sensor, SensorKind

    sensor = Sensor("B0:C7:DE:00:03:01", "r-1", SensorKind.DOOR, "大门", bytes(range(16)))
    roster = Roster(residents=(Resident("r-1", "王奶奶", "201", " 201"),),
                    watches=(Watch(MAC, "r-1", bytes(16)),),
                    contacts=(Contact("desk", "值班室", "+8613800138000", Role.DUTY_DESK, 1),),
                    sensors=(sensor,))
    book.load_file(CommunityRoster("xingfuli", roster, "s1", str(tmp_path / "x.toml")), now=1.0)
    push = book.push_of("xingfuli")
    assert push is not None and push.fields["sensors"] == [
        {"mac": sensor.mac, "resident": "r-1", "kind": "door", "place": "大门",
         "key": bytes(range(16)).hex()}]
    view = book.view("xingfuli")
    assert view["sensors"] == [{"mac": sensor.mac, "resident": "r-1", "kind": "door",
                                "place": "大门", "key_set": True}]
    added = book.put("xingfuli", "sensors", {"mac": "b0:c7:de:00:03:02", "resident": "r-1",
                                             "kind": "motion", "place": "客厅"}, by="管理员",
                     now=2.0, key="generate")
    assert added.new_key is not None and added.new_key not in json.dumps(book.view("xingfuli"))
    with pytest.raises(BatchError, match="sensors\\[2\\].insecure: unknown key"):
        book.put("xingfuli", "sensors", {"mac": "B0:C7:DE:00:03:03", "resident": "r-1",
                                         "kind": "door", "place": "x", "insecure": True},
                 by="a", now=3.0, key="generate")  # a sensor is always encrypted
    with pytest.raises(BatchError, match="sensors\\[2\\].kind"):
        book.put("xingfuli", "sensors", {"mac": "B0:C7:DE:00:03:03", "resident": "r-1",
                                         "kind": "camera", "place": "x"}, by="a", now=3.0,
                 key="generate")
    book.put("heping", "residents", {"id": "r-7", "name": "李大爷", "room": "7"}, by="b", now=4.0)
    with pytest.raises(BatchError, match=f"sensors: {sensor.mac} is registered to another"):
        book.put("heping", "sensors", {"mac": sensor.mac, "resident": "r-7", "kind": "door",
                                       "place": "大门"}, by="b", now=5.0, key="generate")
