"""The server holds SMS back only while a person there is on it, and nothing from outside
can drop an alert or stop the hub: through the production hub, Mosquitto and the receiver."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from cloud_sync.server.receiver import Receiver
from edge.domain import AlertState
from tests.building import mac_for
from tests.sms_building import DESK, GRID, NEIGHBOUR, SON, run_scenario, until
from tests.uplink_building import UplinkBuilding

CMD = "eldercare/v1/xingfuli/hub-3/cmd"


@pytest.fixture
def receiver(broker, tmp_path: Path) -> Iterator[Receiver]:  # type: ignore[no-untyped-def]
    running = Receiver(broker.url, f"sqlite:///{tmp_path}/receiver.db", reconnect_max_s=1)
    running.start()
    yield running
    running.stop()


async def pressed_and_confirmed(b: UplinkBuilding) -> str:
    await b.connected()
    b.air.press(mac_for(0))
    await until(lambda: b.hub_app.sms.has_receipt(1), timeout=10)  # stored: a machine's word
    await b.advance(11)
    alert = b.hub_app.store.open_alert_for("r1")
    assert alert is not None and alert.state is AlertState.ACTIVE
    return alert.ref


def test_the_servers_automatic_receipt_holds_sms_a_minute_not_ten(tmp_path, broker, receiver) -> None:

    async def scenario(b: UplinkBuilding) -> None:
        await pressed_and_confirmed(b)
        await b.advance(30)
        await b.settle()
        assert set(b.inbox()) == {SON}  # only the son, who wants every alert
        await b.advance(31)  # past the minute nobody at the server claimed it
        await b.settle()
        assert {DESK, GRID} <= set(b.inbox())

    run_scenario(UplinkBuilding(tmp_path, broker), scenario)


def test_a_persons_claim_holds_sms_while_it_lasts_then_it_goes_out(tmp_path, broker, receiver) -> None:

    async def scenario(b: UplinkBuilding) -> None:
        ref = await pressed_and_confirmed(b)
        receiver.claim(ref, "王主任", 600)
        await until(lambda: b.hub_app.sms.claim(1) is not None, timeout=10)
        for _ in range(9):  # nine minutes: they said ten
            await b.advance(60)
            await b.settle()
        assert set(b.inbox()) == {SON}
        await b.advance(61)  # the claim ends without an acknowledgement
        await b.settle()
        assert {DESK, GRID} <= set(b.inbox())

    run_scenario(UplinkBuilding(tmp_path, broker), scenario)


def test_text_now_from_the_desk_ends_a_claim_and_texts_at_once(tmp_path, broker, receiver) -> None:

    async def scenario(b: UplinkBuilding) -> None:
        ref = await pressed_and_confirmed(b)
        receiver.claim(ref, "王主任", 1800)
        await until(lambda: b.hub_app.sms.claim(1) is not None, timeout=10)
        await b.advance(60)
        await b.settle()
        assert set(b.inbox()) == {SON}  # held for 王主任
        receiver.service.text_now(ref, "值班员小李")  # nobody is really going: text now
        await until(lambda: b.hub_app.sms.claim(1) is not None
                    and b.hub_app.sms.claim(1)[1] <= b.clock.now(), timeout=10)  # type: ignore[index]
        await b.advance(1)
        await b.settle()
        assert {DESK, GRID} <= set(b.inbox())  # tier 1 texted at once, not in 29 minutes

    run_scenario(UplinkBuilding(tmp_path, broker), scenario)


def deadline_receiver(broker, tmp_path: Path, backup: str) -> Receiver:  # type: ignore[no-untyped-def]
    """A running server whose claim deadline is a second, hub-3's backup named."""
    receiver = Receiver(broker.url, f"sqlite:///{tmp_path}/receiver.db", reconnect_max_s=1,
                        claim_deadline_s=1.0)
    receiver.duty.assign("xingfuli", "hub-3", first="grid", backup=backup)
    receiver.start()
    return receiver


