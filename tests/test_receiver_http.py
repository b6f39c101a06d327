"""The server's HTTP front: a hub behind a firewall POSTs batches and fetches commands
with its own login; a worker's screen reads the JSON API with a token; nobody else gets
anything."""

from __future__ import annotations

import time
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


def login(receiver: Receiver, hub: str, community: str = COMMUNITY) -> tuple[str, str]:
    """The hub's HTTP Basic login, made as `edge-hub server add-hub` makes it."""
    return f"{community}/{hub}", receiver.access.add_hub(community, hub, now=time.time())


def token(receiver: Receiver, community: str = COMMUNITY) -> dict[str, str]:
    secret = receiver.access.add_api_token("duty desk", community, now=time.time())
    return {"Authorization": f"Bearer {secret}"}


def post(receiver: Receiver, sent: Any, hub: str = "hub-7", **kwargs: Any) -> requests.Response:
    return requests.post(url(receiver, "/ingest"), json=sent, timeout=5,
                         auth=login(receiver, hub), **kwargs)


def get(receiver: Receiver, path: str, hub: str = "hub-7", **params: str) -> Any:
    """GET as the hub (/commands) or with an API token (/api/…); the answer must be 200."""
    if path.startswith("/api/"):
        answer = requests.get(url(receiver, path), params=params, timeout=5,
                              headers=token(receiver))
    else:
        answer = requests.get(url(receiver, path), params=params, timeout=5,
                              auth=login(receiver, hub))
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_posted_batch_is_stored_once_and_answered_with_the_ack(receiver: Receiver) -> None:
    sent = batch([event(1), event(2), event(4)], hub="hub-7")
    for _ in range(2):
        answer = post(receiver, sent)
        assert answer.status_code == 200 and answer.json() == {"ack_seq": 2, "epoch": EPOCH}
    assert receiver.store.event_seqs(COMMUNITY, "hub-7") == [1, 2, 4]


def test_a_reinstalled_hub_on_http_is_answered_in_its_new_epoch(receiver: Receiver) -> None:
    def answer(sent: dict[str, Any]) -> Any:
        return post(receiver, sent).json()

    assert answer(batch([event(seq) for seq in range(1, 6)], hub="hub-7")) == {
        "ack_seq": 5, "epoch": EPOCH}
    assert answer(batch([event(2), event(3)], hub="hub-7", epoch="fresh")) == {
        "ack_seq": 0, "epoch": "fresh"}, "seq 1 of the new outbox is missing; 5 was the old one's"
    assert answer(batch([event(1)], hub="hub-7", epoch="fresh")) == {"ack_seq": 3, "epoch": "fresh"}


