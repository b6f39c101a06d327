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
    assert "still queued after 1 s — is the hub running? edge-hub status" in outcome[0].detail
    assert len(naps) == 5 and set(naps) == {alarm.POLL_S}
    assert store.db.execute("SELECT kind, state FROM sms_out").fetchall() == [("test", "queued")]


def test_without_a_duty_desk_the_sms_path_fails_saying_what_to_add() -> None:
    outcome = alarm.run_test_alarm(Store.memory(), ("sms",), 0.0, lambda s: None, wait_s=0)
    assert not alarm.succeeded(outcome)
    assert "role = \"duty_desk\"" in outcome[0].detail


def test_the_text_names_the_local_time() -> None:
    assert alarm.alarm_text(1_790_000_000.0) == "【测试】edge-hub 测试短信 2026-09-21 22:13，无需回复。"
