"""The receiver's store and service on SQLite and PostgreSQL: once each, contiguous acks, alerts.

The service runs with an outbound that keeps what it would publish (HeldCommands), so
these tests need no broker; the MQTT tests cover the paho adapter.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud_sync.server.db import SqliteDb, Tx
from cloud_sync.server.errors import ReceiverError
from cloud_sync.server.service import HeldCommands, ReceiverService
from cloud_sync.server.store import SqlReceiverStore, open_store
from edge.domain import Contact, Resident, Role, Roster, Watch
from tests.test_receiver_helpers import (
    COMMUNITY,
    EPOCH,
    ROOT,
    alert_event,
    batch,
    encode,
    event,
    status,
)
from tests.test_receiver_logic import batch_like, json_values

HUB3 = f"{ROOT}{COMMUNITY}/hub-3/"
RESIDENT = Resident("r-101", "张桂兰", "101", " 101")
READY = Roster(residents=(RESIDENT,), watches=(Watch("A4:C1:38:12:34:56", "r-101", bytes(16)),),
               contacts=(Contact("grid", "李娜", "+8613800138001", Role.GRID_WORKER, 1),))
HUB4 = f"{ROOT}{COMMUNITY}/hub-4/"


class Server:
    """The receiver's service over a real store, with the commands it sent kept per topic."""

    def __init__(self, url: str, roster: Roster | None = None) -> None:
        from cloud_sync.server.roster import CommunityRoster
        from cloud_sync.server.roster_book import RosterBook

        self.store = open_store(url)
        self.out = HeldCommands()
        self.rosters = RosterBook(self.store.db)
        if roster is not None:
            self.rosters.load_file(CommunityRoster(COMMUNITY, roster, "v7", "test"), now=0.0)
        self.clock = 1_795_247_800.0
        self.service = ReceiverService(self.store, self.out, rosters=self.rosters,
                                       clock=lambda: self.clock)

    def hub_sends(self, base: str, payload: Any, kind: str = "events") -> None:
        self.service.on_message(base + kind, payload if isinstance(payload, bytes) else encode(payload))

    def sent(self, base: str, type_: str | None = None) -> list[dict[str, Any]]:
        return [c for topic, c in self.out.held if topic == base + "cmd"
                and (type_ is None or c["type"] == type_)]

    def acks(self, base: str) -> list[int]:
        return [c["seq"] for c in self.sent(base, "events_ack")]

    def epoch_acks(self, base: str) -> list[tuple[str, int]]:
        return [(c["epoch"], c["seq"]) for c in self.sent(base, "events_ack")]

    def hub(self, name: str = "hub-3") -> dict[str, Any]:
        return next(h for h in self.store.hubs(now=self.clock) if h["hub"] == name)


@pytest.fixture
def server(db_url: str) -> Iterator[Server]:
    made = Server(db_url)
    yield made
    made.store.close()


def test_a_resent_batch_is_stored_once_and_its_ack_sent_again(server: Server) -> None:
    sent = batch([event(1), event(2), event(3)])
    server.hub_sends(HUB3, sent)
    server.hub_sends(HUB3, sent)
    assert server.store.event_seqs(COMMUNITY, "hub-3") == [1, 2, 3]
    assert server.store.event_count() == 3
    assert server.acks(HUB3) == [3, 3]


def test_the_ack_stops_at_a_gap_and_moves_when_it_is_filled(server: Server) -> None:
    server.hub_sends(HUB3, batch([event(1), event(2), event(4), event(5)]))
    assert server.acks(HUB3) == [2]
    server.hub_sends(HUB3, batch([event(7)]))
    assert server.acks(HUB3) == [2], "nothing advanced, nothing resent: no new ack"
    server.hub_sends(HUB3, batch([event(3)]))
    assert server.acks(HUB3) == [2, 5]


