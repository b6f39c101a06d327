"""The receiver's pure core: reading batches against the contract, acks, dedupe, URLs, roster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud_sync.contract.broker_url import (
    BrokerUrl,
    parse_broker_url,
    parse_http_address,
)
from cloud_sync.contract.roster_file import parse_roster
from cloud_sync.server.errors import BatchError
from cloud_sync.server.logic import (
    ack_start,
    advance_ack,
    alert_facts,
    alert_number,
    dedupe_key,
    hub_state,
    merged_state,
    should_push_roster,
    should_send_ack,
    topic_parts,
    watch_facts,
    watch_updates,
)
from cloud_sync.server.roster import load_roster_file, roster_fields
from cloud_sync.server.wire import parse_batch, parse_status, read_batch, read_event
from edge.errors import ConfigError
from tests.test_receiver_helpers import (
    COMMUNITY,
    EPOCH,
    WATCH,
    alert_event,
    batch,
    encode,
    event,
    status,
)


def test_a_batch_from_the_contract_reads_back_with_every_event() -> None:
    parsed = parse_batch(encode(batch([alert_event(120, "9a2e"), event(121)], floor=118)))
    assert (parsed.hub, parsed.community, parsed.epoch, parsed.floor) == (
        "hub-3", COMMUNITY, EPOCH, 118)
    assert [e.seq for e in parsed.events] == [120, 121]
    assert parsed.rejected == ()
    assert json.loads(parsed.events[0].body)["alert"]["uid"] == "9a2e"


@pytest.mark.parametrize("change, reason", [
    ({"v": 2}, "v is 2"),
    ({"v": True}, "v is True"),
    ({"hub": 3}, "hub is 3"),
    ({"hub": "a/b"}, "not an id usable as a topic level"),
    ({"community": "幸福里社区"}, "community '幸福里社区' is not an id.*community_id"),
    ({"community": "xingfuli\n"}, "not an id"),
    ({"community": ""}, "community is ''"),
    ({"floor": -1}, "floor is -1"),
    ({"floor": "1"}, "floor is '1'"),
    ({"events": {}}, "events is a dict"),
    ({"epoch": None}, "epoch is missing"),
    ({"epoch": ""}, "epoch is ''"),
    ({"epoch": 7}, "epoch is 7"),
    ({"epoch": "e" * 65}, "epoch is 'eeee"),
    ({"epoch": "a\x00b"}, "epoch holds a NUL"),
])
def test_a_malformed_envelope_is_refused_with_the_reason(change: dict[str, object], reason: str) -> None:
    with pytest.raises(BatchError, match=reason):
        read_batch({**batch([event(1)]), **change})


@pytest.mark.parametrize("payload, reason", [
    (b"\xff\xfe", "not UTF-8"), (b"{", "not JSON"), (b"[1]", "expected a JSON object"),
    (b'{"v": NaN}', "not JSON"), (b"[" * 100_000, "not JSON"),
])
def test_payloads_that_are_not_json_objects_are_refused(payload: bytes, reason: str) -> None:
    with pytest.raises(BatchError, match=reason):
        parse_batch(payload)


@pytest.mark.parametrize("change, reason", [
    ({"event_id": 7}, "event_id"), ({"event_id": ""}, "event_id"), ({"seq": 0}, "seq is 0"),
    ({"seq": 1.5}, "seq is 1.5"), ({"seq": True}, "seq is True"), ({"seq": 2**63}, "seq is"),
    ({"type": None}, "type"), ({"at_epoch": "now"}, "at_epoch"), ({"at_epoch": 1e300}, "at_epoch"),
    ({"event_id": "a\x00b"}, "NUL"), ({"battery": "\ud800"}, "not valid Unicode"),
])
def test_a_malformed_event_is_refused_with_the_field_named(change: dict[str, object], reason: str) -> None:
    with pytest.raises(BatchError, match=reason):
        read_event({**event(5), **change})


def test_malformed_events_are_skipped_and_the_valid_ones_kept() -> None:
    parsed = read_batch(batch([event(1), {"seq": 2}, "junk", event(3)]))
    assert [e.seq for e in parsed.events] == [1, 3]
    assert [r.split(":")[0] for r in parsed.rejected] == ["event 1", "event 2"]


def test_a_status_reads_its_state_queue_depth_and_roster_version() -> None:
    read = parse_status(encode(status("online", queue_depth=12, roster_version="v7")))
    assert (read.hub, read.state, read.queue_depth, read.version, read.roster_version) == (
        "hub-3", "online", 12, "0.1.0", "v7")
    assert parse_status(encode({**status(), "queue_depth": "lots"})).queue_depth is None


def test_a_status_without_a_roster_version_reads_as_the_hubs_own_roster() -> None:
    older = status()
    del older["roster_version"]
    assert parse_status(encode(older)).roster_version == ""
    assert parse_status(encode({**status(), "roster_version": 3})).roster_version == ""


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)


def usually(valid: st.SearchStrategy[object], noise: st.SearchStrategy[object] = json_values,
            ) -> st.SearchStrategy[object]:
    """Mostly `valid`, sometimes anything: enough valid data reaches the store."""
    return st.integers(0, 9).flatmap(lambda n: valid if n else noise)


event_like = st.fixed_dictionaries(
    {"event_id": usually(st.uuids().map(str)), "seq": usually(st.integers(1, 30)),
     "type": usually(st.sampled_from(["alert.raised", "alert.active", "alert.acknowledged",
                                      "alert.cancelled", "watch.fix", "watch.battery", "hub.test"])),
     "at_epoch": usually(st.floats(1e9, 2e9), st.floats() | json_values)},
    optional={"alert": usually(st.fixed_dictionaries(
                  {"uid": usually(st.sampled_from(["u1", "u2"]))},
                  optional={"press_counter": usually(st.integers(0, 3)), "ref": json_values,
                            "state": usually(st.sampled_from(["raised", "active", "bogus"]))})),
              "watch": usually(st.sampled_from([WATCH, WATCH.lower(), "A4:C1:38:3A:01:02"])),
              "battery": usually(st.integers(-5, 105)), "location": json_values,
              "resident": usually(st.fixed_dictionaries({}, optional={"id": json_values,
                                                                      "name": json_values})),
              "lat": usually(st.floats()), "lon": usually(st.floats()),
              "fixed_at": usually(st.floats()), "by": json_values,
              "clock_synced": usually(st.booleans())})
batch_like = st.fixed_dictionaries(
    {"v": usually(st.just(1)), "hub": usually(st.just("hub-3")),
     "community": usually(st.just(COMMUNITY)), "floor": usually(st.integers(0, 5)),
     "epoch": usually(st.sampled_from(["e1", "e2"])),
     "events": usually(st.lists(usually(event_like), max_size=6))})


@settings(max_examples=200, deadline=None)
@given(data=batch_like | json_values)
def test_any_json_is_read_or_refused_with_a_batch_error_and_facts_never_raise(data: object) -> None:
    try:
        parsed = read_batch(data)
    except BatchError:
        return
    for item in parsed.events:
        alert_facts(item)
        facts = watch_facts(item)
        if facts is not None:
            watch_updates([(facts, item.at_epoch)])


@settings(max_examples=200, deadline=None)
@given(payload=st.binary(max_size=64))
def test_any_bytes_are_read_or_refused_with_a_batch_error(payload: bytes) -> None:
    try:
        parse_batch(payload)
    except BatchError:
        pass


def test_watch_events_name_the_resident_by_id_and_alerts_by_object() -> None:
    battery = watch_facts(read_event(event(1, resident="r-101", watch=WATCH.lower())))
    assert battery is not None and (battery.mac, battery.resident.id, battery.battery) == (WATCH, "r-101", 87)
    alert = watch_facts(read_event(alert_event(2, "u1")))
    assert alert is not None and alert.resident.name == "张桂兰" and alert.fix is not None


def test_the_ack_walks_up_to_the_first_gap() -> None:
    assert advance_ack(0, [1, 2, 3, 5, 6]) == (3, True)
    assert advance_ack(3, [5, 6]) == (3, True)
    assert advance_ack(3, [4, 5, 6]) == (6, False)
    assert advance_ack(6, [6, 7, 7, 8]) == (8, False)


def test_seqs_below_the_floor_count_as_settled() -> None:
    assert ack_start(acked_seq=0, floor=118) == 117
    assert advance_ack(ack_start(0, 118), [120, 121]) == (117, True)
    assert advance_ack(ack_start(0, 118), [118, 119, 120]) == (120, False)
    assert ack_start(acked_seq=200, floor=118) == 200


def test_an_ack_is_sent_when_it_advanced_or_when_a_resent_batch_shows_it_was_lost() -> None:
    assert should_send_ack(previous=3, current=6, duplicates=0)
    assert not should_send_ack(previous=6, current=6, duplicates=0)
    assert should_send_ack(previous=6, current=6, duplicates=2)
    assert not should_send_ack(previous=0, current=0, duplicates=2)


def test_two_hubs_hearing_one_press_share_a_dedupe_key_and_other_presses_do_not() -> None:
    def key(hub: str, uid: str, counter: int, watch: str = WATCH) -> str:
        facts = alert_facts(read_event(alert_event(1, uid, counter=counter, watch=watch)))
        assert facts is not None
        return dedupe_key(COMMUNITY, hub, facts)

    assert key("hub-3", "u1", 4711) == key("hub-4", "u2", 4711)
    assert key("hub-3", "u1", 4711) != key("hub-3", "u1", 4712)
    assert key("hub-3", "u1", 4711) != key("hub-3", "u1", 4711, watch="A4:C1:38:3A:01:02")
    lower = key("hub-4", "u2", 4711, watch=WATCH.lower())
    assert lower == key("hub-3", "u1", 4711)


def test_an_alert_event_without_a_counter_is_its_own_alert() -> None:
    raw = alert_event(1, "u1")
    del raw["alert"]["press_counter"]
    facts = alert_facts(read_event(raw))
    assert facts is not None and facts.press_counter is None
    assert dedupe_key(COMMUNITY, "hub-3", facts) != dedupe_key(COMMUNITY, "hub-4", facts)


def test_a_closed_alert_never_reopens() -> None:
    assert merged_state("raised", "active") == "active"
    assert merged_state("active", "raised") == "active"
    assert merged_state("acknowledged", "active") == "acknowledged"
    assert merged_state("acknowledged", "resolved") == "resolved"
    assert merged_state("active", "bogus") == "active"


def test_the_roster_goes_to_a_hub_using_another_one_or_coming_online() -> None:
    def push(reported: str, pushed: str | None = "7", previous: str | None = "online",
             state: str = "online") -> bool:
        return should_push_roster("7", state=state, reported=reported, pushed=pushed,
                                  previous_state=previous)

    assert not push("7")
    assert push(""), "the hub uses its own hub.toml roster"
    assert push("6"), "sent before, but the hub still uses an older one"
    assert push("7", pushed="6") and push("7", pushed=None)
    assert push("7", previous="offline") and push("7", previous=None)
    assert not push("", state="offline")


def test_a_silent_hub_reads_offline() -> None:
    assert hub_state("online", 1000.0, 1100.0) == "online"
    assert hub_state("online", 1000.0, 3000.0) == "offline"
    assert hub_state("offline", 1000.0, 1001.0) == "offline"
    assert hub_state(None, 1000.0, 1001.0) == "online"


def test_topics_split_into_community_hub_and_kind() -> None:
    assert topic_parts("eldercare/v1/", f"eldercare/v1/{COMMUNITY}/hub-3/events") == (
        COMMUNITY, "hub-3", "events")
    assert topic_parts("eldercare/v1/", "eldercare/v1/x/hub-3/cmd/reply") is None
    assert topic_parts("eldercare/v1/", "other/x/hub-3/events") is None
    assert alert_number("C42") == 42 and alert_number("A0K3") is None


def test_broker_urls_parse_with_login_and_tls() -> None:
    assert parse_broker_url("mqtt://127.0.0.1:1884") == BrokerUrl("127.0.0.1", 1884)
    url = parse_broker_url("mqtts://rx:s%40cret@mqtt.example.org")
    assert (url.host, url.port, url.tls, url.username, url.password) == (
        "mqtt.example.org", 8883, True, "rx", "s@cret")
    assert "cret" not in repr(url) and "cret" not in str(url)


@pytest.mark.parametrize("text", ["http://host:1883", "mqtt://:1883", "mqtt://host:99999",
                                  "mqtt://host:1883/path", "host:1883", ""])
def test_a_bad_broker_url_names_the_expected_form(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected a broker URL like mqtt://"):
        parse_broker_url(text)


def test_http_addresses_parse() -> None:
    assert parse_http_address("0.0.0.0:8080") == ("0.0.0.0", 8080)
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_http_address("8080")


ROSTER_TOML = """
community = "xingfuli"
version = "2026-11-21"
[[residents]]
id = "r-101"
name = "张桂兰"
room = "101"
[[residents]]
id = "r-102"
name = "刘德明"
room = "102"
address = "幸福里路 18 号 2单元 102"
phone = "+86 139 0571 0102"
[[watches]]
mac = "a4-c1-38-3a-01-01"
resident = "r-101"
key = "000102030405060708090A0B0C0D0E0F"
[[watches]]
mac = "A4:C1:38:3A:01:02"
resident = "r-102"
insecure = true
label = "button"
[[contacts]]
id = "c-1"
name = "王主任"
phone = "+8613800138001"
role = "grid_worker"
tier = 1
"""


def test_a_roster_file_becomes_a_roster_command_the_hub_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "roster.toml"
    path.write_text(ROSTER_TOML, encoding="utf-8")
    loaded = load_roster_file(path)
    assert loaded.community == "xingfuli"
    roster = loaded.roster
    fields = roster_fields(roster, loaded.version)
    assert fields["version"] == "2026-11-21"
    assert fields["residents"][0] == {"id": "r-101", "name": "张桂兰", "room": "101"}
    assert fields["residents"][1]["address"] == "幸福里路 18 号 2单元 102"
    assert fields["watches"][0] == {"mac": WATCH, "resident": "r-101",
                                    "key": "000102030405060708090a0b0c0d0e0f"}
    assert fields["watches"][1]["insecure"] is True
    again = parse_roster(fields, source="roster command", default_address="幸福里路 18 号 3号楼")
    assert again.residents[0].address == "幸福里路 18 号 3号楼 101"
    assert again.watches == roster.watches and again.contacts == roster.contacts


def test_a_bad_roster_file_is_refused_naming_the_place(tmp_path: Path) -> None:
    path = tmp_path / "roster.toml"
    path.write_text(ROSTER_TOML.replace('resident = "r-102"', 'resident = "r-999"'), encoding="utf-8")
    with pytest.raises(ConfigError, match="r-999"):
        load_roster_file(path)
    with pytest.raises(ConfigError, match="not found"):
        load_roster_file(tmp_path / "missing.toml")
