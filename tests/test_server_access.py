"""The server is locked to the hubs and programs it serves: `edge-hub server add-hub`,
`api-token` and `broker-config`, and a real Mosquitto run with the files broker-config
writes, where a hub may publish only as itself and read only its own commands."""

from __future__ import annotations

import json
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from cloud_sync.server.access import Access
from cloud_sync.server.credentials import mosquitto_hash
from cloud_sync.server.duty import Duty
from cloud_sync.server.receiver import Receiver
from cloud_sync.server.schema import SCHEMA_VERSION
from cloud_sync.server.store import open_store
from cloud_sync.server.wire import parse_batch
from cloud_sync.uplink.local_broker import LocalMosquitto
from edge.tools.cli import main
from tests.test_receiver_helpers import COMMUNITY, alert_event, batch, until

ROOT = "eldercare/v1/"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def secret_in(printed: str) -> str:
    """The secret add-hub or broker-config prints on a line of its own."""
    return next(line.strip() for line in printed.splitlines()
                if len(line.strip()) == 43 and " " not in line.strip())


def test_add_hub_prints_a_login_that_works_and_replaces_the_old_one(tmp_path: Path, capsys) -> None:
    db = f"sqlite:///{tmp_path / 'server.db'}"
    code, out, _ = run(["server", "add-hub", "b3", "--community", "xingfuli", "--db", db], capsys)
    assert code == 0 and 'username = "xingfuli/b3"' in out and 'community_id = "xingfuli"' in out
    first = secret_in(out)
    assert f'password = "{first}"' in out
    code, out, _ = run(["receiver", "add-hub", "b3", "--community", "xingfuli", "--db", db], capsys)
    second = secret_in(out)
    store = open_store(db)
    try:
        access = Access(store.db)
        assert access.hub_login("xingfuli/b3", second) is not None
        assert access.hub_login("xingfuli/b3", first) is None, "the old secret still works"
        assert access.hub_login("xingfuli/b4", second) is None
        assert access.hub_login("b3", second) is None
    finally:
        store.close()


@pytest.mark.parametrize("argv, says", [
    (["server", "add-hub", "b/3", "--community", "xingfuli"], "hub 'b/3': expected an id"),
    (["server", "add-hub", "b3", "--community", "幸福里"], "community '幸福里': expected an id"),
    (["server", "add-hub", "b3"], "usage: edge-hub server add-hub HUB_ID --community"),
    (["server", "api-token", "--community", "xingfuli"], "--name WHO"),
    (["server", "broker-config"], "--out DIR"),
])
def test_bad_arguments_are_refused_with_the_reason(tmp_path: Path, capsys, argv: list[str],
                                                  says: str) -> None:
    code, out, err = run([*argv, "--db", f"sqlite:///{tmp_path / 'server.db'}"], capsys)
    assert code == 1 and says in err and out == ""


def test_api_token_names_its_community(tmp_path: Path, capsys) -> None:
    db = f"sqlite:///{tmp_path / 'server.db'}"
    code, out, _ = run(["server", "api-token", "--community", "xingfuli", "--name", "desk screen",
                        "--db", db], capsys)
    store = open_store(db)
    try:
        caller = Access(store.db).api_caller(secret_in(out))
    finally:
        store.close()
    assert code == 0 and caller is not None and (caller.name, caller.community) == (
        "desk screen", "xingfuli")


def test_mosquitto_hashes_are_the_form_mosquitto_passwd_writes() -> None:
    # A line `mosquitto_passwd -b` wrote for the password "s3cret", checked with its salt.
    written = ("$7$101$aPVL8BGXU0gzOjYU$js8owkCZRJGxDcPHMQvkx0dmTpDwJVIQpW7bygPdQkE2oYU9ulG3"
               "AxWfbCz8xhHYswDW05QHtNyt1KJLh093wg==")
    salt = __import__("base64").b64decode("aPVL8BGXU0gzOjYU")
    assert mosquitto_hash("s3cret", salt) == written