def test_seqs_below_the_floor_are_settled(server: Server) -> None:
    server.hub_sends(HUB3, batch([alert_event(120, "u1"), event(121)], floor=118))
    assert server.acks(HUB3) == [117], "below the floor is settled; 118 and 119 are missing"
    server.hub_sends(HUB3, batch([event(123)], floor=122))
    assert server.acks(HUB3) == [117, 121]
    server.hub_sends(HUB3, batch([event(122)], floor=122))
    assert server.acks(HUB3) == [117, 121, 123]
    assert server.store.hubs(now=server.clock)[0]["acked_seq"] == 123


def test_each_hub_alert_is_confirmed_once(server: Server) -> None:
    server.hub_sends(HUB3, batch([alert_event(1, "u1")]))
    server.hub_sends(HUB3, batch([alert_event(2, "u1", type_="alert.active")]))
    server.hub_sends(HUB3, batch([alert_event(2, "u1", type_="alert.active")]))
    assert [c["alert"] for c in server.sent(HUB3, "alert_received")] == ["u1"]
    server.hub_sends(HUB3, batch([alert_event(3, "u2", ref="A0K4", counter=4800)]))
    assert [c["alert"] for c in server.sent(HUB3, "alert_received")] == ["u1", "u2"]
    assert len(server.store.alerts()) == 2


def test_one_press_heard_by_two_hubs_is_one_alert_and_both_hubs_are_told(server: Server) -> None:
    server.hub_sends(HUB3, batch([alert_event(5, "u-3", ref="A0K3")]))
    server.hub_sends(HUB4, batch([alert_event(9, "u-4", ref="A001")], hub="hub-4"))
    assert [c["alert"] for c in server.sent(HUB3, "alert_received")] == ["u-3"]
    assert [c["alert"] for c in server.sent(HUB4, "alert_received")] == ["u-4"]
    (alert,) = server.store.alerts(open_only=True)
    assert alert["resident"]["name"] == "张桂兰" and alert["state"] == "raised"
    assert {(h["hub"], h["uid"]) for h in alert["hubs"]} == {("hub-3", "u-3"), ("hub-4", "u-4")}

    assert sorted(server.service.acknowledge(alert["id"], "王主任")) == ["u-3", "u-4"]
    assert server.sent(HUB3, "alert_ack")[0] | {"id": "-"} == {
        "v": 1, "id": "-", "type": "alert_ack", "alert": "u-3", "by": "王主任"}
    assert server.sent(HUB4, "alert_ack")[0]["alert"] == "u-4"
    assert server.store.alerts(open_only=True) == []
    (taken,) = server.store.alerts()
    assert (taken["state"], taken["acknowledged_by"]) == ("acknowledged", "王主任")


def test_an_alert_is_found_by_a_hub_ref_or_uid_and_ambiguity_is_refused(server: Server) -> None:
    server.hub_sends(HUB3, batch([alert_event(1, "u-3", ref="A0K3", counter=1)]))
    server.hub_sends(HUB4, batch([alert_event(1, "u-4", ref="A0K3", counter=2)], hub="hub-4"))
    with pytest.raises(ReceiverError, match="names 2 alerts"):
        server.service.acknowledge("A0K3", "王主任")
    assert server.service.acknowledge("u-4", "王主任") == ["u-4"]
    assert server.service.acknowledge("a0k3", "王主任") == ["u-3"], "the one still open"
    with pytest.raises(ReceiverError, match="no alert 'C99'"):
        server.service.acknowledge("C99", "王主任")


def test_a_hub_reporting_an_alert_after_it_was_taken_is_told_at_once(server: Server) -> None:
    server.hub_sends(HUB3, batch([alert_event(1, "u-3")]))
    server.service.acknowledge("u-3", "王主任")
    server.hub_sends(HUB4, batch([alert_event(1, "u-4")], hub="hub-4"))
    assert [(c["type"], c["alert"]) for c in server.sent(HUB4)[1:]] == [
        ("alert_received", "u-4"), ("alert_ack", "u-4")]