def test_nobody_claims_in_time_so_the_buildings_backup_is_texted(tmp_path, broker) -> None:
    receiver = deadline_receiver(broker, tmp_path, backup="nb")

    async def scenario(b: UplinkBuilding) -> None:
        await pressed_and_confirmed(b)  # held: only the son, who wants every alert, texted
        await until(lambda: NEIGHBOUR in b.inbox(), timeout=15)  # the deadline passed
        assert DESK not in b.inbox() and GRID not in b.inbox()  # the hold goes on for them
        (alert,) = receiver.store.alerts()
        assert alert["overdue_at"] is not None
        assert [step["what"] for step in receiver.service.timeline(alert["id"])][-1] == "overdue"

    try:
        run_scenario(UplinkBuilding(tmp_path, broker), scenario)
    finally:
        receiver.stop()


def test_a_backup_the_hubs_roster_does_not_know_means_texting_now(tmp_path, broker) -> None:
    receiver = deadline_receiver(broker, tmp_path, backup="someone-else")

    async def scenario(b: UplinkBuilding) -> None:
        await pressed_and_confirmed(b)
        await until(lambda: {DESK, GRID} <= set(b.inbox()), timeout=15)  # not held any more

    try:
        run_scenario(UplinkBuilding(tmp_path, broker), scenario)
    finally:
        receiver.stop()


def test_an_overdue_alert_whose_notice_failed_is_told_on_the_next_check(tmp_path) -> None:
    from cloud_sync.server.wire import parse_batch
    from tests.test_receiver_helpers import alert_event, batch

    receiver = Receiver("mqtt://127.0.0.1:9", f"sqlite:///{tmp_path}/receiver.db")
    receiver.duty.assign("xingfuli", "hub-3", first="grid", backup="nb")
    service = receiver.service
    service.on_batch(parse_batch(json.dumps(batch([alert_event(1, "u-1")])).encode()), via="mqtt")
    sent: list[dict[str, object]] = []

    class BrokenOnce:  # the broker connection fails once, as the network can
        failed = False

        def publish(self, topic: str, payload: dict[str, object]) -> None:
            if not self.failed:
                self.failed = True
                raise OSError("broker connection lost")
            sent.append(payload)

    service.outbound = BrokenOnce()
    try:
        assert service.check_overdue(receiver.duty, deadline_s=0) == 1
        assert sent == [] and receiver.store.alerts()[0]["overdue_at"] is not None
        assert service.check_overdue(receiver.duty, deadline_s=0) == 1  # tried again
        assert [(c["type"], c["contact"]) for c in sent] == [("alert_notify", "nb")]
        assert service.check_overdue(receiver.duty, deadline_s=0) == 0  # told: once
    finally:
        receiver.store.close()


def test_text_now_in_the_cancel_window_texts_as_soon_as_the_alert_is_active(
        tmp_path, broker, receiver) -> None:

    async def scenario(b: UplinkBuilding) -> None:
        await b.connected()
        b.air.press(mac_for(0))
        await until(lambda: b.hub_app.sms.has_receipt(1), timeout=10)  # the server has it
        uid = b.hub_app.store.alerts()[0].uid
        receiver.service.text_now(uid, "值班员小李")  # still inside the cancel window
        await until(lambda: b.hub_app.sms.text_now_asked(1), timeout=10)
        await b.advance(11)  # active: no waiting for the server
        await b.settle()
        assert {DESK, GRID} <= set(b.inbox())

    run_scenario(UplinkBuilding(tmp_path, broker), scenario)


def test_claims_renewed_again_and_again_hold_sms_no_longer_than_an_hour(
        tmp_path, broker, receiver) -> None:

    async def scenario(b: UplinkBuilding) -> None:
        ref = await pressed_and_confirmed(b)
        for _ in range(3):  # an hour's claim, renewed every 25 minutes
            receiver.claim(ref, "王主任", 3600)
            await until(lambda: b.hub_app.sms.claim(1) is not None, timeout=10)
            for _ in range(5):
                await b.advance(300)
                await b.settle()
            if b.inbox().keys() - {SON}:
                break
        assert {DESK, GRID} <= set(b.inbox()), "an hour after the press, SMS goes out"
        claimed = b.hub_app.sms.claim(1)
        assert claimed is not None and claimed[1] <= b.hub_app.store.alert(ref).raised_at + 3600

    run_scenario(UplinkBuilding(tmp_path, broker), scenario)


