"""A community's roster names its buildings: each resident lives in one (the hub that serves
it), a contact may serve one building's residents, and a resident's address follows their
building's. Every hub of the community keeps the whole roster (a resident may press while
visiting a neighbour's building), yet texts each building's own people."""

from __future__ import annotations

import time
import tomllib
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cloud_sync.contract.errors import ConfigError
from cloud_sync.contract.roster_file import parse_roster, unreached
from cloud_sync.contract.schema import Place, build
from cloud_sync.server.receiver import Receiver
from cloud_sync.server.roster import roster_fields
from edge.clock import FakeClock
from edge.config.loader import parse_config
from edge.config.supervision import SupervisionSection
from edge.config.welfare import WelfareSection
from edge.domain import AlertState, Sensor, SensorKind
from edge.sms.texts import SmsStore
from edge.storage.store import Store
from edge.supervision.checks import Supervisor
from edge.supervision.jobs import Jobs
from edge.supervision.welfare import WelfareChecks
from tests.building import SimBuilding, Timing, key_for, mac_for
from tests.sms_building import DESK, GRID, NEIGHBOUR, run_scenario, until
from tests.test_console_admin import Desk, base_of
from tests.test_receiver_helpers import COMMUNITY, HubClient
from tests.uplink_building import UplinkBuilding

BUILDINGS = [{"id": "hub-3", "name": "3号楼", "address": "幸福里路 18 号 3号楼"},
             {"id": "hub-9", "name": "9号楼", "address": "幸福里路 20 号 9号楼"}]


def community_roster(**changes: Any) -> dict[str, Any]:
    """Two buildings, a resident in each (r1 in 3号楼, r2 in 9号楼), a duty desk for everyone
    and a grid worker for each building."""
    tables: dict[str, Any] = {
        "buildings": BUILDINGS,
        "residents": [{"id": "r1", "name": "王秀英", "room": "101", "building": "hub-3"},
                      {"id": "r2", "name": "李桂兰", "room": "902", "building": "hub-9"}],
        "watches": [{"mac": mac_for(0), "resident": "r1", "key": key_for(0).hex()},
                    {"mac": mac_for(1), "resident": "r2", "key": key_for(1).hex()}],
        "contacts": [
            {"id": "desk", "name": "值班室", "phone": DESK, "role": "duty_desk", "tier": 1},
            {"id": "grid3", "name": "李娜", "phone": GRID, "role": "grid_worker", "tier": 1,
             "building": "hub-3"},
            {"id": "grid9", "name": "赵大爷", "phone": NEIGHBOUR, "role": "grid_worker",
             "tier": 1, "building": "hub-9"}],
    }
    return {**tables, **changes}


def test_a_residents_address_follows_their_building_and_goes_out_as_written() -> None:
    roster = parse_roster(community_roster(), source="roster", default_address="")
    homes = {resident.id: resident.address for resident in roster.residents}
    assert homes == {"r1": "幸福里路 18 号 3号楼 101", "r2": "幸福里路 20 号 9号楼 902"}
    fields = roster_fields(roster, "r1")
    assert "address" not in fields["residents"][1], "the address follows the building's"
    assert fields["buildings"] == BUILDINGS and fields["residents"][1]["building"] == "hub-9"
    assert fields["contacts"][2]["building"] == "hub-9"
    hub_side = parse_roster(fields, source="roster command", default_address="hub's own")
    assert hub_side.residents == roster.residents, "the hub reads back the very same roster"