def test_a_button_press_on_one_hub_acknowledges_the_alert_on_the_other(server: Server) -> None:
    server.hub_sends(HUB3, batch([alert_event(1, "u-3")]))
    server.hub_sends(HUB4, batch([alert_event(1, "u-4")], hub="hub-4"))
    server.hub_sends(HUB3, batch([alert_event(2, "u-3", type_="alert.acknowledged", by="邻居李")]))
    assert [(c["alert"], c["by"]) for c in server.sent(HUB4, "alert_ack")] == [("u-4", "邻居李")]
    assert server.sent(HUB3, "alert_ack") == []


def test_commands_for_an_offline_hub_are_held_until_it_is_back(server: Server) -> None:
    server.hub_sends(HUB3, batch([alert_event(1, "u-3")]))
    server.hub_sends(HUB3, status("offline"), "status")
    server.service.acknowledge("u-3", "王主任")
    assert len(server.sent(HUB3, "alert_ack")) == 1, "published, though the hub may miss it"
    server.hub_sends(HUB3, status("online"), "status")
    assert len(server.sent(HUB3, "alert_ack")) == 2, "sent again once the hub is back"
    server.hub_sends(HUB3, status("online"), "status")
    assert len(server.sent(HUB3, "alert_ack")) == 2


def test_a_hub_on_http_gets_its_commands_queued(server: Server) -> None:
    ack = server.service.ingest(encode(batch([alert_event(1, "u-5")], hub="hub-5")))
    assert ack == (1, EPOCH) and server.out.held == []
    server.service.acknowledge("u-5", "王主任")
    page = server.service.commands_after("hub-5", COMMUNITY, 0)
    assert [(c["type"], c["alert"], c["seq"]) for c in page.commands] == [
        ("alert_received", "u-5", 1), ("alert_ack", "u-5", 2)]
    assert server.service.commands_after("hub-5", COMMUNITY, 0) == page, "not applied yet: again"
    assert server.service.commands_after("hub-5", COMMUNITY, page.next).commands == ()
    assert server.service.commands_after("hub-5", COMMUNITY, 0).commands == (), "forgotten"


def test_a_commands_cursor_from_another_receiver_database_gets_the_whole_queue(
        server: Server) -> None:
    server.service.ingest(encode(batch([alert_event(1, "u-5")], hub="hub-5")))
    page = server.service.commands_after("hub-5", COMMUNITY, 57)
    assert [(c["type"], c["seq"]) for c in page.commands] == [("alert_received", 1)]
    assert page.next == 1


def test_commands_are_numbered_per_hub_in_order(server: Server) -> None:
    server.service.ingest(encode(batch([alert_event(1, "u-5", counter=1)], hub="hub-5")))
    server.service.ingest(encode(batch([alert_event(1, "u-6", counter=2)], hub="hub-6")))
    server.service.acknowledge("u-5", "王主任")
    assert [c["seq"] for c in server.service.commands_after("hub-5", COMMUNITY, 0).commands] == [1, 2]
    assert [c["seq"] for c in server.service.commands_after("hub-6", COMMUNITY, 0).commands] == [1]


def test_the_roster_goes_to_a_hub_that_uses_another_one(db_url: str) -> None:
    server = Server(db_url, READY)
    try:
        server.hub_sends(HUB3, status("online"), "status")
        (sent,) = server.sent(HUB3, "roster")
        assert sent["version"] == "r1-v7" and sent["residents"] == [
            {"id": "r-101", "name": "张桂兰", "room": "101"}]
        server.hub_sends(HUB3, status("online", roster_version="r1-v7"), "status")
        assert len(server.sent(HUB3, "roster")) == 1, "the hub uses it: nothing to send"
        server.hub_sends(HUB3, status("online", roster_version=""), "status")
        assert len(server.sent(HUB3, "roster")) == 2, "back on its hub.toml (set up again?)"
        server.hub_sends(HUB3, status("online", roster_version="r1-v7"), "status")
        assert len(server.sent(HUB3, "roster")) == 2
        assert (server.hub()["roster_version"], server.hub()["roster_in_use"]) == ("r1-v7", "r1-v7")
    finally:
        server.store.close()