# -- the broker, with the files broker-config writes ------------------------------


class Client:
    """A paho MQTT v5 client that records what it is told."""

    def __init__(self, port: int, username: str | None, password: str | None,
                 client_id: str | None = None) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=client_id or uuid.uuid4().hex, protocol=mqtt.MQTTv5)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.connected = threading.Event()
        self.refused: ReasonCode | None = None
        self.got: list[tuple[str, bytes]] = []
        self.granted: list[list[ReasonCode]] = []
        self.acks: dict[int, ReasonCode] = {}
        self.dropped = 0
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = lambda c, u, m: self.got.append((m.topic, bytes(m.payload)))
        self.client.on_subscribe = lambda c, u, mid, reasons, p: self.granted.append(reasons)
        self.client.on_publish = self._on_publish
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode,
                    properties: Properties | None) -> None:
        if reason.is_failure:
            self.refused = reason
        else:
            self.connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode,
                       properties: Properties | None) -> None:
        self.connected.clear()
        self.dropped += 1

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode,
                    properties: Properties | None) -> None:
        self.acks[mid] = reason

    def publish(self, topic: str, payload: dict[str, Any]) -> bool:
        """True when the broker took the message; False when it refused it (PUBACK "not
        authorised", or it dropped the connection)."""
        assert self.connected.wait(5)
        dropped = self.dropped
        info = self.client.publish(topic, json.dumps(payload).encode(), qos=1)
        until(lambda: info.mid in self.acks or self.dropped > dropped, timeout=5)
        return info.mid in self.acks and not self.acks[info.mid].is_failure

    def subscribe(self, topic: str) -> bool:
        """True when the broker granted the subscription; False when it refused it (SUBACK
        "not authorised", or, as Mosquitto 2.0 does, it dropped the connection)."""
        assert self.connected.wait(5)
        count, dropped = len(self.granted), self.dropped
        self.client.subscribe(topic, qos=1)
        until(lambda: len(self.granted) > count or self.dropped > dropped, timeout=5)
        return len(self.granted) > count and not self.granted[-1][0].is_failure

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def locked_broker(tmp_path: Path, capsys) -> Iterator[tuple[LocalMosquitto, dict[str, str]]]:
    db = f"sqlite:///{tmp_path / 'server.db'}"
    secrets = {}
    for hub in ("hub-a", "hub-b"):
        code, out, _ = run(["server", "add-hub", hub, "--community", COMMUNITY, "--db", db], capsys)
        secrets[hub] = secret_in(out)
    code, out, _ = run(["server", "broker-config", "--out", str(tmp_path / "broker"), "--db", db],
                       capsys)
    assert code == 0 and "allow_anonymous false" in out
    secrets["server"] = secret_in(out)
    secrets["db"] = db
    broker = LocalMosquitto(tmp_path, password_file=tmp_path / "broker" / "passwd",
                            acl_file=tmp_path / "broker" / "acl").start()
    yield broker, secrets
    broker.stop()