@pytest.mark.parametrize("changes, field, expected", [
    ({"residents": [{"id": "r1", "name": "王秀英", "room": "101", "building": "hub-7"}]},
     "residents[0].building", "no building with id 'hub-7'"),
    ({"contacts": [{"id": "c", "name": "王强", "phone": GRID, "role": "family", "tier": 2,
                    "resident": "r1", "building": "hub-3"}]},
     "contacts[0].building", "expected resident or building, not both"),
    ({"buildings": [*BUILDINGS, BUILDINGS[0]]}, "buildings[2].id", "already used"),
    ({"buildings": [{"id": "hub-3", "name": "3号楼"}]}, "buildings[0].address", "missing"),
])
def test_a_roster_with_a_wrong_building_is_refused_naming_the_field(
        changes: dict[str, Any], field: str, expected: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_roster(community_roster(**changes), source="roster", default_address="")
    assert field in str(refused.value) and expected in str(refused.value), str(refused.value)


def test_each_resident_is_served_by_their_own_buildings_people(tmp_path: Path) -> None:
    roster = parse_roster(community_roster(residents=[
        {"id": "r1", "name": "王秀英", "room": "101", "building": "hub-3"},
        {"id": "r2", "name": "李桂兰", "room": "902", "building": "hub-9"},
        {"id": "r3", "name": "张建国", "room": "103"}]), source="roster", default_address="")
    store = Store.open(tmp_path / "hub.db")
    try:
        store.set_home_building("hub-3")
        store.apply_roster(roster)
        served = {resident: [c.id for c in store.contacts_for(resident)]
                  for resident in ("r1", "r2", "r3", "")}
    finally:
        store.close()
    assert served == {"r1": ["desk", "grid3"], "r2": ["desk", "grid9"],
                      "r3": ["desk", "grid3"],  # no building named: this hub's
                      "": ["desk", "grid3"]}  # the hub's own faults: its building's people


def test_the_console_places_residents_in_buildings_and_the_hub_texts_each_buildings_people(
        tmp_path: Path, broker: Any) -> None:
    server = Receiver(broker.url, f"sqlite:///{tmp_path / 'server.db'}",
                      http=("127.0.0.1", 0), reconnect_max_s=1)
    server.start()
    try:
        password = server.people.add("zhou", "周站长", "admin", COMMUNITY, now=time.time())
        admin = Desk(base_of(server), "zhou", password)
        tables = community_roster()
        for kind in ("buildings", "residents", "contacts", "watches"):
            for entry in tables[kind]:
                body: dict[str, Any] = {"entry": {k: v for k, v in entry.items() if k != "key"}}
                if kind == "watches":
                    body.update(key="set", key_hex=entry["key"])
                answer = admin.call("POST", f"/api/roster/{kind}", body)
                assert answer.ok, answer.text
        shown = admin.call("GET", "/api/roster").json()
        assert shown["buildings"] == BUILDINGS and shown["residents"][1]["building"] == "hub-9"

        async def scenario(b: UplinkBuilding) -> None:
            await b.connected()
            store = b.hub_app.store
            await until(lambda: store.meta("roster_source") == "server", timeout=10)
            for index, resident in ((1, "r2"), (0, "r1")):
                b.air.press(mac_for(index))
                await until(lambda: store.open_alert_for(resident) is not None, timeout=10)
                await b.advance(11)  # past the cancel window ...
                await b.advance(61)  # ... and the minute the server's receipt holds texts
                await b.settle()
                alert = store.open_alert_for(resident)
                assert alert is not None and alert.state is AlertState.ACTIVE
            inbox = b.inbox()
            assert [text for text in inbox[NEIGHBOUR] if "李桂兰" in text], inbox
            assert "幸福里路20号9号楼902" in inbox[NEIGHBOUR][0], "her building's address"
            assert not [text for text in inbox[NEIGHBOUR] if "王秀英" in text], \
                "9号楼's worker is not texted for 3号楼's resident"
            assert not [text for text in inbox[GRID] if "李桂兰" in text], \
                "this building's worker is not texted for a resident of 9号楼"
            assert [text for text in inbox[GRID] if "王秀英" in text]
            assert len(inbox[DESK]) >= 2, "the desk serves the whole community"
            board = admin.call("GET", "/api/board").json()
            assert {(alert["resident"]["name"], alert["building"]) for alert in board} == {
                ("李桂兰", "9号楼"), ("王秀英", "3号楼")}, "the board names where each lives"

        run_scenario(UplinkBuilding(tmp_path, broker), scenario)
    finally:
        server.stop()


def test_hub_toml_names_no_buildings_so_a_residents_building_there_is_refused() -> None:
    data = tomllib.loads(Path("config/hub.example.toml").read_text(encoding="utf-8"))
    data["residents"][0]["building"] = "hub-9"
    with pytest.raises(ConfigError, match=r"residents\[0\]\.building: building 'hub-9', but "
                       r"the roster lists no \[\[buildings\]\].*leave building out there"):
        parse_config(data, source="hub.toml", base_dir=Path("config"))


GRID3 = {"id": "grid3", "name": "李娜", "phone": GRID, "role": "grid_worker", "tier": 1,
         "building": "hub-3"}
SON = {"id": "son", "name": "王强", "phone": NEIGHBOUR, "role": "family", "tier": 2,
       "resident": "r1"}


@pytest.mark.parametrize("contacts, expected", [
    ([GRID3, SON], "contacts[0] (grid3) serves building 'hub-3', but no contact serves "
                   "everyone"),
    ([SON], "residents[1] (r2): no contact serves them"),
    ([SON, {**SON, "id": "daughter", "resident": "r2"}], None),  # each has their own
    (None, None),  # the desk serves everyone, everywhere
])
def test_a_roster_that_would_leave_an_alert_or_a_fault_with_nobody_is_named(
        contacts: list[dict[str, Any]] | None, expected: str | None) -> None:
    tables = community_roster() if contacts is None else community_roster(contacts=contacts)
    found = unreached(parse_roster(tables, source="roster", default_address=""))
    assert (found if expected is None else found and found[:len(expected)]) == expected, found


def test_such_a_roster_is_saved_but_not_sent_and_a_hub_refuses_it(
        tmp_path: Path, broker: Any) -> None:
    server = Receiver(broker.url, f"sqlite:///{tmp_path / 'server.db'}",
                      http=("127.0.0.1", 0))
    server.start()
    hub = HubClient(broker.port, "hub-9")
    try:
        password = server.people.add("zhou", "周站长", "admin", COMMUNITY, now=time.time())
        admin = Desk(base_of(server), "zhou", password)
        hub.send_status("online")
        tables = community_roster()
        for kind in ("buildings", "residents", "contacts", "watches"):
            for entry in tables[kind]:
                if entry.get("id") in ("desk", "grid9"):
                    continue  # no desk: 9号楼 and its resident would be left with nobody
                body: dict[str, Any] = {"entry": {k: v for k, v in entry.items() if k != "key"}}
                if kind == "watches":
                    body.update(key="set", key_hex=entry["key"])
                answer = admin.call("POST", f"/api/roster/{kind}", body)
        assert answer.ok and answer.json()["hubs_told"] == 0
        assert answer.json()["not_sent"].startswith("contacts[0] (grid3) serves building 'hub-3', "
                                                    "but no contact serves everyone")
        time.sleep(0.3)
        assert hub.of_type("roster") == [], "a roster a hub would refuse is not sent"
        answer = admin.call("POST", "/api/roster/contacts", {"entry": tables["contacts"][0]})
        assert answer.json()["hubs_told"] == 1 and "not_sent" not in answer.json()
        assert hub.wait_for("roster")[0]["version"] == answer.json()["version"]
    finally:
        hub.close()
        server.stop()


def test_a_roster_file_that_leaves_a_resident_with_nobody_stops_the_server(
        tmp_path: Path) -> None:
    from cloud_sync.server.roster import load_roster_file

    path = tmp_path / "xingfuli.toml"
    path.write_text('community = "xingfuli"\n[[buildings]]\nid = "hub-9"\nname = "9号楼"\n'
                    'address = "幸福里路 20 号"\n[[residents]]\nid = "r2"\nname = "李桂兰"\n'
                    'room = "902"\nbuilding = "hub-9"\n[[contacts]]\nid = "son"\nname = "王强"\n'
                    'phone = "+8613800138003"\nrole = "family"\ntier = 1\nresident = "r9"\n',
                    encoding="utf-8")
    with pytest.raises(ConfigError, match="no resident with id 'r9'"):
        load_roster_file(path)
    path.write_text(path.read_text(encoding="utf-8").replace('resident = "r9"', 'building = "hub-9"'),
                    encoding="utf-8")
    with pytest.raises(ConfigError, match=r"xingfuli.toml: contacts\[0\] \(son\) serves building "
                       "'hub-9', but no contact serves everyone"):
        load_roster_file(path)


def test_a_hub_judges_silence_and_welfare_only_for_its_own_buildings_residents(
        tmp_path: Path) -> None:
    """Every hub keeps the whole roster, but only a resident's own building's hub hears her
    watch and sensors day to day: another building's hub must not report them silent, nor
    raise welfare checks for a flat it cannot hear."""
    r1_motion, r2_motion = "B0:C7:DE:00:03:01", "B0:C7:DE:00:09:01"
    roster = replace(
        parse_roster(community_roster(), source="roster", default_address=""),
        sensors=(Sensor(r1_motion, "r1", SensorKind.MOTION, "客厅", key_for(30)),
                 Sensor(r2_motion, "r2", SensorKind.MOTION, "客厅", key_for(31))))
    clock = FakeClock(datetime(2026, 12, 7, 0, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp())
    home = SimBuilding(tmp_path / "hub.db", roster, clock, Timing())
    home.store.set_home_building("hub-3")
    assert home.store.served_here() == {"r1"}
    supervisor = Supervisor(home.store, SmsStore(home.store), clock, SupervisionSection(
        watch_silent_after_s=3600.0, sensor_silent_after_s=3600.0),
        uplink_connected=lambda: True, modem_check=lambda: None, mains_present=lambda: True)
    jobs = Jobs(clock)
    supervisor.register(jobs)
    section = build(WelfareSection, {"up_by": "10:00"}, Place("test.toml", "welfare"), tmp_path)
    welfare = WelfareChecks(home.hub, section, "Asia/Shanghai")
    welfare.check()  # watched from Monday 00:00
    for _ in range(12 * 6):  # to noon, nothing heard from either flat
        clock.advance(600)
        jobs.run_pending()
        welfare.check()
    silent = {e.body["watch"] for e in home.store.pending_events(10_000)
              if e.type == "watch.silent"}
    assert silent == {mac_for(0), r1_motion}  # hub-9's watch and sensor: not ours to judge
    checks = [(a.resident_id, a.kind) for a in home.store.alerts()]
    assert checks == [("r1", "welfare")]  # r1 not up by 10:00; nothing for r2
    assert supervisor.summary()["watches"] == 2  # r1's watch and sensor, as `silent` counts


def test_a_visitors_double_press_is_a_call_for_help_not_her_check_in(tmp_path: Path) -> None:
    roster = parse_roster(community_roster(), source="roster", default_address="")
    clock = FakeClock(datetime(2026, 12, 7, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp())
    home = SimBuilding(tmp_path / "hub.db", roster, clock, Timing(cancel_window_s=0.0))
    home.store.set_home_building("hub-3")
    section = build(WelfareSection, {"check_in_by": "12:00"}, Place("test.toml", "welfare"),
                    tmp_path)
    welfare = WelfareChecks(home.hub, section, "Asia/Shanghai")
    home.hub.checks_in = welfare.takes_check_in
    home.air.press(mac_for(1), "double_press")  # r2, of hub-9's building, visiting
    home.air.press(mac_for(0), "double_press")  # r1 at home: her check-in
    assert [(a.resident_id, a.kind) for a in home.store.alerts()] == [("r2", "sos")]
    assert home.store.activity_facts("r1").last_check_in == clock.now()


def test_a_watch_said_silent_before_is_handed_to_its_own_buildings_hub_quietly(
        tmp_path: Path) -> None:
    roster = parse_roster(community_roster(), source="roster", default_address="")
    clock = FakeClock()
    home = SimBuilding(tmp_path / "hub.db", roster, clock, Timing())
    supervisor = Supervisor(home.store, SmsStore(home.store), clock, SupervisionSection(
        watch_silent_after_s=3600.0), uplink_connected=lambda: True,
        modem_check=lambda: None, mains_present=lambda: True)
    jobs = Jobs(clock)
    supervisor.register(jobs)
    for _ in range(8):  # an older hub: no building of its own yet, so it judged everyone
        clock.advance(600)
        jobs.run_pending()
    home.store.set_home_building("hub-3")  # the upgraded hub knows its building
    clock.advance(600)
    jobs.run_pending()
    events = [(e.type, e.body["watch"], e.body.get("handed_over")) for e in
              home.store.pending_events(10_000) if e.type.startswith("watch.")]
    assert events == [("watch.silent", mac_for(0), None), ("watch.silent", mac_for(1), None),
                      ("watch.restored", mac_for(1), True)]  # the server's fault closes
    texts = [text for _, _, kind, _, text in SmsStore(home.store).outgoing() if kind == "notice"]
    assert len(texts) == 2 and not any("恢复" in text for text in texts)  # nobody texted
