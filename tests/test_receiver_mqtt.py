"""The receiver on a real Mosquitto: hubs (plain paho clients) publish, the receiver answers.

Scenarios: the ack reaches the hub's cmd topic, a resent batch is stored once, each hub
alert is confirmed once, one press heard by two hubs is one alert and a worker's ack
reaches both, the roster greets a hub coming online, two receivers split the load, bad
input is skipped, and a broker restart is survived.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloud_sync.server.receiver import Receiver
from cloud_sync.server.roster import CommunityRoster
from edge.domain import Contact, Resident, Role, Roster, Watch
from tests.mqtt_broker import Broker
from tests.test_receiver_helpers import (
    COMMUNITY,
    EPOCH,
    WATCH,
    HubClient,
    alert_event,
    batch,
    event,
    hubs,
    until,
)


@pytest.fixture
def receiver(broker: Broker, tmp_path: Path) -> Iterator[Receiver]:
    running = Receiver(broker.url, f"sqlite:///{tmp_path / 'receiver.db'}", reconnect_max_s=1)
    running.start()
    yield running
    running.stop()


def test_a_resent_batch_is_stored_once_and_acked_on_the_hubs_cmd_topic(broker: Broker,
                                                                         db_url: str) -> None:
    receiver = Receiver(broker.url, db_url)
    receiver.start()
    try:
        with hubs(broker.port, "hub-3") as (hub,):
            sent = batch([event(1), event(2), event(3)])
            hub.send(sent)
            (ack,) = hub.wait_for("events_ack")
            assert ack["v"] == 1 and ack["seq"] == 3 and isinstance(ack["id"], str)
            assert ack["epoch"] == EPOCH
            hub.send(sent)
            hub.wait_for("events_ack", 2)
            assert receiver.store.event_seqs(COMMUNITY, "hub-3") == [1, 2, 3]
    finally:
        receiver.stop()


def test_a_reinstalled_hub_is_never_told_its_new_events_were_stored(broker: Broker,
                                                                    db_url: str) -> None:
    receiver = Receiver(broker.url, db_url)
    receiver.start()
    try:
        with hubs(broker.port, "hub-3") as (hub,):
            hub.send(batch([event(seq) for seq in range(1, 9)]))
            until(lambda: hub.last_ack() == 8)
            hub.send(batch([event(2), event(3)], epoch="reinstalled"))
            hub.send(batch([event(1)], epoch="reinstalled"))
            until(lambda: hub.last_ack("reinstalled") == 3)
            hub.send(batch([event(9)]))  # a late batch of the old outbox
            until(lambda: hub.last_ack() == 9)
            hub.send(batch([event(4)], epoch="reinstalled"))
            until(lambda: hub.last_ack("reinstalled") == 4)
            assert [a["seq"] for a in hub.of_type("events_ack") if a["epoch"] == "reinstalled"] == [3, 4]
    finally:
        receiver.stop()


def test_gaps_hold_the_ack_back_until_they_are_filled(broker: Broker, receiver: Receiver) -> None:
    with hubs(broker.port, "hub-3") as (hub,):
        hub.send(batch([alert_event(120, "u1"), event(121)], floor=118))
        hub.wait_for("alert_received")
        assert hub.last_ack() == 117, "below the floor is settled; 118 and 119 are missing"
        hub.send(batch([event(118), event(119)], floor=118))
        until(lambda: hub.last_ack() == 121)


def test_each_hub_alert_is_confirmed_once(broker: Broker, receiver: Receiver) -> None:
    with hubs(broker.port, "hub-3") as (hub,):
        raised = batch([alert_event(1, "u1")])
        hub.send(raised)
        hub.send(batch([alert_event(2, "u1", type_="alert.active")]))
        hub.send(raised)
        until(lambda: len(hub.of_type("events_ack")) == 3)
        assert [c["alert"] for c in hub.of_type("alert_received")] == ["u1"]


def test_one_press_heard_by_two_hubs_is_one_alert_and_the_ack_reaches_both(
        broker: Broker, receiver: Receiver) -> None:
    with hubs(broker.port, "hub-3", "hub-4") as (hub3, hub4):
        hub3.send(batch([alert_event(7, "uid-3", ref="A0K3", counter=4711)]))
        hub4.send(batch([alert_event(2, "uid-4", ref="A001", counter=4711)], hub="hub-4"))
        assert hub3.wait_for("alert_received")[0]["alert"] == "uid-3"
        assert hub4.wait_for("alert_received")[0]["alert"] == "uid-4"
        (alert,) = receiver.store.alerts(open_only=True)
        assert sorted(h["hub"] for h in alert["hubs"]) == ["hub-3", "hub-4"]

        assert sorted(receiver.acknowledge(alert["id"], "王主任")) == ["uid-3", "uid-4"]
        assert hub3.wait_for("alert_ack")[0] | {"id": ""} == {
            "v": 1, "id": "", "type": "alert_ack", "alert": "uid-3", "by": "王主任"}
        assert hub4.wait_for("alert_ack")[0]["alert"] == "uid-4"
        assert receiver.store.alerts(open_only=True) == []


def test_a_hub_coming_online_is_sent_its_communitys_roster_only(broker: Broker,
                                                                  tmp_path: Path) -> None:
    grid = Contact("grid", "李娜", "+8613800138001", Role.GRID_WORKER, 1)
    roster = Roster(residents=(Resident("r-101", "张桂兰", "101", " 101"),),
                    watches=(Watch(WATCH, "r-101", bytes(range(16))),), contacts=(grid,))
    other_watch = "A4:C1:38:00:00:77"
    heping = Roster(residents=(Resident("r-7", "李大爷", "7", " 7"),),
                    watches=(Watch(other_watch, "r-7", bytes(16)),), contacts=(grid,))
    unready = Roster(residents=(Resident("r-8", "赵大爷", "8", " 8"),),
                     watches=(Watch("A4:C1:38:00:00:78", "r-8", bytes(16)),))
    receiver = Receiver(broker.url, f"sqlite:///{tmp_path / 'rx.db'}",
                        rosters=[CommunityRoster(COMMUNITY, roster, "2026-11", "test"),
                                 CommunityRoster("heping", heping, "hp-1", "test"),
                                 CommunityRoster("no-contacts", unready, "nc-1", "test")])
    receiver.start()
    elsewhere = HubClient(broker.port, "hub-3", community="heping")  # same hub id, other place
    stranger = HubClient(broker.port, "hub-1", community="no-roster")
    lacking = HubClient(broker.port, "hub-1", community="no-contacts")
    try:
        elsewhere.send_status("online")
        stranger.send_status("online")
        lacking.send_status("online")
        (theirs,) = elsewhere.wait_for("roster")
        assert theirs["version"] == "r1-hp-1"  # the server's revision, then the file's own
        assert [w["mac"] for w in theirs["watches"]] == [other_watch]  # never our keys
        with hubs(broker.port, "hub-3") as (hub,):
            hub.send_status("online", queue_depth=12)
            (sent,) = hub.wait_for("roster")
            assert sent["version"] == "r1-2026-11"
            hub.send_status("online", roster_version="")  # did not take it: sent again
            hub.wait_for("roster", 2)
            assert sent["watches"] == [{"mac": WATCH, "resident": "r-101",
                                        "key": "000102030405060708090a0b0c0d0e0f"}]
            assert sent["contacts"] == [{"id": "grid", "name": "李娜", "phone": "+8613800138001",
                                         "role": "grid_worker", "tier": 1}]
        until(lambda: len(receiver.store.hubs(now=time.time())) == 4)
        assert stranger.of_type("roster") == [], "a community without a roster gets none"
        assert lacking.of_type("roster") == [], "nor one whose roster a hub would refuse"
        assert len(elsewhere.of_type("roster")) == 1
    finally:
        elsewhere.close()
        stranger.close()
        lacking.close()
        receiver.stop()


def test_two_receivers_in_one_group_split_the_load(broker: Broker, db_url: str) -> None:
    pair = [Receiver(broker.url, db_url, client_id=f"rx-{n}") for n in (1, 2)]
    for receiver in pair:
        receiver.start()
    try:
        with hubs(broker.port, "hub-3") as (hub,):
            for start in range(1, 201, 5):
                hub.send(batch([event(seq) for seq in range(start, start + 5)]))
            until(lambda: hub.last_ack() == 200, timeout=15)
        handled = [receiver.service.counts["batches"] for receiver in pair]
        assert sum(handled) == 40 and min(handled) > 0, handled
        assert pair[0].store.event_seqs(COMMUNITY, "hub-3") == list(range(1, 201))
    finally:
        for receiver in pair:
            receiver.stop()


def test_malformed_batches_are_skipped_and_valid_events_kept(broker: Broker,
                                                             receiver: Receiver) -> None:
    with hubs(broker.port, "hub-3") as (hub,):
        hub.send(b"\xff not json")
        hub.send({**batch([event(1)]), "v": 2})
        hub.send({key: value for key, value in batch([event(1)]).items() if key != "epoch"})
        hub.send(batch([event(1), {"event_id": "x", "seq": "two"}, event(2)]))
        until(lambda: hub.last_ack() == 2)
        assert receiver.store.event_seqs(COMMUNITY, "hub-3") == [1, 2]
        assert receiver.service.counts["refused"] == 3


def test_the_receiver_reconnects_after_a_broker_restart(broker: Broker, receiver: Receiver) -> None:
    with hubs(broker.port, "hub-3") as (hub,):
        hub.send(batch([event(1)]))
        until(lambda: hub.last_ack() == 1)
        broker.restart()
        assert receiver.wait_subscribed(10) and hub.wait_ready(10)
        hub.send(batch([event(2)]))
        until(lambda: hub.last_ack() == 2, timeout=10)