def test_a_claim_then_an_acknowledgement_closes_the_alert_without_sms(tmp_path, broker, receiver) -> None:

    async def scenario(b: UplinkBuilding) -> None:
        ref = await pressed_and_confirmed(b)
        receiver.claim(ref, "王主任", 600)
        await until(lambda: b.hub_app.sms.claim(1) is not None, timeout=10)
        await b.advance(300)
        receiver.acknowledge(ref, "王主任")
        await until(lambda: not b.hub_app.store.open_alerts(), timeout=10)
        await b.advance(600)
        await b.settle()

    b = run_scenario(UplinkBuilding(tmp_path, broker), scenario)
    assert DESK not in b.inbox() and GRID not in b.inbox()


def test_hostile_commands_change_nothing_and_each_gets_a_reply(tmp_path, broker) -> None:
    replies: list[dict] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.on_message = lambda c, u, m: replies.append(json.loads(m.payload))
    client.connect("127.0.0.1", broker.port)
    client.subscribe(CMD + "/reply", qos=1)
    client.loop_start()

    async def scenario(b: UplinkBuilding) -> None:
        await b.connected()
        b.air.press(mac_for(0))
        await b.advance(11)
        await b.settle()
        sync = b.hub_app.uplink.sync  # type: ignore[union-attr]
        epoch, depth = sync.epoch, b.hub_app.store.outbox_depth()
        hostile = [
            {"v": 1, "id": "h1", "type": "events_ack", "epoch": epoch, "seq": 10**6},
            {"v": 1, "id": "h2", "type": "events_ack", "epoch": epoch, "seq": 2**63 - 1},
            {"v": 1, "id": "h3", "type": "events_ack", "epoch": epoch, "seq": 2**63},
        ]
        for command in hostile:
            client.publish(CMD, json.dumps(command), qos=1)
        client.publish(CMD, b'{"v": 1, "id": "h4", "type": "ping", "x": ' + b"[" * 1000
                       + b"]" * 1000 + b"}", qos=1)
        client.publish(CMD, '{"v": 1, "id": "h5\\ud800", "type": "alert_ack", "alert": '
                       f'"{b.hub_app.store.alerts()[0].uid}", "by": "x"}}', qos=1)
        client.publish(CMD, b'{"v": 1, "id": "h8", "type": "events_ack", "epoch": "'
                       + epoch.encode() + b'", "seq": ' + b"9" * 5000 + b"}", qos=1)
        resident = {"id": "r1", "name": "王秀英", "room": "101"}
        watch = {"mac": mac_for(0), "resident": "r1", "key": "00" * 16}
        desk = {"id": "d", "name": "值班室", "phone": DESK, "role": "duty_desk", "tier": 1}
        for command_id, residents, watches, contacts in (
                ("h9", [resident], [watch], [desk | {"tier": 2**63}]),
                ("h10", [resident | {"name": "王\ud800"}], [watch], [desk]),
                ("h11", [resident], [watch], []),
                ("h12", [resident], [], [desk])):
            client.publish(CMD, json.dumps({"v": 1, "id": command_id, "type": "roster",
                                            "version": "evil", "residents": residents,
                                            "watches": watches, "contacts": contacts}), qos=1)
        client.publish(CMD, json.dumps({  # a building's worker and no desk: faults reach nobody
            "v": 1, "id": "h14", "type": "roster", "version": "evil", "residents": [resident],
            "watches": [watch], "buildings": [{"id": "hub-9", "name": "9号楼", "address": "x"}],
            "contacts": [desk | {"building": "hub-9"}, desk | {"id": "son", "resident": "r1"}]}),
            qos=1)
        client.publish(CMD, json.dumps({"v": 1, "id": "h13", "type": "alert_ack", "alert":
                                        b.hub_app.store.alerts()[0].uid, "by": "王\u202e主任"}),
                       qos=1)
        client.publish(CMD, json.dumps({"v": 1, "id": "h6", "type": "ping"}), qos=1)
        await until(lambda: "h6" in {r["id"] for r in replies}, timeout=10)
        assert b.hub_app.store.meta("roster_version", "") != "evil"
        await b.advance(1)
        assert b.hub_app.store.open_alert_for("r1") is not None  # no ack from a bad command
        assert b.hub_app.store.outbox_depth() >= depth - 10  # nothing marked on a lie
        assert sync.acked_seq < 10**6
        client.publish(CMD, json.dumps({"v": 1, "id": "h7", "type": "ping"}), qos=1)
        await until(lambda: "h7" in {r["id"] for r in replies}, timeout=10)  # still answers

    try:
        run_scenario(UplinkBuilding(tmp_path, broker), scenario)
    finally:
        client.loop_stop()
        client.disconnect()
    by_id = {r["id"]: r for r in replies}
    assert "above the highest event" in by_id["h1"]["error"]
    assert "from 0 to" in by_id["h2"]["error"] and "from 0 to" in by_id["h3"]["error"]
    assert "nested deeper" in by_id[None]["error"] or any(
        "nested deeper" in r.get("error", "") for r in replies)
    assert not any(r["id"] and r["id"].startswith("h5") and r["ok"] for r in replies)
    assert any("not UTF-8 JSON within bounds" in r.get("error", "") for r in replies)  # h8
    assert "tier: expected an integer from 1 to 99" in by_id["h9"]["error"]
    assert "name: expected a non-empty string without control" in by_id["h10"]["error"]
    assert "roster.contacts: empty" in by_id["h11"]["error"]
    assert "roster.watches: empty" in by_id["h12"]["error"]
    assert "without control characters" in by_id["h13"]["error"]
    assert "roster.contacts[0] (d) serves building 'hub-9', but no contact serves everyone" \
        in by_id["h14"]["error"]


