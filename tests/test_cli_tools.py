"""edge-hub status and alerts against a hub database built through the hub core."""

from __future__ import annotations

import json
import time
from pathlib import Path

from edge.alerts.hub import Hub
from edge.clock import SystemClock
from edge.config.loader import load_config
from edge.storage.store import Store
from edge.tools.cli import main

DEMO = Path(__file__).resolve().parents[1] / "config" / "demo.toml"


def hub_with_alert(db: Path) -> str:
    config = load_config(DEMO)
    store = Store.open(db)
    store.apply_roster(config.roster)
    hub = Hub(config.hub.id, store, SystemClock(), config.alerts)
    hub.start()
    heard = hub.raise_from_input("r-101", "GPIO17")
    store.close()
    assert heard is not None and heard.alert is not None
    return heard.alert.ref


def test_status_lists_watches_open_alerts_and_queues(tmp_path, capsys) -> None:
    ref = hub_with_alert(tmp_path / "hub.db")
    assert main(["status", "--config", str(DEMO), "--db", str(tmp_path / "hub.db"),
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["watches"]) == 14 and data["watches"][0]["last_heard"] is None
    assert [a["ref"] for a in data["open_alerts"]] == [ref]
    assert data["queues"]["outbox"] >= 1


def test_alerts_list_and_ack(tmp_path, capsys) -> None:
    db = tmp_path / "hub.db"
    ref = hub_with_alert(db)
    assert main(["alerts", "list", "--open", "--config", str(DEMO), "--db", str(db)]) == 0
    assert ref in capsys.readouterr().out
    assert main(["alerts", "ack", ref, "--by", "网格员 林晓燕", "--config", str(DEMO),
                 "--db", str(db)]) == 0
    assert "acknowledged by 网格员 林晓燕" in capsys.readouterr().out
    store = Store.open(db)
    try:
        assert store.open_alerts() == []
        assert store.pending_events()[-1].type == "alert.acknowledged"  # the server hears it
    finally:
        store.close()
    assert main(["alerts", "ack", "A999", "--by", "x", "--config", str(DEMO), "--db",
                 str(db)]) == 1
    assert "no alert 'A999'" in capsys.readouterr().err


def hub_that_wrote_its_state(db: Path, seconds_ago: float) -> None:
    """The production hub, with no modem or uplink, writing its live state once."""
    from dataclasses import replace

    from edge.app import build_hub
    from edge.clock import FakeClock
    from firmware_bridge.simulators.virtual_air import VirtualAir
    from tests.sms_building import building_config

    config = replace(building_config("/dev/null"), modem=None)
    app = build_hub(config, clock=FakeClock(time.time() - seconds_ago),
                    backend=VirtualAir().backend, database=db)
    try:
        app.tick()
    finally:
        app.close()


def test_status_says_the_hub_runs_when_its_state_is_fresh(tmp_path, capsys) -> None:
    hub_that_wrote_its_state(tmp_path / "hub.db", seconds_ago=2)
    assert main(["status", "--config", str(DEMO), "--db", str(tmp_path / "hub.db")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("hub: running (state written 2 s ago)")
    assert "modem: no modem; uplink: none; queued events" in out and "stale" not in out
    assert "watches: 2 in the roster from hub.toml; 0 heard in the last 60 min, 2 never heard" \
        in out
    assert "None" not in out


def test_status_marks_an_old_state_stale_and_the_hub_not_running(tmp_path, capsys) -> None:
    hub_that_wrote_its_state(tmp_path / "hub.db", seconds_ago=600)
    assert main(["status", "--config", str(DEMO), "--db", str(tmp_path / "hub.db")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("hub: NOT RUNNING (last state written 10 min ago")
    assert "modem: no modem (stale); uplink: none (stale)" in out
    assert main(["status", "--db", str(tmp_path / "hub.db"), "--json"]) == 0
    live = json.loads(capsys.readouterr().out)["live"]
    assert live["running"] is False and live["age_s"] == 600


def test_status_never_creates_a_database(tmp_path, capsys) -> None:
    missing = tmp_path / "nowhere" / "x.db"
    assert main(["status", "--config", str(DEMO), "--db", str(missing)]) == 1
    err = capsys.readouterr().err
    assert f"no hub database at {missing} (its folder does not exist)" in err
    assert not missing.parent.exists()
    assert main(["alerts", "list", "--config", str(DEMO), "--db", str(tmp_path / "y.db")]) == 1
    assert "no such file" in capsys.readouterr().err and not (tmp_path / "y.db").exists()


def test_status_of_a_hub_never_started_counts_the_watches_of_hub_toml(tmp_path, capsys) -> None:
    Store.open(tmp_path / "hub.db").close()  # created, never run: no roster, no live state
    assert main(["status", "--config", str(DEMO), "--db", str(tmp_path / "hub.db")]) == 0
    out = capsys.readouterr().out
    assert "hub: not running (it has never written its state to this database)" in out
    assert "modem: unknown (stale); uplink: unknown (stale)" in out
    assert "watches: 14 in the roster from hub.toml, not yet loaded by the hub" in out
    assert out.count("never heard") == 15 and "None" not in out and "rssi" not in out


def test_a_hub_that_stopped_is_not_running_at_once(tmp_path, capsys) -> None:
    """A clean stop (systemctl stop) is recorded: status need not wait for the state to age."""
    import asyncio
    from dataclasses import replace

    from edge.app import build_hub
    from edge.clock import SystemClock
    from firmware_bridge.simulators.virtual_air import VirtualAir
    from tests.sms_building import building_config

    app = build_hub(replace(building_config("/dev/null"), modem=None), clock=SystemClock(),
                    backend=VirtualAir().backend, database=tmp_path / "hub.db")

    async def run_briefly() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(app.run(stop))
        await asyncio.sleep(0.3)
        assert main(["status", "--db", str(tmp_path / "hub.db")]) == 0
        stop.set()
        await task

    try:
        asyncio.run(run_briefly())
    finally:
        app.close()
    assert capsys.readouterr().out.startswith("hub: running (state written 0 s ago)")
    assert main(["status", "--db", str(tmp_path / "hub.db")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("hub: NOT RUNNING (it stopped 0 s ago, at ")
    assert "modem: no modem (stale); uplink: none (stale)" in out


def test_status_only_reads_the_database_of_a_running_hub(tmp_path, capsys) -> None:
    """status and alerts list open the hub's database read-only: nothing is written under
    the running hub (no upgrade, no checkpoint), so its log is not written either, and the
    hub, told of writes by the kernel, has nothing to look at."""
    from edge.kernel_events import LogWrites

    database = tmp_path / "hub.db"
    ref = hub_with_alert(database)
    hub = Store.open(database)  # the running hub's connection
    try:
        writes = LogWrites(database)
        try:
            for command in (["status"], ["alerts", "list"], ["status", "--json"]):
                assert main([*command, "--config", str(DEMO), "--db", str(database)]) == 0
                assert ref in capsys.readouterr().out
                writes.drain()
                assert not writes.written, command
        finally:
            writes.close()
        assert not hub.changed_elsewhere()
    finally:
        hub.close()


def test_status_does_not_upgrade_an_older_database(tmp_path, capsys) -> None:
    import sqlite3

    from edge.storage.schema import MIGRATIONS, database_on

    database = tmp_path / "hub.db"
    older = database_on(sqlite3.connect(database))
    last = list(MIGRATIONS.pending(older))[-1].name
    MIGRATIONS.apply(older, stop_before=last)
    older.close()
    kept = database.read_bytes()
    assert main(["status", "--config", str(DEMO), "--db", str(database)]) == 1
    assert f"the database {database} is older than this edge-hub: start the hub" in \
        capsys.readouterr().err
    assert database.read_bytes() == kept
    database.write_bytes(b"not a database at all")
    assert main(["alerts", "list", "--config", str(DEMO), "--db", str(database)]) == 1
    assert f"cannot read the database {database}: file is not a database" in \
        capsys.readouterr().err
