"""A welfare check at the community server: the same path and console row as an SOS,
with its kind shown."""

from __future__ import annotations

import json
import time
from pathlib import Path

from cloud_sync.server.store import open_store
from cloud_sync.server.wire import parse_batch
from tests.test_receiver_helpers import alert_event, batch

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
