"""A watch's low battery on the server: open from the hub's report until the watch reports
a battery above 30 that is newer, on SQLite and PostgreSQL, without reading every battery
report there ever was."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cloud_sync.server.store import open_store
from tests.test_receiver_helpers import COMMUNITY, ROOT, T0, WATCH, batch, event
from tests.test_receiver_store import Server

HUB3 = f"{ROOT}{COMMUNITY}/hub-3/"
HUB4 = f"{ROOT}{COMMUNITY}/hub-4/"
OTHER = "A4:C1:38:3A:01:02"


@pytest.fixture
def server(db_url: str) -> Iterator[Server]:
    made = Server(db_url)
    yield made
    made.store.close()


def faults(server: Server) -> list[str]:
    (watch,) = server.service.watches(COMMUNITY)
    return list(watch["faults"])


def low(seq: int, battery: int = 15, **fields: Any) -> dict[str, Any]:
    return event(seq, "watch.battery_low", **{"watch": WATCH, "resident": "r-101",
                                              "battery": battery, **fields})


def test_a_low_battery_ends_with_a_newer_report_above_30_whatever_order_they_arrive(
        server: Server) -> None:
    server.hub_sends(HUB3, batch([event(1, battery=40), low(2)]))
    assert faults(server) == ["battery_low"], "the report before the low one ends nothing"
    server.hub_sends(HUB3, batch([event(3, battery=25)]))
    assert faults(server) == ["battery_low"], "still low"
    server.hub_sends(HUB3, batch([event(5, battery=80)]))
    assert faults(server) == [], "a new battery"
    server.hub_sends(HUB3, batch([low(6, battery=14)]))
    assert faults(server) == ["battery_low"], "low again"
    server.hub_sends(HUB3, batch([event(4, battery=95)]))  # late, but from before the low
    assert faults(server) == ["battery_low"]
    assert battery(server) == (80, T0 + 5, T0 + 5), "the newest report stands"
    server.hub_sends(HUB4, batch([event(1, battery=31, at_epoch=T0 + 7)], hub="hub-4"))
    assert faults(server) == [], "another hub heard the charged battery"
    assert battery(server) == (31, T0 + 7, T0 + 7)


def battery(server: Server) -> tuple[Any, ...]:
    """The watch's battery, when it was reported, and when it last was above 30."""
    with server.store.db.transaction(write=False) as tx:
        (row,) = tx.rows("SELECT battery, battery_at, charged_at FROM watches WHERE mac = ?",
                         [WATCH])
    return tuple(row)


def test_a_database_from_before_is_filled_in_from_the_battery_reports_it_kept(
        db_url: str) -> None:
    server = Server(db_url)
    try:
        server.hub_sends(HUB3, batch([low(1), event(2, battery=90), low(3, watch=OTHER),
                                      event(4, battery=88, watch=OTHER), low(5, watch=OTHER)]))
        with server.store.db.transaction(write=True) as tx:  # as version 8 left it
            tx.run("ALTER TABLE watches DROP COLUMN charged_at")
            tx.run("UPDATE receiver_schema SET version = 8")
    finally:
        server.store.close()
    store = open_store(db_url)
    try:
        assert store.open_faults(COMMUNITY)[1] == {WATCH: [], OTHER: ["battery_low"]}
        with store.db.transaction(write=False) as tx:
            assert sorted(tx.rows("SELECT mac, charged_at FROM watches")) == [
                (WATCH, T0 + 2), (OTHER, T0 + 4)]
    finally:
        store.close()
