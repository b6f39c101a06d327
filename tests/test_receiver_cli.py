"""edge-hub receiver: run it, or acknowledge an alert the way a worker's desk would."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

import pytest

from cloud_sync.server.cli import add_receiver_commands, run_receiver
from cloud_sync.server.errors import ReceiverSetupError
from cloud_sync.server.service import HeldCommands, ReceiverService
from cloud_sync.server.store import open_store
from edge.errors import ConfigError, HubError
from tests.mqtt_broker import Broker
from tests.test_receiver_helpers import (
    COMMUNITY,
    ROOT,
    alert_event,
    batch,
    encode,
    hubs,
)
from tests.test_receiver_logic import ROSTER_TOML


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="edge-hub")
    add_receiver_commands(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def run(argv: list[str]) -> int:
    args = parse(argv)
    result: int = args.func(args)
    return result


def test_receiver_runs_by_default_and_acks_with_an_action() -> None:
    args = parse(["receiver", "--broker", "mqtt://127.0.0.1:1883", "--http", "0.0.0.0:8080"])
    assert (args.action, args.broker, args.http, args.group) == (
        "run", "mqtt://127.0.0.1:1883", ("0.0.0.0", 8080), "receivers")
    assert args.db == "sqlite:///receiver.db" and args.topic_root == "eldercare/v1/"
    args = parse(["receiver", "ack", "C12", "--by", "王主任"])
    assert (args.action, args.alert, args.by) == ("ack", "C12", "王主任")
    assert parse(["receiver", "run", "--broker", "mqtt://h:1", "--topic-root", "x/v1"]).topic_root == "x/v1/"


def test_a_bad_broker_url_is_named_in_the_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(["receiver", "--broker", "http://broker:1883"])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "argument --broker" in error and "expected a broker URL like mqtt://" in error
    assert "http://broker:1883" in error


@pytest.mark.parametrize("argv, message", [
    (["receiver"], "needs --broker"),
    (["receiver", "run", "C12", "--broker", "mqtt://h:1"], "receiver ack C12 --by NAME"),
    (["receiver", "ack", "C12"], "ack ALERT --by NAME"),
    (["receiver", "--broker", "mqtt://127.0.0.1:1", "--db", "mysql://db/rx"], "unknown database URL"),
])
def test_missing_pieces_are_named(argv: list[str], message: str) -> None:
    with pytest.raises(ReceiverSetupError, match=message):
        run(argv)


def test_a_bad_roster_file_stops_the_receiver_before_it_starts(tmp_path: Path) -> None:
    roster = tmp_path / "roster.toml"
    roster.write_text("community = 'xingfuli'\n[[residents]]\nid = 'r 1'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="residents"):
        run(["receiver", "--broker", "mqtt://127.0.0.1:1", "--roster", str(roster)])


@pytest.mark.parametrize("second, message", [
    (None, "community is missing; expected the community's id"),
    ("xingfuli", "community 'xingfuli' already has roster"),
    ("heping", "watch .* is also registered to community 'xingfuli'"),
])
def test_rosters_are_one_per_community_and_a_watch_in_one_only(
        tmp_path: Path, second: str | None, message: str) -> None:
    first = tmp_path / "xingfuli.toml"
    first.write_text(ROSTER_TOML, encoding="utf-8")
    other = tmp_path / "other.toml"
    body = ROSTER_TOML.replace('community = "xingfuli"\n', "")
    other.write_text(body if second is None else f"community = {second!r}\n" + body,
                     encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        run(["receiver", "--broker", "mqtt://127.0.0.1:1", "--db", str(tmp_path / "rx.db"),
             "--roster", str(first), "--roster", str(other)])
    assert not (tmp_path / "rx.db").exists(), "refused before the receiver opened anything"


SENSOR_TOML = """
community = "heping"
[[residents]]
id = "r-7"
name = "李大爷"
room = "7"
[[watches]]
mac = "A4:C1:38:3A:07:07"
resident = "r-7"
key = "000102030405060708090A0B0C0D0E0F"
[[sensors]]
mac = "{mac}"
resident = "r-7"
kind = "door"
place = "卫生间门"
key = "0F0E0D0C0B0A09080706050403020100"
[[contacts]]
id = "c-7"
name = "赵大姐"
phone = "+8613800138007"
role = "neighbour"
tier = 1
"""


@pytest.mark.parametrize("mac, message", [
    ("A4:C1:38:3A:01:01", "sensor A4:C1:38:3A:01:01 is also registered to community "
                          "'xingfuli' .* \\(as a watch\\)"),
    ("A4:C1:38:3A:07:07", "sensors\\[0\\].mac: A4:C1:38:3A:07:07 is also a \\[\\[watches\\]\\] "
                          "entry"),
])
def test_a_sensor_mac_that_is_a_watch_elsewhere_or_in_its_own_roster_stops_the_server(
        tmp_path: Path, mac: str, message: str) -> None:
    first = tmp_path / "xingfuli.toml"
    first.write_text(ROSTER_TOML, encoding="utf-8")
    other = tmp_path / "heping.toml"
    other.write_text(SENSOR_TOML.replace("{mac}", mac), encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        run(["receiver", "--broker", "mqtt://127.0.0.1:1", "--db", str(tmp_path / "rx.db"),
             "--roster", str(first), "--roster", str(other)])
    assert not (tmp_path / "rx.db").exists(), "refused before the receiver opened anything"


def test_the_receiver_command_runs_until_stopped_and_pushes_its_roster(
        broker: Broker, tmp_path: Path) -> None:
    roster = tmp_path / "roster.toml"
    roster.write_text(ROSTER_TOML, encoding="utf-8")
    args = parse(["receiver", "--broker", broker.url, "--db", str(tmp_path / "rx.db"),
                  "--roster", str(roster), "--group", "desk"])
    stop = threading.Event()
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(run_receiver(args, stop)))
    thread.start()
    try:
        with hubs(broker.port, "hub-3") as (hub,):
            for _ in range(50):  # until the receiver has subscribed, come online again and again
                hub.send_status("offline")
                hub.send_status("online")
                if stop.wait(0.1) or hub.of_type("roster"):
                    break
            sent = hub.wait_for("roster")[0]
            assert sent["version"] == "r1-2026-11-21" and len(sent["residents"]) == 2
    finally:
        stop.set()
        thread.join(10)
    assert result == [0]


def stored_alert(db: str, hub: str = "hub-3", via: str = "mqtt") -> None:
    store = open_store(db)
    service = ReceiverService(store, HeldCommands())
    if via == "mqtt":
        service.on_message(f"{ROOT}{COMMUNITY}/{hub}/events",
                           encode(batch([alert_event(1, f"uid-{hub}")], hub=hub)))
    else:
        service.ingest(encode(batch([alert_event(1, f"uid-{hub}")], hub=hub)))
    store.close()


def test_ack_tells_each_hub_on_mqtt_and_queues_for_hubs_on_http(
        broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'rx.db'}"
    stored_alert(db, "hub-3")
    stored_alert(db, "hub-7", via="http")
    with hubs(broker.port, "hub-3") as (hub,):
        assert run(["receiver", "ack", "C1", "--by", "王主任", "--db", db, "--broker", broker.url]) == 0
        (sent,) = hub.wait_for("alert_ack")
        assert (sent["alert"], sent["by"]) == ("uid-hub-3", "王主任")
    assert "sent to 1 hub(s) over MQTT, queued for 1 hub(s) on HTTP" in capsys.readouterr().out
    store = open_store(db)
    assert [c["type"] for c in store.take_commands(COMMUNITY, "hub-7")] == ["alert_received", "alert_ack"]
    store.close()


def test_ack_without_a_broker_says_which_hubs_were_not_told(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'rx.db'}"
    stored_alert(db)
    assert run(["receiver", "ack", "A0K3", "--by", "王主任", "--db", db]) == 1
    assert "were not told" in capsys.readouterr().out
    with pytest.raises(HubError, match="no alert 'C9'"):
        run(["receiver", "ack", "C9", "--by", "王主任", "--db", db])


def test_ack_with_an_unreachable_broker_fails_with_advice(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'rx.db'}"
    stored_alert(db)
    with pytest.raises(HubError, match="cannot reach broker"):
        run(["receiver", "ack", "C1", "--by", "王主任", "--db", db, "--broker", "mqtt://127.0.0.1:1"])


def test_claim_tells_each_hub_who_is_going_and_for_how_long(
        broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'rx.db'}"
    stored_alert(db, "hub-3")
    with hubs(broker.port, "hub-3") as (hub,):
        assert run(["receiver", "claim", "C1", "--by", "王主任", "--for", "15", "--db", db,
                    "--broker", broker.url]) == 0
        (sent,) = hub.wait_for("alert_claimed")
        assert (sent["alert"], sent["by"], sent["for_s"]) == ("uid-hub-3", "王主任", 900)
    assert "Claimed C1 by 王主任: alert_claimed sent to 1 hub(s)" in capsys.readouterr().out
    with pytest.raises(ReceiverSetupError, match="from 60 to 3600"):
        run(["receiver", "claim", "C1", "--by", "王主任", "--for", "120", "--db", db])


@pytest.mark.parametrize("name", ["王\t主任", "王\u202e主任", "王主任\x7f", "王\u0085主任"])
def test_a_name_no_hub_would_take_is_refused_before_the_alert_is_marked(
        tmp_path: Path, name: str) -> None:
    db = f"sqlite:///{tmp_path / 'rx.db'}"
    stored_alert(db)
    for action in ("ack", "claim"):
        with pytest.raises(ReceiverSetupError, match="without control characters"):
            run(["receiver", action, "C1", "--by", name, "--db", db])
    store = open_store(db)
    try:
        assert [a["state"] for a in store.alerts()] == ["raised"]  # not marked taken
    finally:
        store.close()
