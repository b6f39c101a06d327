"""The uplink's other paths: HTTPS fallback, roster pushed by the server, robust callbacks."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import replace

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from cloud_sync.contract.roster_file import parse_roster
from cloud_sync.contract.wire import Topics
from cloud_sync.server.receiver import Receiver
from cloud_sync.server.roster import CommunityRoster
from cloud_sync.uplink.mqtt import MqttSettings, PahoUplink
from edge.config.uplink import UplinkSection
from edge.domain import AlertState
from edge.uplink.service import Gathered, LoopBridge, settings_of
from tests.building import key_for, mac_for
from tests.mqtt_broker import free_port
from tests.sms_building import run_scenario, until
from tests.uplink_building import UplinkBuilding


def test_https_fallback_delivers_events_and_fetches_commands(tmp_path, broker) -> None:
    http_port = free_port()
    receiver = Receiver(broker.url, f"sqlite:///{tmp_path}/receiver.db",
                        http=("127.0.0.1", http_port))
    receiver.start()
    secret = receiver.access.add_hub("xingfuli", "hub-3", now=time.time())  # as add-hub does
    building = UplinkBuilding(tmp_path, broker, http_url=f"http://127.0.0.1:{http_port}",
                              http_after_s=5, http_poll_s=0.1, username="xingfuli/hub-3",
                              password=secret)

    async def scenario(b: UplinkBuilding) -> None:
        await b.connected()
        b.relay.cut(block=True)  # the site blocks MQTT from now on
        await b.connected(False)
        b.air.press(mac_for(0))
        await b.advance(11)  # SOS goes out by SMS: HTTPS is not a confirmed uplink
        await b.advance(6)   # MQTT down for longer than http_after_s
        app = b.hub_app
        await until(lambda: app.store.outbox_depth() == 0, timeout=10)
        ref = app.store.alerts()[0].ref
        assert receiver.acknowledge(ref, "李娜")  # queued for the hub on HTTPS
        await until(lambda: app.store.alerts()[0].state is AlertState.ACKNOWLEDGED, timeout=10)
        assert app.uplink is not None and app.uplink.http is not None
        assert app.uplink.http.active and app.uplink.http.posted >= 2  # raised, active
        await b.settle()

    try:
        run_scenario(building, scenario)
    finally:
        receiver.stop()
    assert "+8613800138000" in building.inbox()  # the duty desk was texted meanwhile


def test_roster_pushed_by_the_server_lets_the_hub_hear_a_new_watch(tmp_path, broker) -> None:
    roster_data = {"version": "2026-11-21.1",
                   "residents": [{"id": "r1", "name": "王秀英", "room": "101"},
                                 {"id": "r9", "name": "赵桂芳", "room": "909"}],
                   "watches": [{"mac": mac_for(0), "resident": "r1", "key": key_for(0).hex()},
                               {"mac": mac_for(8), "resident": "r9", "key": key_for(8).hex()}],
                   "contacts": [{"id": "desk", "name": "值班室", "phone": "+8613800138000",
                                 "role": "duty_desk", "tier": 1}]}
    roster = parse_roster(roster_data, source="test roster", default_address="幸福里")
    receiver = Receiver(broker.url, f"sqlite:///{tmp_path}/receiver.db",
                        rosters=[CommunityRoster("xingfuli", roster, "2026-11-21.1", "test")])
    receiver.start()
    building = UplinkBuilding(tmp_path, broker)
    building.air.add_watch(mac_for(8), key_for(8))  # a resident of another building

    async def scenario(b: UplinkBuilding) -> None:
        await b.connected()
        app = b.hub_app
        await until(lambda: app.store.meta("roster_version") == "r1-2026-11-21.1", timeout=10)
        b.air.press(mac_for(8))
        await until(lambda: any(a.resident_id == "r9" for a in app.store.alerts()))
        await b.restart()  # the pushed roster stays in charge after a restart
        assert {w.mac for w in b.hub_app.hub.gate.watches()} == {mac_for(0), mac_for(8)}

    try:
        run_scenario(building, scenario)
    finally:
        receiver.stop()


def test_an_exception_in_our_callback_never_stops_paho(tmp_path, broker, caplog) -> None:
    topics = Topics.of("eldercare/v1/", "c", "hub-x")
    seen: list[bytes] = []

    def explode(payload: bytes) -> None:
        seen.append(payload)
        raise RuntimeError("bug in a handler")

    uplink = PahoUplink(MqttSettings("127.0.0.1", broker.port, "hub-x"), topics, b"",
                        on_connected=lambda up, why: None, on_published=lambda *a: None,
                        on_command=explode)
    uplink.start()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        deadline = time.monotonic() + 5
        while not uplink.client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # let the subscription settle
        for n in range(3):
            client.publish(topics.cmd, json.dumps({"n": n}), qos=1).wait_for_publish(2)
        deadline = time.monotonic() + 5
        while len(seen) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(seen) == 3 and uplink.client.is_connected()
        assert "An uplink callback failed" in caplog.text
    finally:
        client.loop_stop()
        uplink.stop()


def test_an_urgent_publish_returns_once_paho_wrote_it_to_the_socket(broker) -> None:
    """An alert is on the wire when publish returns: the caller held the interpreter's lock
    and would otherwise keep paho's thread waiting while its loop goes on with other
    frames. Without urgent, the message is only queued for that thread."""
    topics = Topics.of("eldercare/v1/", "c", "hub-x")
    uplink = PahoUplink(MqttSettings("127.0.0.1", broker.port, "hub-x"), topics, b"",
                        on_connected=lambda up, why: None, on_published=lambda *a: None,
                        on_command=lambda payload: None)
    uplink.start()
    try:
        deadline = time.monotonic() + 5
        while not uplink.client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.02)
        left = []
        for n in range(20):
            uplink.publish(topics.events, b"x" * 2000, urgent=True)
            left.append(uplink.client.want_write())  # queued bytes paho has not written
        assert left == [False] * 20
    finally:
        uplink.stop()


def test_settings_take_tls_and_credentials_from_config(tmp_path) -> None:
    section = UplinkSection(broker="mqtts://hub:secret@broker.example:8884",
                            ca_file=tmp_path / "ca.pem", cert_file=tmp_path / "hub.pem",
                            key_file=tmp_path / "hub.key", window=80)
    settings = settings_of(section, "hub-3", "xingfuli")
    assert (settings.host, settings.port, settings.tls) == ("broker.example", 8884, True)
    assert (settings.username, settings.password) == ("hub", "secret")
    assert settings.ca_file == str(tmp_path / "ca.pem") and settings.window == 80
    plain = settings_of(replace(section, broker="mqtt://b", ca_file=None, username="u",
                                password="p"), "hub-3", "xingfuli")
    assert (plain.port, plain.tls, plain.username, plain.client_id) == (
        1883, False, "u", "xingfuli:hub-3")  # hub-3 of another community is another client
    other = settings_of(replace(section, broker="mqtt://b"), "hub-3", "heping")
    assert other.client_id != plain.client_id


def test_pubacks_handed_from_another_thread_all_arrive_once_and_in_order() -> None:
    async def scenario() -> list[list[int]]:
        got: list[list[int]] = []
        gathered = Gathered(LoopBridge(asyncio.get_running_loop()), got.append)
        paho_thread = threading.Thread(target=lambda: [gathered.add(n) for n in range(2000)])
        paho_thread.start()
        await asyncio.to_thread(paho_thread.join)
        await until(lambda: sum(map(len, got)) >= 2000, timeout=5)
        await asyncio.sleep(0.05)  # nothing more may come
        return got

    got = asyncio.run(scenario())
    assert [n for items in got for n in items] == list(range(2000))
    assert len(got) < 2000  # many per turn of the loop, not one each


def test_pubacks_without_a_running_loop_are_dropped_and_later_ones_still_arrive() -> None:
    bridge = LoopBridge()
    got: list[list[int]] = []
    gathered = Gathered(bridge, got.append)
    gathered.add(1)
    gathered.add(2)  # no loop: dropped, as the bridge drops any call

    async def later() -> None:
        bridge.loop = asyncio.get_running_loop()
        gathered.add(3)
        await until(lambda: bool(got), timeout=2)

    asyncio.run(later())
    assert got == [[3]]


def sessions_of_two_hubs(broker, client_ids: dict[str, str]) -> dict[str, int]:
    """Two hubs called hub-3, of the communities in `client_ids`, each with that MQTT client
    id, on one broker for 4 s: how often each connected."""
    connects = dict.fromkeys(client_ids, 0)
    uplinks = []
    for community, client_id in client_ids.items():
        def connected(up: bool, why: str, community: str = community) -> None:
            connects[community] += up
        settings = replace(settings_of(UplinkSection(broker=broker.url), "hub-3", community),
                           client_id=client_id)
        uplinks.append(PahoUplink(settings, Topics.of("eldercare/v1/", community, "hub-3"), b"",
                                  on_connected=connected, on_published=lambda *a: None,
                                  on_command=lambda payload: None))
    for uplink in uplinks:
        uplink.start()
    try:
        time.sleep(4)
    finally:
        for uplink in uplinks:
            uplink.stop()
    return connects


def test_two_hubs_with_one_id_in_two_communities_keep_their_own_sessions(broker) -> None:
    ids = {c: settings_of(UplinkSection(broker=broker.url), "hub-3", c).client_id
           for c in ("xingfuli", "heping")}
    assert sessions_of_two_hubs(broker, ids) == {"xingfuli": 1, "heping": 1}
    # the same client id (the hub id alone, as before): the broker hands the session over
    taken = sessions_of_two_hubs(broker, {"xingfuli": "hub-3", "heping": "hub-3"})
    assert max(taken.values()) > 1, taken