def test_the_roster_still_greets_a_hub_coming_back_online(db_url: str) -> None:
    server = Server(db_url, READY)
    try:
        server.hub_sends(HUB3, status("online", roster_version="r1-v7"), "status")
        server.hub_sends(HUB3, status("offline", roster_version="r1-v7"), "status")
        assert len(server.sent(HUB3, "roster")) == 1, "never sent before"
        server.hub_sends(HUB3, status("online", roster_version="r1-v7"), "status")
        assert len(server.sent(HUB3, "roster")) == 2
    finally:
        server.store.close()


def test_an_older_hub_without_roster_version_is_sent_the_roster_on_each_status(db_url: str) -> None:
    server = Server(db_url, READY)
    older = status("online")
    del older["roster_version"]
    try:
        server.hub_sends(HUB3, older, "status")
        server.hub_sends(HUB3, older, "status")
        assert len(server.sent(HUB3, "roster")) == 2
        assert server.hub()["roster_in_use"] == ""
    finally:
        server.store.close()


def test_the_api_shows_hubs_alerts_and_watches(server: Server) -> None:
    server.hub_sends(HUB3, status("online", queue_depth=12), "status")
    fix = event(2, "watch.fix", watch="A4:C1:38:3A:01:02", lat=30.1, lon=120.2, accuracy_m=8,
                fixed_at=1_795_247_000.0)
    server.hub_sends(HUB3, batch([event(1, battery=55), fix, alert_event(3, "u1")]))
    (hub,) = server.store.hubs(now=server.clock)
    assert (hub["hub"], hub["state"], hub["queue_depth"], hub["acked_seq"]) == ("hub-3", "online", 12, 3)
    watches = {w["mac"]: w for w in server.store.watches()}
    assert watches["A4:C1:38:3A:01:01"]["battery"] == 55
    assert watches["A4:C1:38:3A:01:01"]["fix"]["lat"] == 30.27415, "from the alert's GPS location"
    assert watches["A4:C1:38:3A:01:02"]["fix"] == {"lat": 30.1, "lon": 120.2, "accuracy_m": 8.0,
                                                  "fixed_at": 1_795_247_000.0}
    (alert,) = server.store.alerts()
    assert alert["id"] == "C1" and alert["first_at"] == alert_event(3, "x")["at_epoch"]


def test_the_watches_show_whose_resident_is_away_until_the_spell_ends(server: Server) -> None:
    """Hubs report each away spell (resident.away), however it was said; the watches show
    its end while it lasts, the latest report winning, and nothing once it is over."""
    def away_until() -> Any:
        (watch,) = server.service.watches(COMMUNITY)
        return watch["away_until"]

    later = server.clock + 3 * 86_400
    server.hub_sends(HUB3, batch([event(1, battery=55)]))
    assert away_until() is None, "at home: nobody said otherwise"
    server.hub_sends(HUB3, batch([event(2, "resident.away", resident="r-101",
                                        away_until=later, by="王主任")]))
    assert away_until() == later
    server.hub_sends(HUB3, batch([event(3, "resident.away", resident="r-102",
                                        away_until=later + 1, by="王主任")]))
    assert away_until() == later, "another resident's spell is not hers"
    server.hub_sends(HUB3, batch([event(4, "resident.away", resident="r-101",
                                        away_until=None, by="女儿")]))
    assert away_until() is None, "back"
    for seq, odd in ((5, "tomorrow"), (7, True), (9, [later])):
        server.hub_sends(HUB3, batch([event(seq, "resident.away", resident="r-101",
                                            away_until=later, by="王主任")]))
        assert away_until() == later
        server.hub_sends(HUB3, batch([event(seq + 1, "resident.away", resident="r-101",
                                            away_until=odd, by="?")]))
        assert away_until() is None, f"a spell whose end is {odd!r} is no spell"
    server.hub_sends(HUB3, batch([event(11, "resident.away", resident="r-101",
                                        away_until=later, by="王主任")]))
    assert away_until() == later
    server.clock = later
    assert away_until() is None, "the spell is over"


def test_a_batch_naming_another_hub_than_its_topic_is_refused(server: Server) -> None:
    server.hub_sends(HUB3, batch([event(1)], hub="hub-4"))
    assert server.store.event_count() == 0 and server.out.held == []