def test_broker_config_writes_private_files_each_hub_its_own_topics(locked_broker) -> None:
    broker, secrets = locked_broker
    folder = broker.folder / "broker"
    for name in ("passwd", "acl"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
    users = [line.split(":", 1)[0] for line in (folder / "passwd").read_text().splitlines()]
    assert users == ["edge-hub-server", "xingfuli/hub-a", "xingfuli/hub-b"]
    acl = (folder / "acl").read_text()
    assert "user xingfuli/hub-a\ntopic write eldercare/v1/xingfuli/hub-a/events\n" in acl


def test_a_hub_publishes_only_as_itself_and_reads_only_its_own_commands(locked_broker) -> None:
    broker, secrets = locked_broker
    server = Client(broker.port, "edge-hub-server", secrets["server"])
    hub_a = Client(broker.port, "xingfuli/hub-a", secrets["hub-a"])
    try:
        assert server.connected.wait(5) and hub_a.connected.wait(5)
        assert server.subscribe(f"$share/receivers/{ROOT}+/+/events")
        # hub A's login misused: refused (Mosquitto may also drop the connection)
        assert not hub_a.publish(f"{ROOT}{COMMUNITY}/hub-b/events", {"n": 2})
        assert not hub_a.publish(f"{ROOT}{COMMUNITY}/hub-b/cmd", {"type": "alert_ack"})
        assert hub_a.subscribe(f"{ROOT}{COMMUNITY}/hub-a/cmd")
        hub_a.subscribe(f"{ROOT}{COMMUNITY}/hub-b/cmd")  # Mosquitto may grant it: reads are
        hub_a.subscribe(f"{ROOT}+/+/cmd")  # checked message by message
        assert server.publish(f"{ROOT}{COMMUNITY}/hub-b/cmd", {"type": "alert_ack", "for": "b"})
        assert server.publish(f"{ROOT}{COMMUNITY}/hub-a/cmd", {"type": "ping", "for": "a"})
        assert hub_a.publish(f"{ROOT}{COMMUNITY}/hub-a/events", {"n": 1})
        until(lambda: hub_a.got and server.got, timeout=5)
        time.sleep(0.5)
        assert [topic for topic, _ in server.got] == [f"{ROOT}{COMMUNITY}/hub-a/events"]
        assert {json.loads(body)["for"] for _, body in hub_a.got} == {"a"}  # never b's
    finally:
        for client in (server, hub_a):
            client.close()


@pytest.mark.parametrize("username, password", [(None, None), ("xingfuli/hub-a", "wrong"),
                                                ("xingfuli/hub-c", "anything")])
def test_the_broker_refuses_clients_it_does_not_know(locked_broker, username: str | None,
                                                     password: str | None) -> None:
    broker, _ = locked_broker
    stranger = Client(broker.port, username, password)
    try:
        until(lambda: stranger.refused is not None, timeout=5)
        assert not stranger.connected.is_set()
    finally:
        stranger.close()


def test_the_server_behind_the_locked_broker_stores_only_what_hubs_may_send(locked_broker) -> None:
    broker, secrets = locked_broker
    url = f"mqtt://edge-hub-server:{secrets['server']}@127.0.0.1:{broker.port}"
    receiver = Receiver(url, secrets["db"])
    receiver.start()
    hub_a = Client(broker.port, "xingfuli/hub-a", secrets["hub-a"])
    try:
        assert receiver.wait_subscribed(5) and hub_a.connected.wait(5)
        assert not hub_a.publish(f"{ROOT}{COMMUNITY}/hub-b/events",
                                 batch([alert_event(1, "u-b")], hub="hub-b"))
        assert hub_a.subscribe(f"{ROOT}{COMMUNITY}/hub-a/cmd")
        assert hub_a.publish(f"{ROOT}{COMMUNITY}/hub-a/events",
                             batch([alert_event(1, "u-a")], hub="hub-a"))
        until(lambda: receiver.store.event_seqs(COMMUNITY, "hub-a") == [1], timeout=10)
        until(lambda: any(json.loads(body).get("type") == "alert_received"
                          for _, body in hub_a.got), timeout=10)  # the server could answer
        assert receiver.store.event_seqs(COMMUNITY, "hub-b") == []
    finally:
        hub_a.close()
        receiver.stop()


def test_a_version_3_database_gains_claims_and_keeps_its_alerts(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'server.db'}"
    store = open_store(db)
    try:
        store.store_batch(parse_batch(json.dumps(batch([alert_event(1, "u-1")])).encode()),
                          via="http", now=time.time())
        with store.db.transaction(write=True) as tx:  # as version 3 left it
            for column in ("claimed_by", "claimed_at", "claim_until", "claim_lapsed_at",
                           "lapse_told_at"):
                tx.run(f"ALTER TABLE alerts DROP COLUMN {column}")
            for table in ("rosters", "roster_watches", "roster_log"):
                tx.run(f"DROP TABLE {table}")
            tx.run("UPDATE receiver_schema SET version = 3")
    finally:
        store.close()
    store = open_store(db)
    try:
        (alert,) = store.alerts()
        assert alert["claimed_by"] is None and alert["resident"]["name"] == "张桂兰"
        store.record_claim(alert["id"], "王主任", now=time.time(), until=time.time() + 60)
        assert store.alerts()[0]["claimed_by"] == "王主任"
        with store.db.transaction(write=False) as tx:
            assert tx.rows("SELECT version FROM receiver_schema") == [(SCHEMA_VERSION,)]
            assert tx.rows("SELECT COUNT(*) FROM rosters") == [(0,)]
    finally:
        store.close()


def test_a_claim_open_in_a_version_4_database_runs_out_and_stays_in_the_timeline(
        tmp_path: Path) -> None:
    db, now = f"sqlite:///{tmp_path / 'server.db'}", time.time()
    store = open_store(db)
    try:
        store.store_batch(parse_batch(json.dumps(batch([alert_event(1, "u-1")])).encode()),
                          via="http", now=now)
        (alert,) = store.alerts()
        with store.db.transaction(write=True) as tx:  # claimed under version 4: no end
            tx.run("UPDATE alerts SET claimed_by = '王主任', claimed_at = ?", [now - 1300])
            for column in ("claim_until", "claim_lapsed_at", "lapse_told_at"):
                tx.run(f"ALTER TABLE alerts DROP COLUMN {column}")
            tx.run("DROP TABLE alert_steps")
            tx.run("UPDATE receiver_schema SET version = 4")
    finally:
        store.close()
    store = open_store(db)
    try:
        (lapsed,) = Duty(store.db).turn_lapsed(now)  # 1,300 s on, past the default 1,200 s
        assert lapsed.alert == alert["id"]
        steps = [(step["what"], step["who"]) for step in store.timeline(alert["id"])
                 if step["what"].startswith("claim")]
        assert steps == [("claimed", "王主任"), ("claim_lapsed", "王主任")]
    finally:
        store.close()


def test_a_hub_cannot_take_over_another_hubs_session(locked_broker) -> None:
    broker, secrets = locked_broker
    hub_a = Client(broker.port, "xingfuli/hub-a", secrets["hub-a"], client_id="xingfuli:hub-a")
    try:
        assert hub_a.connected.wait(5)
        thief = Client(broker.port, "xingfuli/hub-b", secrets["hub-b"], client_id="xingfuli:hub-a")
        try:
            assert thief.connected.wait(5)
            time.sleep(0.5)
            assert hub_a.dropped == 0 and hub_a.connected.is_set()  # the broker names each by login
        finally:
            thief.close()
    finally:
        hub_a.close()


def test_wrong_passwords_count_per_account_and_place_and_strangers_write_nothing(tmp_path) -> None:
    from cloud_sync.server.people import LoginRefused, People

    store = open_store(f"sqlite:///{tmp_path / 'server.db'}")
    try:
        people, now = People(store.db), time.time()
        password = people.add("wang", "王主任", "desk", COMMUNITY, now=now)
        for _ in range(5):
            with pytest.raises(LoginRefused, match="wrong username or password"):
                people.log_in("wang", "guess", now=now, client="203.0.113.9")
        with pytest.raises(LoginRefused, match="too many wrong passwords"):
            people.log_in("wang", password, now=now, client="203.0.113.9")
        people.log_in("wang", password, now=now, client="10.0.0.5")  # the desk still gets in
        for name in ("nobody", "x" * 300):
            with pytest.raises(LoginRefused, match="wrong username or password"):
                people.log_in(name, "guess", now=now, client="203.0.113.9")
        with store.db.transaction(write=False) as tx:
            assert tx.rows("SELECT DISTINCT username FROM login_failures") == [("wang",)]
    finally:
        store.close()
