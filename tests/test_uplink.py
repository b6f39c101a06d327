"""The hub's uplink end to end: production hub, real Mosquitto, reference receiver, modem."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from cloud_sync.server.receiver import Receiver
from edge.domain import AlertState
from tests.building import mac_for
from tests.mqtt_broker import Broker
from tests.sms_building import DESK, GRID, SON, run_scenario, until
from tests.uplink_building import UplinkBuilding

Scenario = Callable[[UplinkBuilding], Awaitable[None]]


def receiver_for(broker: Broker, folder: Path) -> Receiver:
    receiver = Receiver(broker.url, f"sqlite:///{folder}/receiver.db", reconnect_max_s=1)
    receiver.start()
    return receiver


def play(tmp_path: Path, broker: Broker, scenario: Scenario, **uplink: object) -> UplinkBuilding:
    async def connected_first(b: UplinkBuilding) -> None:
        await b.connected()
        await scenario(b)

    return run_scenario(UplinkBuilding(tmp_path, broker, **uplink), connected_first)


async def drained(b: UplinkBuilding, rounds: int = 30) -> None:
    """Let time pass until the server has acknowledged everything: batches the broker took
    while no receiver was subscribed yet are sent again after resend_after_s."""
    for _ in range(rounds):
        if b.hub_app.store.outbox_depth() == 0:
            return
        await b.advance(31)
        await asyncio.sleep(0.3)
    raise AssertionError("the outbox did not drain")


def stored_seqs(receiver: Receiver) -> list[int]:
    return receiver.store.event_seqs("xingfuli", "hub-3")


def test_confirmed_sos_texts_only_those_who_want_every_alert(tmp_path, broker) -> None:
    receiver = receiver_for(broker, tmp_path)

    async def scenario(b: UplinkBuilding) -> None:
        b.air.press(mac_for(0))
        # The receiver confirms the raised alert, inside the cancel window: remembered.
        await until(lambda: b.hub_app.sms.has_receipt(1))
        await b.advance(11)
        escalation = b.hub_app.sms.escalation(1)
        assert escalation is not None and escalation.mode == "server"
        await b.advance(25)  # well past the 20 s confirmation time
        await b.settle()

    try:
        b = play(tmp_path, broker, scenario)
    finally:
        receiver.stop()
    assert set(b.inbox()) == {SON}  # always_sms: he gets every alert; nobody else


def test_unconfirmed_sos_falls_back_to_sms_after_the_confirmation_time(tmp_path, broker) -> None:
    async def scenario(b: UplinkBuilding) -> None:  # no receiver runs: nobody confirms
        b.air.press(mac_for(0))
        await b.advance(11)
        await b.settle()
        assert set(b.inbox()) == {SON}
        await b.advance(19)
        await b.settle()
        assert set(b.inbox()) == {SON}
        await b.advance(2)
        await b.settle()

    b = play(tmp_path, broker, scenario)
    assert set(b.inbox()) == {DESK, GRID, SON}
    assert len(b.inbox()[SON]) == 1  # not texted twice


def test_uplink_down_means_sms_at_once(tmp_path, broker) -> None:
    async def scenario(b: UplinkBuilding) -> None:
        b.relay.cut(block=True)
        await b.connected(False)
        b.air.press(mac_for(0))
        await b.advance(11)
        await b.settle()

    b = play(tmp_path, broker, scenario)
    assert set(b.inbox()) == {DESK, GRID, SON}


def test_worker_ack_at_the_server_closes_the_alert_on_the_hub(tmp_path, broker) -> None:
    receiver = receiver_for(broker, tmp_path)

    async def scenario(b: UplinkBuilding) -> None:
        b.air.press(mac_for(0))
        await b.advance(11)
        await until(lambda: any(a["state"] == "active" for a in receiver.store.alerts()))
        ref = b.hub_app.store.alerts()[0].ref
        await until(lambda: bool(receiver.acknowledge(ref, "李娜")), timeout=5)
        await until(lambda: b.hub_app.store.alerts()[0].state is AlertState.ACKNOWLEDGED)
        await b.settle()
        await b.advance(700)
        await b.settle()

    try:
        b = play(tmp_path, broker, scenario)
    finally:
        receiver.stop()
    assert b.inbox()[SON][-1] == "【A001】王秀英的求助已由李娜接手处理，谢谢。"
    assert DESK not in b.inbox()


def test_broker_restart_during_drain_loses_nothing_and_duplicates_are_dropped(
        tmp_path, broker) -> None:
    receiver = receiver_for(broker, tmp_path)

    async def scenario(b: UplinkBuilding) -> None:
        for n in range(300):
            b.air.battery(mac_for(n % 2), 1 + n % 100)
        await asyncio.sleep(0.05)
        broker.restart()
        await b.connected(False, timeout=5)
        await b.connected(True, timeout=15)
        await drained(b)

    try:
        play(tmp_path, broker, scenario)
        seqs = stored_seqs(receiver)
    finally:
        receiver.stop()
    assert sorted(seqs) == list(range(1, len(seqs) + 1)) and len(seqs) >= 300


def test_connection_cut_by_a_proxy_resends_what_was_not_acknowledged(tmp_path, broker) -> None:
    receiver = receiver_for(broker, tmp_path)

    async def scenario(b: UplinkBuilding) -> None:
        for n in range(200):
            b.air.battery(mac_for(n % 2), 1 + n % 100)
        await asyncio.sleep(0.02)
        b.relay.cut()
        await b.connected(True, timeout=15)
        await drained(b)

    try:
        play(tmp_path, broker, scenario)
        seqs = stored_seqs(receiver)
    finally:
        receiver.stop()
    assert sorted(seqs) == list(range(1, len(seqs) + 1)) and len(seqs) >= 200



def test_a_backlog_folded_while_offline_reaches_the_receiver_whole(tmp_path, broker) -> None:
    receiver = receiver_for(broker, tmp_path)
    folded: list[int] = []

    async def scenario(b: UplinkBuilding) -> None:
        sync = b.hub_app.uplink.sync if b.hub_app.uplink else None
        assert sync is not None
        b.relay.cut(block=True)
        await b.connected(False, timeout=5)
        for n in range(300):
            b.air.battery(mac_for(n % 2), 1 + n % 100)
        await until(lambda: sync.outbox.segments() >= 10, timeout=10)  # the hub's ticks
        folded.append(sync.outbox.segments())
        b.relay.unblock()
        await b.connected(True, timeout=15)
        await drained(b)
        folded.append(sync.outbox.segments())

    try:
        play(tmp_path, broker, scenario, batch_size=20)
        seqs = stored_seqs(receiver)
    finally:
        receiver.stop()
    assert folded[0] >= 10 and folded[1] == 0  # acknowledged segments are gone
    assert sorted(seqs) == list(range(1, len(seqs) + 1)) and len(seqs) >= 300

def test_receiver_down_means_nothing_is_pruned(tmp_path, broker) -> None:
    async def scenario(b: UplinkBuilding) -> None:
        for n in range(40):
            b.air.battery(mac_for(n % 2), 1 + n)
        await until(lambda: b.hub_app.uplink is not None
                    and b.hub_app.uplink.sync.published >= 40)
        await asyncio.sleep(0.3)
        assert b.hub_app.store.outbox_depth() == 40

    play(tmp_path, broker, scenario)


def test_acl_refusing_publish_keeps_events_and_says_why(tmp_path, caplog) -> None:
    acl = "topic read eldercare/#\ntopic write eldercare/v1/+/+/status\n"
    broker = Broker(tmp_path, acl=acl).start()

    async def scenario(b: UplinkBuilding) -> None:
        b.air.battery(mac_for(0), 50)
        await b.advance(1)
        await until(lambda: "refused" in caplog.text and "Not authorized" in caplog.text)
        assert b.hub_app.store.outbox_depth() == 1

    try:
        play(tmp_path, broker, scenario)
    finally:
        broker.stop()


def test_malformed_and_foreign_commands_change_nothing(tmp_path, broker) -> None:
    replies: list[dict] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.on_message = lambda c, u, m: replies.append(json.loads(m.payload))
    client.connect("127.0.0.1", broker.port)
    client.subscribe("eldercare/v1/xingfuli/hub-3/cmd/reply", qos=1)
    client.loop_start()

    async def scenario(b: UplinkBuilding) -> None:
        before = b.hub_app.store.outbox_depth()
        cmd = "eldercare/v1/xingfuli/hub-3/cmd"
        for payload in (b"not json", json.dumps({"v": 1, "id": "x1", "type": "reboot"}),
                        json.dumps({"v": 1, "id": "x2", "type": "alert_ack", "alert": "A999",
                                    "by": "x"})):
            client.publish(cmd, payload, qos=1)
        client.publish("eldercare/v1/xingfuli/hub-9/cmd",
                       json.dumps({"v": 1, "id": "x3", "type": "ping"}), qos=1)
        client.publish(cmd, json.dumps({"v": 1, "id": "x4", "type": "ping"}), qos=1)
        await until(lambda: len(replies) >= 4, timeout=5)
        assert b.hub_app.store.outbox_depth() == before

    try:
        play(tmp_path, broker, scenario)
    finally:
        client.loop_stop()
        client.disconnect()
    by_id = {r["id"]: r for r in replies}
    assert by_id[None]["ok"] is False and "JSON" in by_id[None]["error"]
    assert "type: expected one of" in by_id["x1"]["error"]
    assert "no alert 'A999'" in by_id["x2"]["error"]
    assert by_id["x4"]["ok"] is True and "x3" not in by_id


def test_the_server_hears_of_an_active_alert_before_its_texts_are_worked_out(
        tmp_path, broker) -> None:
    """Durable first (the alert and its event are committed), then the publish, then the
    SMS bookkeeping (escalation rows, rendered texts)."""
    seen: list[tuple[str, bool]] = []

    async def scenario(b: UplinkBuilding) -> None:
        sync = b.hub_app.uplink.sync if b.hub_app.uplink else None
        assert sync is not None
        pump = sync.pump

        def noting() -> None:
            alert = b.hub_app.store.alert_by_id(1)
            if alert is not None:
                seen.append((alert.state.value, b.hub_app.sms.escalation(1) is not None))
            pump()
        sync.pump = noting  # type: ignore[method-assign]
        b.air.press(mac_for(0))
        await b.advance(11)  # the cancel window: the alert becomes active
        await until(lambda: b.hub_app.sms.escalation(1) is not None)

    play(tmp_path, broker, scenario)
    assert ("active", False) in seen