class CountingDb(SqliteDb):
    """SqliteDb that counts the rows the ack walk reads."""

    walked = 0

    def transaction(self, *, write: bool) -> Any:
        outer = super().transaction(write=write)
        db = self

        class Counting:
            def __enter__(self) -> Tx:
                tx = outer.__enter__()
                rows = tx.rows

                def counted(sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
                    found = rows(sql, params)
                    if "ORDER BY seq LIMIT" in sql:
                        db.walked += len(found)
                    return found

                tx.rows = counted  # type: ignore[method-assign]
                return tx

            def __exit__(self, *exc: object) -> Any:
                return outer.__exit__(*exc)

        return Counting()


def test_the_ack_reads_only_seqs_above_it_however_long_the_history(tmp_path: Path) -> None:
    db = CountingDb(str(tmp_path / "count.db"))
    store = SqlReceiverStore(db)
    service = ReceiverService(store, HeldCommands())
    service.on_message(HUB3 + "events", encode(batch([event(seq) for seq in range(2, 3002)])))
    assert db.walked <= 8, "seq 1 is missing: the walk stops at once"
    service.on_message(HUB3 + "events", encode(batch([event(1)])))
    db.walked = 0
    for seq in range(3002, 3012):
        service.on_message(HUB3 + "events", encode(batch([event(seq)])))
    assert db.walked == 10, "one row per batch, not the 3,000 already acknowledged"
    store.close()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=batch_like | json_values)
def test_no_payload_crashes_the_receiver_or_reaches_another_hub(
        server: Server, caplog: pytest.LogCaptureFixture, data: object) -> None:
    caplog.clear()
    for kind in ("events", "status"):
        try:
            payload = encode(data)
        except UnicodeEncodeError:
            payload = b"\xff"
        server.hub_sends(HUB3, payload, kind)
    assert {h["hub"] for h in server.store.hubs(now=0)} <= {"hub-3"}
    assert {topic for topic, _ in server.out.held} <= {HUB3 + "cmd"}
    server.store.alerts(), server.store.watches()
    assert [r.message for r in caplog.records if r.levelno >= logging.ERROR] == []


@settings(max_examples=60, deadline=None)
@given(seqs=st.lists(st.integers(1, 40), min_size=1, max_size=30), floor=st.integers(0, 10),
       chunk=st.integers(1, 7))
def test_the_ack_equals_the_longest_stored_prefix_whatever_the_order(
        seqs: list[int], floor: int, chunk: int) -> None:
    store = open_store("sqlite://")
    service = ReceiverService(store, HeldCommands())
    events = [event(seq) for seq in seqs]
    for start in range(0, len(events), chunk):
        service.on_message(HUB3 + "events", encode(batch(events[start:start + chunk], floor=floor)))
    have = set(seqs) | set(range(1, floor))
    expected = 0
    while expected + 1 in have:
        expected += 1
    assert store.hubs(now=0)[0]["acked_seq"] == expected
    store.close()



def test_a_ring_call_shows_on_the_timeline_with_how_it_went_and_closes_nothing(
        server: Server) -> None:
    to = {"contact": "grid", "name": "李娜", "role": "grid_worker", "tier": 1}
    about = {"uid": "u1", "ref": "A0K3"}
    server.hub_sends(HUB3, batch([
        alert_event(1, "u1", type_="alert.active"),
        event(2, "alert.texted", alert=about, kind="sos", to=to),
        event(3, "alert.called", alert=about, outcome="busy", to=to),
        event(4, "alert.called", alert=about, outcome="answered", to=to)]))
    steps = [(s["what"], s["who"], s.get("outcome")) for s in server.service.timeline("C1")]
    assert ("texted", "李娜", None) in steps
    assert [s for s in steps if s[0] == "called"] == [("called", "李娜", "busy"),
                                                      ("called", "李娜", "answered")]
    (alert,) = server.store.alerts()
    assert alert["state"] == "active" and alert["acknowledged_by"] is None
