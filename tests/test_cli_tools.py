"""edge-hub status and alerts against a hub database built through the hub core."""

from __future__ import annotations

import json
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
