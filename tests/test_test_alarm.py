"""edge-hub test-alarm: a real test through the running hub, watched in its database."""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from edge.storage.store import Store
from edge.tools import test_alarm as alarm
from edge.tools.cli_installer import add_installer_commands
from tests.mqtt_broker import Broker
from tests.sms_building import DESK
from tests.test_uplink import play, receiver_for
from tests.uplink_building import UplinkBuilding


def _test_beside_the_hub(b: UplinkBuilding, paths: tuple[str, ...],
                         wait_s: float) -> list[alarm.PathResult]:
    """What an installer's second process does: its own connection to the hub's file."""
    store = Store.open(b.folder / "hub.db")
    try:
        return alarm.run_test_alarm(store, paths, b.clock.now(), time.sleep, wait_s=wait_s)
    finally:
        store.close()


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    add_installer_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return int(args.func(args))


def test_a_test_alarm_reaches_the_duty_desk_and_the_server(tmp_path: Path,
                                                           broker: Broker) -> None:
    receiver = receiver_for(broker, tmp_path)
    outcome: list[alarm.PathResult] = []

    async def scenario(b: UplinkBuilding) -> None:
        outcome.extend(await asyncio.to_thread(_test_beside_the_hub, b, alarm.PATHS, 15.0))
        await b.settle()

    try:
        b = play(tmp_path, broker, scenario)
    finally:
        receiver.stop()
    assert alarm.succeeded(outcome), outcome
    sms = [r for r in outcome if r.path.startswith("sms")]
    assert len(sms) == 1 and DESK in sms[0].path
    assert sms[0].detail.startswith("sent by the modem (message reference ")
    assert [r.detail for r in outcome if r.path == "server"] == ["acknowledged by the server"]
    [text] = b.inbox()[DESK]
    assert text.startswith("【测试】edge-hub 测试短信 ") and text.endswith("，无需回复。")
    assert set(b.inbox()) == {DESK}  # only the duty desk is bothered by a test


def test_without_a_server_the_cli_reports_the_server_path_and_exits_1(
        tmp_path: Path, broker: Broker, capsys) -> None:
    codes: list[int] = []

    async def scenario(b: UplinkBuilding) -> None:  # no receiver runs: nobody acknowledges
        codes.append(await asyncio.to_thread(
            _cli, "test-alarm", "--config", str(tmp_path / "absent.toml"),
            "--db", str(b.folder / "hub.db"), "--path", "server", "--wait", "1"))

    play(tmp_path, broker, scenario)
    assert codes == [1]
    out = capsys.readouterr().out
    assert "FAIL  server: not acknowledged by the server" in out
    assert "sms" not in out


def test_without_a_running_hub_texts_stay_queued(tmp_path: Path) -> None:
    store = Store.memory()
    store.db.execute("INSERT INTO contacts (id, name, phone, role, tier) VALUES "
                     "('desk', '值班室', '+8613800138000', 'duty_desk', 1), "
                     "('grid', '李娜', '+8613800138001', 'grid_worker', 1)")
    naps: list[float] = []
    outcome = alarm.run_test_alarm(store, ("sms",), 1_790_000_000.0, naps.append, wait_s=1.0)
    assert [(r.path, r.ok) for r in outcome] == [("sms to 值班室 +8613800138000", False)]
    assert outcome[0].detail == ("still queued after 1 s: the hub has never run on this "
                                 "database (sudo systemctl start edge-hub)")
    assert len(naps) == 5 and set(naps) == {alarm.POLL_S}
    assert store.db.execute("SELECT kind, state FROM sms_out").fetchall() == [("test", "queued")]


def test_without_a_duty_desk_the_sms_path_fails_saying_what_to_add() -> None:
    outcome = alarm.run_test_alarm(Store.memory(), ("sms",), 0.0, lambda s: None, wait_s=0)
    assert not alarm.succeeded(outcome)
    assert "role = \"duty_desk\"" in outcome[0].detail


def test_the_text_names_the_local_time() -> None:
    assert alarm.alarm_text(1_790_000_000.0) == "【测试】edge-hub 测试短信 2026-09-21 22:13，无需回复。"


def test_a_hub_without_modem_or_uplink_is_told_so_at_once(tmp_path: Path, capsys) -> None:
    """hub.toml has neither [modem] nor [uplink]: nothing is queued and nobody waits."""
    from tests.test_cli import KEY_HEX, MINIMAL_HUB

    config = tmp_path / "hub.toml"
    config.write_text(MINIMAL_HUB.format(db=tmp_path / "hub.db", key=KEY_HEX), encoding="utf-8")
    Store.open(tmp_path / "hub.db").close()
    started = time.monotonic()
    assert _cli("test-alarm", "--config", str(config), "--wait", "30") == 1
    assert time.monotonic() - started < 5
    assert capsys.readouterr().out.splitlines() == [
        "FAIL  sms: no modem configured: hub.toml has no [modem] section, so this hub cannot "
        "text anyone",
        "FAIL  server: no uplink configured: hub.toml has no [uplink] section, so this hub has "
        "no server to tell"]
    store = Store.open(tmp_path / "hub.db")
    try:
        assert store.db.execute("SELECT count(*) FROM sms_out").fetchone()[0] == 0
    finally:
        store.close()


def test_a_stopped_hub_is_named_as_the_cause(tmp_path: Path) -> None:
    """The running hub's own live state says it has no modem; written 10 min ago it also
    says the hub is not running."""
    from tests.test_cli_tools import hub_that_wrote_its_state

    hub_that_wrote_its_state(tmp_path / "hub.db", seconds_ago=600)
    store = Store.open(tmp_path / "hub.db")
    try:
        outcome = alarm.run_test_alarm(store, alarm.PATHS, time.time(), lambda s: None,
                                       wait_s=0)
        store.db.execute("UPDATE meta SET value = replace(value, '\"no modem\"', "
                         "'\"ready\"') WHERE key = 'live_status'")
        later = alarm.run_test_alarm(store, ("sms",), time.time(), lambda s: None, wait_s=0)
    finally:
        store.close()
    assert [(r.path, r.detail) for r in outcome] == [
        ("sms", "no modem configured: hub.toml has no [modem] section, so this hub cannot "
                "text anyone"),
        ("server", "no uplink configured: hub.toml has no [uplink] section, so this hub has "
                   "no server to tell")]
    assert later[0].path.startswith("sms to ") and later[0].detail.startswith(
        "still queued after 0 s: the hub is not running (its last state is 600 s old")