def test_a_claim_that_runs_out_with_nobody_on_site_is_flagged_and_the_backup_texted(
        tmp_path) -> None:
    from cloud_sync.server.service import HeldCommands
    from cloud_sync.server.wire import parse_batch
    from tests.test_receiver_helpers import alert_event, batch

    receiver = Receiver("mqtt://127.0.0.1:9", f"sqlite:///{tmp_path}/receiver.db")
    receiver.duty.assign("xingfuli", "hub-3", first="grid", backup="nb")
    service, clock = receiver.service, [1_795_247_800.0]
    service.clock = lambda: clock[0]
    service.outbound = held = HeldCommands()
    for seq, uid in ((1, "u-1"), (2, "u-2")):
        service.on_batch(parse_batch(json.dumps(batch([alert_event(seq, uid, ref=f"A00{seq}",
                                                                  counter=4700 + seq)]))
                                     .encode()), via="mqtt")
    hour = 3600.0
    try:
        service.claim("C1", "王主任", 60)
        service.claim("C2", "李娜", 60)
        service.acknowledge("C2", "李娜")  # on site: nothing runs out
        clock[0] += 59
        assert service.check_overdue(receiver.duty, deadline_s=hour) == 0
        clock[0] += 2
        assert service.check_overdue(receiver.duty, deadline_s=hour) == 1
        notices = [c for _, c in held.held if c["type"] in ("alert_notify", "alert_text_now")]
        assert [(c["type"], c["alert"], c.get("contact"), c["by"]) for c in notices] == [
            ("alert_text_now", "u-1", None, "claim ran out"),  # those texted hear it too
            ("alert_notify", "u-1", "nb", "claim ran out")]
        assert service.check_overdue(receiver.duty, deadline_s=hour) == 0  # told once
        c1 = next(a for a in receiver.store.alerts() if a["id"] == "C1")
        assert c1["claim_lapsed_at"] == clock[0] and c1["claimed_by"] == "王主任"
        steps = [(s["what"], s["who"]) for s in service.timeline("C1")]
        assert steps[-2:] == [("claimed", "王主任"), ("claim_lapsed", "王主任")]

        service.claim("C1", "赵大爷", 60)  # someone else goes: the flag clears, a new clock
        assert next(a for a in receiver.store.alerts() if a["id"] == "C1")[
            "claim_lapsed_at"] is None
        clock[0] += 61
        assert service.check_overdue(receiver.duty, deadline_s=hour) == 1  # and runs out too
        steps = [(s["what"], s["who"]) for s in service.timeline("C1")]
        assert steps[-4:] == [("claimed", "王主任"), ("claim_lapsed", "王主任"),
                              ("claimed", "赵大爷"), ("claim_lapsed", "赵大爷")], \
            "each claim and each lapse stays in the timeline"

        clock[0] += 1  # a claim made while a lapse is being told is not marked told
        service.claim("C1", "王主任", 60)
        (lapsed,) = receiver.duty.turn_lapsed(clock[0] + 61)
        service.claim("C1", "李娜", 60)
        receiver.duty.told(lapsed.alert, clock[0], lapsed=True)
        clock[0] += 61
        assert service.check_overdue(receiver.duty, deadline_s=hour) == 1, "李娜's ran out"
    finally:
        receiver.store.close()