@pytest.mark.parametrize("body, reason", [
    (b"{not json", "not JSON"),
    (b'{"v": 1, "hub": "hub-7", "community": "xingfuli", "epoch": "e", "floor": -3, '
     b'"events": []}', "floor is -3"),
    (b'{"v": 2}', "v is 2"),
    (b'{"v": 1, "hub": "hub-7", "community": "xingfuli", "floor": 0, "events": []}',
     "epoch is missing"),
])
def test_a_malformed_post_is_answered_400_with_the_reason(receiver: Receiver, body: bytes,
                                                          reason: str) -> None:
    answer = requests.post(url(receiver, "/ingest"), data=body, timeout=5, auth=login(receiver, "hub-7"),
                           headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and reason in answer.json()["error"]


def test_a_hub_on_http_fetches_its_confirmations_and_the_workers_ack(receiver: Receiver) -> None:
    sent = batch([alert_event(1, "u-7", ref="A00B")], hub="hub-7")
    assert post(receiver, sent).json()["ack_seq"] == 1
    receiver.acknowledge("A00B", "王主任")
    answer = get(receiver, "/commands", hub="hub-7", community=COMMUNITY)
    commands = answer["commands"]
    assert [(c["type"], c["alert"], c["seq"]) for c in commands] == [
        ("alert_received", "u-7", 1), ("alert_ack", "u-7", 2)]
    assert commands[1]["by"] == "王主任" and commands[1]["v"] == 1 and answer["next"] == 2
    assert get(receiver, "/commands", hub="hub-7", community=COMMUNITY, after="2") == {
        "commands": [], "next": 2}
    answer = requests.get(url(receiver, "/commands"), params={"hub": "hub-7"}, timeout=5,
                          auth=login(receiver, "hub-7"))  # the community comes from the login
    assert answer.status_code == 200 and answer.json()["commands"] == []


def test_a_lost_commands_answer_loses_nothing(receiver: Receiver) -> None:
    post(receiver, batch([alert_event(1, "u-7")], hub="hub-7"))
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
    answer = requests.get(url(receiver, "/commands"), timeout=5, auth=login(receiver, "hub-7"),
                          params={"hub": "hub-7", "community": COMMUNITY, "after": after})
    assert answer.status_code == 400 and "after is" in answer.json()["error"]


def test_the_json_api_lists_hubs_alerts_and_watches(broker: Broker, receiver: Receiver) -> None:
    def listed() -> dict[str, Any]:
        return {h["hub"]: h for h in get(receiver, "/api/hubs")}

    with hubs(broker.port, "hub-3") as (hub,):
        hub.send_status("online", queue_depth=12)
        hub.send(batch([event(1, battery=41), alert_event(2, "u-3")]))
        hub.wait_for("alert_received")
        post(receiver, batch([event(1, "hub.test")], hub="hub-7"))
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


@pytest.mark.parametrize("method, path", [("POST", "/ingest"), ("GET", "/commands"),
                                          ("GET", "/api/hubs"), ("GET", "/api/alerts"),
                                          ("GET", "/api/watches")])
def test_every_endpoint_answers_401_without_a_login(receiver: Receiver, method: str,
                                                    path: str) -> None:
    user, secret = login(receiver, "hub-7")
    api = path.startswith("/api/")
    for how in ({}, {"auth": (user, secret + "x")}, {"auth": (user, "")},
                {"auth": ("xingfuli/hub-8", secret)},
                {"headers": {"Authorization": "Bearer " + secret}},
                {"headers": {"Authorization": "Basic !!!"}}):
        if api and "auth" in how:
            continue  # the API takes tokens only
        answer = requests.request(method, url(receiver, path), timeout=5, **how,
                                  json=batch([alert_event(1, "u-7")], hub="hub-7"))
        assert answer.status_code == 401, (how, answer.text)
        assert "WWW-Authenticate" in answer.headers and "not logged in" in answer.json()["error"]
    assert receiver.store.event_seqs(COMMUNITY, "hub-7") == [] and get(receiver, "/api/alerts") == []


def test_a_hub_may_post_and_read_only_as_itself(receiver: Receiver) -> None:
    hub7 = login(receiver, "hub-7")
    forged = batch([alert_event(1, "u-8")], hub="hub-8")
    answer = requests.post(url(receiver, "/ingest"), json=forged, auth=hub7, timeout=5)
    assert answer.status_code == 403 and "only its own events" in answer.json()["error"]
    elsewhere = batch([alert_event(1, "u-7")], hub="hub-7", community="heping")
    assert requests.post(url(receiver, "/ingest"), json=elsewhere, auth=hub7,
                         timeout=5).status_code == 403
    assert receiver.store.event_seqs(COMMUNITY, "hub-8") == [] and get(receiver, "/api/alerts") == []

    assert post(receiver, batch([alert_event(1, "u-8")], hub="hub-8"), hub="hub-8").status_code == 200
    for params in ({"hub": "hub-8"}, {"hub": "hub-8", "community": COMMUNITY},
                   {"community": "heping"}):
        answer = requests.get(url(receiver, "/commands"), params=params, auth=hub7, timeout=5)
        assert answer.status_code == 403 and "only its own commands" in answer.json()["error"]
    assert [c["type"] for c in get(receiver, "/commands", hub="hub-8")["commands"]] == [
        "alert_received"]


def test_a_new_login_ends_the_old_one(receiver: Receiver) -> None:
    old = login(receiver, "hub-7")
    new = login(receiver, "hub-7")
    sent = batch([event(1)], hub="hub-7")
    assert requests.post(url(receiver, "/ingest"), json=sent, auth=old, timeout=5).status_code == 401
    assert requests.post(url(receiver, "/ingest"), json=sent, auth=new, timeout=5).status_code == 200


def test_an_api_token_sees_only_its_community(receiver: Receiver) -> None:
    for community in (COMMUNITY, "heping"):
        user = login(receiver, "hub-1", community)
        sent = batch([alert_event(1, f"u-{community}")], hub="hub-1", community=community)
        assert requests.post(url(receiver, "/ingest"), json=sent, auth=user,
                             timeout=5).status_code == 200
    for community in (COMMUNITY, "heping"):
        seen = token(receiver, community)
        (hub,) = requests.get(url(receiver, "/api/hubs"), headers=seen, timeout=5).json()
        (alert,) = requests.get(url(receiver, "/api/alerts"), headers=seen, timeout=5).json()
        assert hub["community"] == community and [h["community"] for h in alert["hubs"]] == [
            community]
