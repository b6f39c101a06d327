"""The wire contract as pure functions."""

from __future__ import annotations

import json

import pytest

from cloud_sync.contract.wire import (
    Topics,
    batch,
    command_id_of,
    parse_command,
    reply,
    status,
)
from edge.clock import utc_text
from edge.errors import CommandError


def test_topics_under_the_root() -> None:
    topics = Topics.of("eldercare/v1", "幸福里社区", "hub-3")
    assert topics.events == "eldercare/v1/幸福里社区/hub-3/events"
    assert topics.cmd.endswith("/hub-3/cmd") and topics.reply.endswith("/hub-3/cmd/reply")


def test_batch_joins_events_in_their_wire_form(tmp_path) -> None:
    from edge.storage.store import ALERT_PRIORITY, Store
    from edge.uplink.outbox import Outbox

    store = Store.open(tmp_path / "hub.db")
    with store.transaction():
        store.append_event("alert.raised", 1795247702.123, {"watch": "A4"}, ALERT_PRIORITY)
        store.append_event("alert.active", 1795247703.0, {"address": "幸福里3号楼"},
                           ALERT_PRIORITY)
    read = Outbox(store).batch_after(ALERT_PRIORITY, 0, 10)
    assert read is not None and (read.first, read.last, read.count) == (1, 2, 2)
    body = json.loads(batch("hub-3", "c", "e1", 5, read.joined))
    assert body["v"] == 1 and body["floor"] == 5 and body["hub"] == "hub-3"
    assert body["epoch"] == "e1" and body["events"][1]["address"] == "幸福里3号楼"
    sent = body["events"][0]
    assert sent["seq"] == 1 and sent["type"] == "alert.raised" and len(sent["event_id"]) == 32
    assert sent["at"] == utc_text(1795247702.123) == "2026-11-21T07:55:02.123Z"
    assert sent["at_epoch"] == 1795247702.123
    assert sent["clock_synced"] is False and sent["watch"] == "A4"


def test_status_payload() -> None:
    body = json.loads(status("hub-3", "c", "online", "0.1.0", 12, 3, 1795247700.0, "r7"))
    assert (body["state"], body["queue_depth"], body["dropped"]) == ("online", 12, 3)
    assert body["roster_version"] == "r7"


def command(**fields: object) -> bytes:
    return json.dumps({"v": 1, "id": "c1", **fields}).encode()


def test_valid_commands_parse() -> None:
    assert parse_command(command(type="events_ack", epoch="e1", seq=10)).fields == {
        "epoch": "e1", "seq": 10}
    ack = parse_command(command(type="alert_ack", alert="A001", by="李娜"))
    assert ack.type == "alert_ack" and ack.fields["by"] == "李娜"
    assert parse_command(command(type="ping")).fields == {}


@pytest.mark.parametrize(("payload", "message"), [
    (b"\xff", "not UTF-8 JSON"),
    (b"[1]", "JSON object"),
    (json.dumps({"v": 2, "id": "x", "type": "ping"}).encode(), "v: expected 1"),
    (json.dumps({"v": 1, "type": "ping"}).encode(), "id: expected text of 1 to 64"),
    (command(type="reboot"), "type: expected one of"),
    (command(type="events_ack", seq=5), "events_ack.epoch: missing"),
    (command(type="events_ack", epoch="e"), "events_ack.seq: missing"),
    (command(type="events_ack", epoch="e", seq="5"), "events_ack.seq: expected a whole number"),
    (command(type="events_ack", epoch="e", seq=True), "events_ack.seq: expected a whole number"),
    (command(type="events_ack", epoch="e", seq=-1), "from 0 to"),
    (command(type="events_ack", epoch="e", seq=2**63), "from 0 to 9007199254740992"),
    (command(type="events_ack", epoch="e", seq=1.5), "expected a whole number"),
    (command(type="alert_ack", alert="A001"), "alert_ack.by: missing"),
    (command(type="alert_ack", alert="A001", by="李娜\n"), "without control characters"),
    (command(type="alert_claimed", alert="A001", by="李娜", for_s=10), "from 60 to 3600"),
    (command(type="ping", extra=1), "unknown field 'extra'"),
    (json.dumps({"v": 1, "id": "\ud800", "type": "ping"}).encode(), "id: expected text"),
    (b'{"v": 1, "id": "x", "type": "ping", "n": ' + b"[" * 2000 + b"]" * 2000 + b"}",
     "nested deeper"),
    (b'{"v": 1, "id": "x", "type": "roster", "version": "1", "residents": '
     + b"[" * 20 + b"]" * 20 + b', "watches": [], "contacts": []}', "nested deeper"),
    (b'{"v": 1, "id": "x", "type": "ping", "pad": "' + b"x" * 3_000_000 + b'"}', "at most"),
])
def test_malformed_commands_say_what_is_wrong(payload: bytes, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        parse_command(payload)


def test_replies() -> None:
    assert json.loads(reply("c1", ok=True, result={"a": 1})) == {
        "v": 1, "id": "c1", "ok": True, "result": {"a": 1}}
    assert json.loads(reply(None, ok=False, error="bad"))["error"] == "bad"
    assert command_id_of(command(type="x")) == "c1" and command_id_of(b"junk") is None
