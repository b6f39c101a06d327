"""The receiver's HTTP front: a hub behind a firewall POSTs batches and fetches commands;
a worker's screen reads the JSON API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from cloud_sync.server.receiver import Receiver
from tests.mqtt_broker import Broker
from tests.test_receiver_helpers import (
    COMMUNITY,
    EPOCH,
    alert_event,
    batch,
    event,
    hubs,
    until,
)


@pytest.fixture
def receiver(broker: Broker, tmp_path: Path) -> Iterator[Receiver]:
    running = Receiver(broker.url, f"sqlite:///{tmp_path / 'receiver.db'}", http=("127.0.0.1", 0))
    running.start()
    yield running
    running.stop()


def url(receiver: Receiver, path: str) -> str:
    address = receiver.http_address
    assert address is not None
    return f"http://{address[0]}:{address[1]}{path}"


def get(receiver: Receiver, path: str, **params: str) -> Any:
    answer = requests.get(url(receiver, path), params=params, timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_posted_batch_is_stored_once_and_answered_with_the_ack(receiver: Receiver) -> None:
    sent = batch([event(1), event(2), event(4)], hub="hub-7")
    for _ in range(2):
        answer = requests.post(url(receiver, "/ingest"), json=sent, timeout=5)
        assert answer.status_code == 200 and answer.json() == {"ack_seq": 2, "epoch": EPOCH}
    assert receiver.store.event_seqs(COMMUNITY, "hub-7") == [1, 2, 4]


def test_a_reinstalled_hub_on_http_is_answered_in_its_new_epoch(receiver: Receiver) -> None:
    def post(sent: dict[str, Any]) -> Any:
        return requests.post(url(receiver, "/ingest"), json=sent, timeout=5).json()

    assert post(batch([event(seq) for seq in range(1, 6)], hub="hub-7")) == {
        "ack_seq": 5, "epoch": EPOCH}
    assert post(batch([event(2), event(3)], hub="hub-7", epoch="fresh")) == {
        "ack_seq": 0, "epoch": "fresh"}, "seq 1 of the new outbox is missing; 5 was the old one's"
    assert post(batch([event(1)], hub="hub-7", epoch="fresh")) == {"ack_seq": 3, "epoch": "fresh"}


@pytest.mark.parametrize("body, reason", [
    (b"{not json", "not JSON"),
    (b'{"v": 1, "hub": "hub-7", "community": "c", "epoch": "e", "floor": -3, "events": []}',
     "floor is -3"),
    (b'{"v": 2}', "v is 2"),
    (b'{"v": 1, "hub": "hub-7", "community": "c", "floor": 0, "events": []}', "epoch is missing"),
])
def test_a_malformed_post_is_answered_400_with_the_reason(receiver: Receiver, body: bytes,
                                                          reason: str) -> None:
    answer = requests.post(url(receiver, "/ingest"), data=body, timeout=5,
                           headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and reason in answer.json()["error"]


def test_a_hub_on_http_fetches_its_confirmations_and_the_workers_ack(receiver: Receiver) -> None:
    sent = batch([alert_event(1, "u-7", ref="A00B")], hub="hub-7")
    assert requests.post(url(receiver, "/ingest"), json=sent, timeout=5).json()["ack_seq"] == 1
    receiver.acknowledge("A00B", "王主任")
    answer = get(receiver, "/commands", hub="hub-7", community=COMMUNITY)
    commands = answer["commands"]
    assert [(c["type"], c["alert"], c["seq"]) for c in commands] == [
        ("alert_received", "u-7", 1), ("alert_ack", "u-7", 2)]
    assert commands[1]["by"] == "王主任" and commands[1]["v"] == 1 and answer["next"] == 2
    assert get(receiver, "/commands", hub="hub-7", community=COMMUNITY, after="2") == {
        "commands": [], "next": 2}
    answer = requests.get(url(receiver, "/commands"), params={"hub": "hub-7"}, timeout=5)
    assert answer.status_code == 400 and "community" in answer.json()["error"]


def test_a_lost_commands_answer_loses_nothing(receiver: Receiver) -> None:
    requests.post(url(receiver, "/ingest"), json=batch([alert_event(1, "u-7")], hub="hub-7"),
                  timeout=5)
    first = get(receiver, "/commands", hub="hub-7", community=COMMUNITY)
    assert [c["type"] for c in first["commands"]] == ["alert_received"]
    # The answer never reached the hub: it asks again from the same cursor.
    assert get(receiver, "/commands", hub="hub-7", community=COMMUNITY, after="0") == first
    receiver.acknowledge("u-7", "王主任")
    second = get(receiver, "/commands", hub="hub-7", community=COMMUNITY, after=str(first["next"]))
    assert [(c["type"], c["seq"]) for c in second["commands"]] == [("alert_ack", 2)]
    assert get(receiver, "/commands", hub="hub-7", community=COMMUNITY,
               after=str(second["next"])) == {"commands": [], "next": 2}
    assert get(receiver, "/commands", hub="hub-7", community=COMMUNITY, after="0") == {
        "commands": [], "next": 0}, "applied commands were forgotten"


@pytest.mark.parametrize("after", ["-1", "x", "1.5", "9" * 30])
def test_a_bad_commands_cursor_is_answered_400(receiver: Receiver, after: str) -> None:
    answer = requests.get(url(receiver, "/commands"), timeout=5,
                          params={"hub": "hub-7", "community": COMMUNITY, "after": after})
    assert answer.status_code == 400 and "after is" in answer.json()["error"]


def test_the_json_api_lists_hubs_alerts_and_watches(broker: Broker, receiver: Receiver) -> None:
    def listed() -> dict[str, Any]:
        return {h["hub"]: h for h in get(receiver, "/api/hubs")}

    with hubs(broker.port, "hub-3") as (hub,):
        hub.send_status("online", queue_depth=12)
        hub.send(batch([event(1, battery=41), alert_event(2, "u-3")]))
        hub.wait_for("alert_received")
        requests.post(url(receiver, "/ingest"), json=batch([event(1, "hub.test")], hub="hub-7"),
                      timeout=5)
        hub3 = listed()["hub-3"]
        assert (hub3["state"], hub3["queue_depth"], hub3["acked_seq"]) == ("online", 12, 2)
        assert (hub3["epoch"], hub3["roster_in_use"]) == (EPOCH, "")
        assert hub3["community"] == COMMUNITY and hub3["version"] == "0.1.0"
        assert (listed()["hub-7"]["via"], listed()["hub-7"]["state"]) == ("http", "online")
        hub.send_status("offline")
        until(lambda: listed()["hub-3"]["state"] == "offline")

    (alert,) = get(receiver, "/api/alerts", open="1")
    assert alert["resident"]["name"] == "张桂兰" and [h["hub"] for h in alert["hubs"]] == ["hub-3"]
    receiver.acknowledge(alert["id"], "王主任")
    assert get(receiver, "/api/alerts", open="1") == []
    assert get(receiver, "/api/alerts")[0]["acknowledged_by"] == "王主任"

    (watch,) = get(receiver, "/api/watches")
    assert watch["battery"] == 41 and watch["fix"]["lat"] == 30.27415 and watch["last_hub"] == "hub-3"


def test_unknown_paths_are_404(receiver: Receiver) -> None:
    assert requests.get(url(receiver, "/nope"), timeout=5).status_code == 404
    assert requests.post(url(receiver, "/api/hubs"), json={}, timeout=5).status_code == 404
