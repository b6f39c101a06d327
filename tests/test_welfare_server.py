"""A welfare check at the community server: the same path and console row as an SOS,
with its kind shown."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from cloud_sync.server.errors import ReceiverSetupError
from cloud_sync.server.receiver import Receiver
from cloud_sync.server.reports import ZONE
from cloud_sync.server.store import open_store
from cloud_sync.server.wire import parse_batch
from edge.tools.cli import main
from tests.sms_building import run_scenario, until
from tests.test_receiver_helpers import COMMUNITY, alert_event, batch
from tests.uplink_building import UplinkBuilding

BOARD = Path(__file__).resolve().parents[1] / "cloud_sync" / "server" / "pages" / "board.html"


def test_a_welfare_check_is_a_console_row_of_its_own_kind(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'server.db'}")
    try:
        check = alert_event(1, "u-check", counter=None, watch="",  # type: ignore[arg-type]
                            check={"rule": "not_up", "detail": "10:00"}, reason="welfare:not_up")
        check["alert"]["kind"] = "welfare"
        sos = alert_event(2, "u-sos")
        store.store_batch(parse_batch(json.dumps(batch([check, sos])).encode()), via="mqtt",
                          now=time.time())
        rows = {row["kind"]: row for row in store.alerts()}
        assert rows["welfare"]["check"] == {"rule": "not_up", "detail": "10:00"}
        assert rows["welfare"]["state"] == "raised"
        assert rows["sos"]["check"] is None
    finally:
        store.close()
    page = BOARD.read_text(encoding="utf-8")
    assert 'welfare: "关怀提醒"' in page and "alert.check.rule" in page


def test_the_server_says_a_resident_is_away_then_back_and_the_hub_pauses_the_rules(
        tmp_path: Path, broker: Any) -> None:
    server = Receiver(broker.url, f"sqlite:///{tmp_path / 'server.db'}", reconnect_max_s=1)
    server.start()
    try:
        with pytest.raises(ReceiverSetupError, match="no hub of community xingfuli"):
            server.resident_away("xingfuli", "r1", time.time() + 86_400, "王主任")

        async def scenario(b: UplinkBuilding) -> None:
            await b.connected()
            store = b.hub_app.store
            await until(lambda: bool(server.store.hubs(now=time.time())), timeout=10)
            back_on = time.time() + 3 * 86_400
            assert server.resident_away("xingfuli", "r1", back_on, "王主任") == ["hub-3"]
            await until(lambda: store.watched("r1", time.time()).away_until == back_on,
                        timeout=10)
            assert server.resident_away("xingfuli", "r1", None, "王主任") == ["hub-3"]
            await until(lambda: store.watched("r1", time.time()).away_until is None, timeout=10)
            for wrong, said in (("r 1", "not a resident id"), ("r1", "at most 92 days")):
                with pytest.raises(ReceiverSetupError, match=said):
                    server.resident_away("xingfuli", wrong, time.time() + 100 * 86_400, "王主任")
            for wrong_time in (time.time() - 1, float("nan"), float("inf"), 1e300):
                with pytest.raises(ReceiverSetupError, match="expected a time after now"):
                    server.resident_away("xingfuli", "r1", wrong_time, "王主任")

        run_scenario(UplinkBuilding(tmp_path, broker), scenario)
    finally:
        server.stop()


def test_server_away_on_the_command_line_queues_for_http_hubs_and_names_the_options(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'server.db'}"
    store = open_store(url)
    try:  # hub-3 posts over HTTP: it reads its commands at its next poll
        store.store_batch(parse_batch(json.dumps(batch([alert_event(1, "u-1")])).encode()),
                          via="http", now=time.time())
    finally:
        store.close()
    day = datetime.fromtimestamp(time.time() + 3 * 86_400, ZONE).strftime("%Y-%m-%d")
    assert main(["server", "away", "r-101", "--community", COMMUNITY, "--until", day,
                 "--by", "王主任", "--db", url]) == 0
    back_day = datetime.fromtimestamp(time.time() + 4 * 86_400, ZONE).strftime("%Y-%m-%d")
    assert f"r-101 is away until {back_day} 00:00 (王主任): resident_away sent to 0 hub(s) over " \
        "MQTT, queued for 1 hub(s) on HTTP." in capsys.readouterr().out
    assert main(["server", "back", "r-101", "--community", COMMUNITY, "--by", "王主任",
                 "--db", url]) == 0
    store = open_store(url)
    try:
        queued = [c for c in store.commands_after(COMMUNITY, "hub-3", 0).commands
                  if c["type"] == "resident_away"]
    finally:
        store.close()
    midnight = datetime.fromisoformat(back_day).replace(tzinfo=ZONE).timestamp()  # day's end
    assert [(c["resident"], c.get("until"), c["by"]) for c in queued] == [
        ("r-101", midnight, "王主任"), ("r-101", None, "王主任")]
    for argv, said in (
            (["server", "away", "r-101", "--community", COMMUNITY, "--by", "x"], "--until WHEN"),
            (["server", "away", "r-101", "--community", COMMUNITY, "--until", "2020-01-01",
              "--by", "x"], "has passed"),
            (["server", "away", "r-101", "--community", COMMUNITY, "--until", "tomorrow",
              "--by", "x"], 'like "2026-12-10"')):
        assert main([*argv, "--db", url]) == 1
        assert said in capsys.readouterr().err
