"""OutboxSync with a recording publisher at the paho boundary, on a fake clock."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from cloud_sync.contract import wire
from cloud_sync.contract.wire import Topics
from edge.clock import FakeClock
from edge.errors import UplinkError
from edge.storage.store import ALERT_PRIORITY, TELEMETRY_PRIORITY, Store
from edge.uplink.sync import FOLD_PER_TICK, OutboxSync
from tests.building import make_roster

TOPICS = Topics.of("eldercare/v1/", "c", "hub-3")


@dataclass
class Broker:
    """Records what was published; each publish gets the next message id."""

    sent: list[tuple[int, str, dict]] = field(default_factory=list)
    fail_after: int | None = None  # paho refuses at once once this many were sent
    urgent: list[int] = field(default_factory=list)  # mids published urgent (on the wire at once)

    def publish(self, topic: str, payload: bytes, *, retain: bool = False,
                urgent: bool = False) -> int:
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            raise UplinkError("publish failed at once: the client is not connected")
        mid = len(self.sent) + 1
        self.sent.append((mid, topic, json.loads(payload)))
        if urgent:
            self.urgent.append(mid)
        return mid

    def batches(self) -> list[tuple[int, list[int]]]:
        return [(mid, [e["seq"] for e in body["events"]])
                for mid, topic, body in self.sent if topic == TOPICS.events]


def make(tmp_path, **options: object) -> tuple[OutboxSync, Broker, Store, FakeClock]:
    store = Store.open(tmp_path / "hub.db")
    store.apply_roster(make_roster(1))
    clock, broker = FakeClock(), Broker()
    sync = OutboxSync(store, broker, TOPICS, "hub-3", "c", clock, **options)  # type: ignore[arg-type]
    return sync, broker, store, clock


def add(store: Store, kind: str, count: int, priority: int) -> None:
    with store.transaction():
        for n in range(count):
            store.append_event(kind, float(n), {"n": n}, priority)


def test_alerts_go_ahead_of_the_backlog(tmp_path) -> None:
    sync, broker, store, _ = make(tmp_path, batch_size=10)
    add(store, "watch.battery", 25, TELEMETRY_PRIORITY)
    add(store, "alert.raised", 2, ALERT_PRIORITY)
    sync.connection_changed(True)
    batches = broker.batches()
    assert batches[0][1] == [26, 27] and broker.sent[0][0] == batches[0][0]  # the very first
    assert [seq for _, seqs in batches[1:] for seq in seqs] == list(range(1, 26))
    assert broker.urgent == [batches[0][0]], "the alerts are written before the loop goes on"
    status = [body for _, topic, body in broker.sent if topic == TOPICS.status]
    assert [s["state"] for s in status] == ["online"] and status[0]["queue_depth"] == 27


def test_window_bounds_messages_in_flight(tmp_path) -> None:
    sync, broker, store, _ = make(tmp_path, batch_size=5, window=3)
    add(store, "watch.battery", 50, TELEMETRY_PRIORITY)
    sync.connection_changed(True)
    assert len(broker.batches()) == 3
    first_mid = broker.batches()[0][0]
    sync.publish_done(first_mid, True, "Success")
    assert len(broker.batches()) == 4


def test_only_the_receivers_ack_prunes(tmp_path) -> None:
    sync, broker, store, clock = make(tmp_path, batch_size=10)
    add(store, "watch.battery", 20, TELEMETRY_PRIORITY)
    sync.connection_changed(True)
    for mid, _ in broker.batches():
        sync.publish_done(mid, True, "Success")
    assert store.outbox_depth() == 20  # PUBACK alone prunes nothing
    sync.acknowledged(12)
    assert store.outbox_depth() == 8
    assert sync.outbox.outbox_floor() == 13
    assert len(store.all_events()) == 20  # delivered ones are kept a day for records
    clock.advance(86_401)
    sync.tick()
    assert [e.seq for e in store.all_events()] == list(range(13, 21))


def test_batches_carry_the_floor_as_acks_and_eviction_move_it(tmp_path) -> None:
    sync, broker, store, _ = make(tmp_path, batch_size=5, max_events=12)

    def sent_since(count: int) -> list[tuple[list[int], int]]:
        return [([e["seq"] for e in body["events"]], body["floor"])
                for _, topic, body in broker.sent[count:] if topic == TOPICS.events]

    add(store, "watch.battery", 10, TELEMETRY_PRIORITY)
    sync.connection_changed(True)
    assert sent_since(0) == [([1, 2, 3, 4, 5], 1), ([6, 7, 8, 9, 10], 1)]
    for mid, _ in broker.batches():
        sync.publish_done(mid, True, "Success")
    sync.acknowledged(10)  # nothing in flight: marked at once
    before = len(broker.sent)
    add(store, "watch.battery", 5, TELEMETRY_PRIORITY)
    sync.pump()
    assert sent_since(before) == [([11, 12, 13, 14, 15], 11)]
    sync.publish_done(broker.batches()[-1][0], True, "Success")
    before = len(broker.sent)
    add(store, "watch.battery", 15, TELEMETRY_PRIORITY)  # 20 waiting, cap 12: down to 11
    sync.tick()  # 11-19 go in one eviction
    assert sent_since(before) == [([20, 21, 22, 23, 24], 20), ([25, 26, 27, 28, 29], 20),
                                  ([30], 20)]
    before = len(broker.sent)
    sync.tick()  # room again, connected: the episode's summary goes out
    assert sent_since(before) == [([31], 20)]


def test_refused_publish_is_sent_again_after_a_pause(tmp_path) -> None:
    sync, broker, store, clock = make(tmp_path, batch_size=10)
    add(store, "alert.raised", 3, ALERT_PRIORITY)
    sync.connection_changed(True)
    mid = broker.batches()[0][0]
    sync.publish_done(mid, False, "Not authorized")
    assert len(broker.batches()) == 1  # paused, not hammering the broker
    clock.advance(3)
    sync.tick()
    assert broker.batches()[-1][1] == [1, 2, 3]
    assert store.outbox_depth() == 3


def test_reconnect_sends_everything_not_acknowledged_again(tmp_path) -> None:
    sync, broker, store, _ = make(tmp_path, batch_size=10)
    add(store, "watch.battery", 15, TELEMETRY_PRIORITY)
    sync.connection_changed(True)
    for mid, _ in broker.batches():
        sync.publish_done(mid, True, "Success")
    sync.acknowledged(10)
    sync.connection_changed(False)
    before = len(broker.batches())
    sync.connection_changed(True)
    assert [s for _, seqs in broker.batches()[before:] for s in seqs] == list(range(11, 16))


def test_silent_receiver_means_resend(tmp_path) -> None:
    sync, broker, store, clock = make(tmp_path, batch_size=10, resend_after_s=60)
    add(store, "watch.battery", 5, TELEMETRY_PRIORITY)
    sync.connection_changed(True)
    sync.publish_done(broker.batches()[0][0], True, "Success")
    clock.advance(59)
    sync.tick()
    assert len(broker.batches()) == 1
    clock.advance(2)
    sync.tick()
    assert len(broker.batches()) == 2 and broker.batches()[1][1] == [1, 2, 3, 4, 5]


def test_cap_drops_oldest_telemetry_never_alerts_and_says_so(tmp_path) -> None:
    sync, broker, store, _ = make(tmp_path, max_events=6)
    add(store, "alert.raised", 2, ALERT_PRIORITY)
    add(store, "watch.battery", 8, TELEMETRY_PRIORITY)
    sync.tick()  # 10 > 6: down to the low-water mark (5) in one go
    types = [e.type for e in store.pending_events()]
    assert types.count("alert.raised") == 2 and types.count("watch.battery") == 3
    assert store.meta("outbox_dropped") == "5" and store.outbox_depth() == 5
    assert "outbox.dropped" not in types  # offline: told once the server can hear it
    sync.connection_changed(True)
    sync.tick()
    dropped = [e for e in store.pending_events() if e.type == "outbox.dropped"]
    assert len(dropped) == 1
    assert dropped[0].body["count"] == 5 and dropped[0].body["types"] == {"watch.battery": 5}


def test_a_full_outbox_is_trimmed_once_per_filling_and_told_once(tmp_path, caplog) -> None:
    sync, broker, store, clock = make(tmp_path, max_events=100)
    for _ in range(30):  # half a minute offline at the cap, a heartbeat every tick
        add(store, "watch.battery", 7, TELEMETRY_PRIORITY)
        clock.advance(0.5)
        sync.tick()
    assert store.outbox_depth() <= 100
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "outbox is full" in errors[0].getMessage()
    evictions = int(store.meta("outbox_dropped"))
    assert evictions == 210 - store.outbox_depth()
    assert [e.type for e in store.pending_events(1000)].count("outbox.dropped") == 0
    sync.connection_changed(True)
    take_all(sync, broker)
    sync.acknowledged(max(e.seq for e in store.pending_events(1000)))
    for _ in range(3):
        sync.tick()
    summaries = [body for _, topic, body in broker.sent if topic == TOPICS.events
                 for body in body["events"] if body["type"] == "outbox.dropped"]
    assert len(summaries) == 1 and summaries[0]["count"] == evictions


def test_the_outbox_depth_is_kept_not_counted_every_tick(tmp_path) -> None:
    sync, broker, store, clock = make(tmp_path, batch_size=10)
    add(store, "watch.battery", 30, TELEMETRY_PRIORITY)
    sync.tick()  # counted once here, as the hub starts
    counts: list[str] = []
    store.db.conn.set_trace_callback(
        lambda sql: counts.append(sql) if "count(*) FROM outbox" in sql else None)
    for _ in range(20):
        clock.advance(0.5)
        sync.tick()
    sync.connection_changed(True)
    take_all(sync, broker)
    sync.acknowledged(25)
    assert store.outbox_depth() == 5 and counts == []
    store.db.conn.set_trace_callback(None)
    assert store.recount_depth() == 5


def test_heartbeat_at_least_every_interval(tmp_path) -> None:
    sync, broker, store, clock = make(tmp_path, heartbeat_s=300)
    sync.connection_changed(True)
    clock.advance(299)
    sync.tick()
    statuses = [b for _, t, b in broker.sent if t == TOPICS.status]
    assert len(statuses) == 1
    clock.advance(2)
    sync.tick()
    statuses = [b for _, t, b in broker.sent if t == TOPICS.status]
    assert len(statuses) == 2 and statuses[-1]["queue_depth"] == 0


def test_nothing_is_sent_while_disconnected(tmp_path) -> None:
    sync, broker, store, _ = make(tmp_path)
    add(store, "alert.raised", 1, ALERT_PRIORITY)
    sync.pump()
    assert broker.sent == []


def test_an_ack_for_another_installation_prunes_nothing(tmp_path) -> None:
    sync, broker, store, _ = make(tmp_path, batch_size=10)
    add(store, "watch.battery", 5, TELEMETRY_PRIORITY)
    sync.connection_changed(True)
    mid = broker.batches()[0][0]
    assert broker.sent[mid - 1][2]["epoch"] == sync.epoch
    sync.publish_done(mid, True, "Success")
    sync.acknowledged(5, "an-earlier-installation")
    assert store.outbox_depth() == 5
    sync.acknowledged(5, sync.epoch)
    assert store.outbox_depth() == 0


def test_the_epoch_is_kept_with_the_database(tmp_path) -> None:
    sync, _, store, _ = make(tmp_path)
    epoch = sync.epoch
    store.close()
    again = Store.open(tmp_path / "hub.db")
    assert OutboxSync(again, Broker(), TOPICS, "hub-3", "c", FakeClock()).epoch == epoch
    other = Store.open(tmp_path / "other.db")
    assert OutboxSync(other, Broker(), TOPICS, "hub-3", "c", FakeClock()).epoch != epoch


def test_acks_during_a_drain_are_written_when_the_window_empties_or_on_the_tick(tmp_path) -> None:
    sync, broker, store, _ = make(tmp_path, batch_size=10)
    add(store, "watch.battery", 30, TELEMETRY_PRIORITY)
    sync.connection_changed(True)
    first, second, third = [mid for mid, _ in broker.batches()]
    sync.publish_done(first, True, "Success")
    sync.acknowledged(10)
    assert sync.acked_seq == 10 and store.outbox_depth() == 30  # sending goes first
    sync.tick()
    assert store.outbox_depth() == 20
    sync.publish_done(second, True, "Success")
    sync.publish_done(third, True, "Success")
    sync.acknowledged(30)
    assert store.outbox_depth() == 0  # nothing in flight: written at once


def test_a_publish_refused_at_once_keeps_the_rest_for_the_reconnect(tmp_path) -> None:
    sync, broker, store, _ = make(tmp_path, batch_size=5)
    add(store, "watch.battery", 30, TELEMETRY_PRIORITY)
    broker.fail_after = 2
    sync.connection_changed(True)
    assert [seqs for _, seqs in broker.batches()] == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]
    assert sync.in_flight == 2
    broker.fail_after = None
    sync.connection_changed(False)
    sync.connection_changed(True)
    again = [s for _, seqs in broker.batches()[2:] for s in seqs]
    assert again == list(range(1, 31))  # nothing acknowledged: all of it, in order


def sent_events(broker: Broker) -> list[dict]:
    return [event for _, topic, body in broker.sent if topic == TOPICS.events
            for event in body["events"]]


def take_all(sync: OutboxSync, broker: Broker) -> None:
    """The broker takes every message until nothing more is sent (no receiver acks)."""
    done = 0
    while done < len(broker.batches()):
        mid = broker.batches()[done][0]
        done += 1
        sync.publish_done(mid, True, "Success")


def stored_wire(store: Store) -> dict[int, dict]:
    return {seq: json.loads(text) for seq, text in store.db.execute(
        "SELECT seq, wire FROM outbox WHERE delivered_at IS NULL")}


def test_offline_ticks_fold_the_backlog_and_it_goes_out_unchanged(tmp_path) -> None:
    sync, broker, store, _ = make(tmp_path, batch_size=10)
    add(store, "watch.battery", 12, TELEMETRY_PRIORITY)
    add(store, "alert.raised", 1, ALERT_PRIORITY)
    add(store, "watch.fix", 23, TELEMETRY_PRIORITY)
    sync.tick()  # offline
    assert sync.outbox.segments() == 3  # 35 telemetry: three of 10, five wait in rows
    sync.connection_changed(True)
    take_all(sync, broker)
    batches = [seqs for _, seqs in broker.batches()]
    assert batches[0] == [13]  # the alert first
    assert batches[1:] == [list(range(1, 13))[:10], [11, 12, 14, 15, 16, 17, 18, 19, 20, 21],
                           list(range(22, 32)), list(range(32, 37))]
    expected = stored_wire(store)
    assert sent_events(broker) == [expected[seq] for seqs in batches for seq in seqs]


def test_folding_happens_only_while_disconnected_and_a_little_per_tick(tmp_path) -> None:
    size = FOLD_PER_TICK // 4
    sync, broker, store, _ = make(tmp_path, batch_size=size, max_events=10 * FOLD_PER_TICK)
    add(store, "watch.battery", 2 * FOLD_PER_TICK + 3, TELEMETRY_PRIORITY)
    sync.connection_changed(True)
    sync.tick()
    assert sync.outbox.segments() == 0
    sync.connection_changed(False)
    sync.tick()
    assert sync.outbox.segments() == 4  # FOLD_PER_TICK events
    sync.tick()
    sync.tick()
    assert sync.outbox.segments() == 8  # the last 3 wait in rows for more to come


def test_an_ack_inside_a_segment_drops_it_and_the_rest_goes_row_by_row(tmp_path) -> None:
    sync, broker, store, _ = make(tmp_path, batch_size=10)
    add(store, "watch.battery", 30, TELEMETRY_PRIORITY)
    sync.tick()
    sync.connection_changed(True)
    take_all(sync, broker)
    sync.acknowledged(15)
    assert store.outbox_depth() == 15 and sync.outbox.segments() == 1  # 21-30 is whole
    sync.connection_changed(False)
    sync.connection_changed(True)
    batches = [seqs for _, seqs in broker.batches()[3:]]
    assert batches == [[16, 17, 18, 19, 20], list(range(21, 31))]
    expected = stored_wire(store)
    assert sent_events(broker)[30:] == [expected[seq] for seq in range(16, 31)]


def test_eviction_into_a_segment_never_sends_what_was_dropped(tmp_path) -> None:
    sync, broker, store, _ = make(tmp_path, batch_size=10, max_events=25)
    add(store, "watch.battery", 20, TELEMETRY_PRIORITY)
    sync.tick()
    assert sync.outbox.segments() == 2
    add(store, "watch.battery", 10, TELEMETRY_PRIORITY)
    sync.tick()  # 30 > 25: down to 23, seqs 1-7 dropped, and with them the segment 1-10
    assert sync.outbox.segments() == 2  # 11-20 kept, 21-30 folded on the same tick
    sync.connection_changed(True)
    take_all(sync, broker)
    assert [e["seq"] for e in sent_events(broker)] == list(range(8, 31))
    sync.tick()  # room again: the summary of the drops goes out
    take_all(sync, broker)
    summary = sent_events(broker)[-1]
    assert summary["type"] == "outbox.dropped" and summary["count"] == 7


def test_a_folded_batch_goes_out_as_stored_while_its_head_holds(tmp_path) -> None:
    sync, _, store, _ = make(tmp_path, batch_size=10)
    add(store, "watch.battery", 10, TELEMETRY_PRIORITY)
    sync.tick()  # offline: folded under the head of floor 1
    folded = sync.outbox.batch_after(TELEMETRY_PRIORITY, 0, 10)
    assert folded is not None and folded.framed
    assert folded.payload(sync.batch_head()) is folded.framed  # as read, not copied
    moved = wire.batch_head("hub-3", "c", sync.epoch, 4)
    assert folded.payload(moved) == wire.framed(moved, bytes(folded.joined))
    assert json.loads(folded.payload(moved))["floor"] == 4
    assert json.loads(folded.framed)["events"] == json.loads(folded.payload(moved))["events"]


def test_folded_batches_sent_after_the_floor_moved_carry_the_new_floor(tmp_path) -> None:
    sync, broker, store, _ = make(tmp_path, batch_size=10)
    add(store, "watch.battery", 30, TELEMETRY_PRIORITY)
    sync.tick()  # three segments, folded under floor 1
    sync.connection_changed(True)
    take_all(sync, broker)
    sync.acknowledged(10)  # nothing in flight: marked, the floor is 11
    sync.connection_changed(False)
    sync.connection_changed(True)
    again = [(tuple(e["seq"] for e in body["events"]), body["floor"])
             for _, topic, body in broker.sent[3:] if topic == TOPICS.events]
    assert again == [(tuple(range(11, 21)), 11), (tuple(range(21, 31)), 11)]
    expected = stored_wire(store)
    assert sent_events(broker)[30:] == [expected[seq] for seq in range(11, 31)]


def test_segments_of_the_older_layout_are_dropped_and_their_events_kept(tmp_path) -> None:
    from sqlite_utils import Database

    from edge.storage.schema import MIGRATIONS

    db = Database(tmp_path / "hub.db")
    MIGRATIONS.apply(db, stop_before="0006_outbox_segments_framed")
    db.execute("INSERT INTO outbox_segments VALUES (1, 2, 2, CAST('{},{}' AS BLOB))")
    db.conn.commit()
    db.close()
    sync, broker, store, _ = make(tmp_path, batch_size=10)
    assert sync.outbox.segments() == 0
    add(store, "watch.battery", 12, TELEMETRY_PRIORITY)
    sync.tick()
    assert sync.outbox.segments() == 1
    sync.connection_changed(True)
    take_all(sync, broker)
    assert [seqs for _, seqs in broker.batches()] == [list(range(1, 11)), [11, 12]]


def restarted_after_folding(tmp_path, events: int,
                            batch_size: int) -> tuple[OutboxSync, Broker, Store]:
    """A hub that folded `events` telemetry offline in tens, started again."""
    sync, _, store, _ = make(tmp_path, batch_size=10)
    add(store, "watch.battery", events, TELEMETRY_PRIORITY)
    sync.tick()
    store.close()
    again, broker = Store.open(tmp_path / "hub.db"), Broker()
    later = OutboxSync(again, broker, TOPICS, "hub-3", "c", FakeClock(), batch_size=batch_size)
    return later, broker, again


def test_segments_wider_than_the_batch_size_are_not_used(tmp_path) -> None:
    narrow, broker, again = restarted_after_folding(tmp_path, 30, batch_size=4)
    narrow.connection_changed(True)
    take_all(narrow, broker)
    batches = [seqs for _, seqs in broker.batches()]
    assert all(len(seqs) <= 4 for seqs in batches)
    assert [s for seqs in batches for s in seqs] == list(range(1, 31))
    expected = stored_wire(again)
    assert sent_events(broker) == [expected[seq] for seq in range(1, 31)]


def test_folded_segments_survive_a_restart(tmp_path) -> None:
    later, broker, again = restarted_after_folding(tmp_path, 25, batch_size=10)
    assert later.outbox.segments() == 2
    later.connection_changed(True)
    take_all(later, broker)
    assert [seqs for _, seqs in broker.batches()] == [
        list(range(1, 11)), list(range(11, 21)), list(range(21, 26))]
    later.acknowledged(25)
    assert again.outbox_depth() == 0 and later.outbox.segments() == 0


def test_the_status_names_the_community_as_people_do_in_its_data_not_its_topic(tmp_path) -> None:
    sync, broker, _, _ = make(tmp_path)
    sync.community_name = "幸福里社区"
    sync.connection_changed(True)
    status = [(topic, body) for _, topic, body in broker.sent if topic == TOPICS.status]
    assert status and all("幸福里" not in topic for topic, _ in status)
    assert (status[0][1]["community"], status[0][1]["community_name"]) == ("c", "幸福里社区")
