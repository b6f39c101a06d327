"""A full or read-only disk never silences an SOS: the Pi's most common failure.

On a real small filesystem (a tmpfs the test mounts and fills) and, without mounting,
with SQLite's max_page_count ([hub] max_database_mb), through the production hub.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from edge.storage.store import Store
from tests.building import mac_for
from tests.small_disk import small_disk, take_sqlite_room
from tests.sms_building import DESK, GRID, SON, SmsBuilding, run_scenario, until

SMALL_RESERVE = {"storage_reserve_mb": 0.5, "low_space_mb": 0.2}


def sos_to(b: SmsBuilding) -> set[str]:
    """Who has an SOS text (in Chinese it asks them to reply 1)."""
    return {phone for phone, texts in b.inbox().items() if any("回复1" in t for t in texts)}


def desk_told_storage_full(b: SmsBuilding) -> bool:
    return any("hub storage full" in text for text in b.inbox().get(DESK, []))


def alerts_in_file(database: Path) -> list[tuple[str, str]]:
    store = Store.open(database)
    try:
        return [(a.resident_id, a.state.value) for a in reversed(store.alerts())]
    finally:
        store.close()


async def press_and_wait_for_texts(b: SmsBuilding, index: int, phones: set[str]) -> None:
    b.air.press(mac_for(index), repeats=2)
    await b.advance(11)  # the cancel window
    await until(lambda: phones <= sos_to(b), timeout=15)


def test_an_sos_on_a_full_disk_is_texted_and_kept(tmp_path) -> None:
    with small_disk(tmp_path, 3072) as disk:
        database = disk.path / "hub.db"

        async def scenario(b: SmsBuilding) -> None:
            assert b.app is not None
            disk.fill()
            take_sqlite_room(database)
            await press_and_wait_for_texts(b, 0, {DESK, GRID, SON})
            assert b.app.store.storage_health()["mode"] in ("low_space", "memory")
            await b.advance(15)  # the storage check: a fault, told to the duty desk
            await until(lambda: desk_told_storage_full(b), timeout=10)
            b.reply(GRID, "1")
            await until(lambda: not b.app.store.open_alerts(), timeout=10)  # type: ignore[union-attr]

        b = run_scenario(SmsBuilding(tmp_path, database=database, hub=SMALL_RESERVE), scenario)
        assert alerts_in_file(database) == [("r1", "acknowledged")]
        assert b.app is not None


def test_with_the_reserve_used_and_the_disk_still_full_the_hub_goes_on_from_memory(
        tmp_path) -> None:
    with small_disk(tmp_path, 3072) as disk:
        database = disk.path / "hub.db"

        async def scenario(b: SmsBuilding) -> None:
            assert b.app is not None
            disk.fill()
            await press_and_wait_for_texts(b, 0, {DESK, GRID, SON})
            disk.fill()  # the reserve's room is taken too
            for percent in range(90, 40, -1):  # telemetry: dropped and counted
                b.air.battery(mac_for(1), percent)
                b.app.store.flush_telemetry()  # each its own commit, as in its own loop turn
            await press_and_wait_for_texts(b, 1, {DESK, GRID})
            health = b.app.store.storage_health()
            assert health["mode"] == "memory" and health["telemetry_dropped"] > 0
            disk.free()
            await b.advance(15)  # written back; the reserve is made again
            await until(lambda: b.app is not None
                        and b.app.store.storage_health()["mode"] == "disk", timeout=10)

        run_scenario(SmsBuilding(tmp_path, database=database, hub=SMALL_RESERVE), scenario)
        assert sorted(alerts_in_file(database)) == [("r1", "active"), ("r2", "active")]
        assert (disk.path / "hub.db.reserve").exists()


@pytest.mark.parametrize("reserve", [True, False])
def test_the_hub_starts_on_a_full_disk_and_texts_an_sos(tmp_path, reserve: bool) -> None:
    """With its reserve the hub starts on the disk and keeps the alert; without one (a
    hub installed before it had one) it starts from memory. Both text the SOS."""
    with small_disk(tmp_path, 3072) as disk:
        database = disk.path / "hub.db"
        first = SmsBuilding(tmp_path / "a", database=database, hub=SMALL_RESERVE)
        (tmp_path / "a").mkdir()
        run_scenario(first, lambda b: asyncio.sleep(0))  # installed and run once
        if not reserve:
            (disk.path / "hub.db.reserve").unlink()
        disk.fill()
        modes: list[str] = []

        async def scenario(b: SmsBuilding) -> None:
            assert b.app is not None
            await press_and_wait_for_texts(b, 0, {DESK, GRID, SON})
            modes.append(b.app.store.storage_health()["mode"])

        (tmp_path / "b").mkdir()
        run_scenario(SmsBuilding(tmp_path / "b", database=database, hub=SMALL_RESERVE),
                     scenario)
        assert modes == (["low_space"] if reserve else ["memory"])
        if reserve:
            assert alerts_in_file(database) == [("r1", "active")]


def test_the_hub_starts_on_a_read_only_disk_and_writes_back_when_it_is_writable(
        tmp_path) -> None:
    with small_disk(tmp_path, 4096) as disk:
        database = disk.path / "hub.db"
        (tmp_path / "a").mkdir()
        run_scenario(SmsBuilding(tmp_path / "a", database=database, hub=SMALL_RESERVE),
                     lambda b: asyncio.sleep(0))
        disk.read_only()

        async def scenario(b: SmsBuilding) -> None:
            assert b.app is not None
            assert b.app.store.storage_health()["mode"] == "memory"
            await press_and_wait_for_texts(b, 0, {DESK, GRID, SON})
            disk.writable()
            await b.advance(15)
            await until(lambda: b.app is not None
                        and b.app.store.storage_health()["mode"] == "disk", timeout=10)

        (tmp_path / "b").mkdir()
        run_scenario(SmsBuilding(tmp_path / "b", database=database, hub=SMALL_RESERVE),
                     scenario)
        assert alerts_in_file(database) == [("r1", "active")]


def test_a_database_at_its_size_limit_goes_on_from_memory_without_mounting(tmp_path) -> None:
    """max_page_count makes the same fault where a test may not mount a filesystem."""
    async def scenario(b: SmsBuilding) -> None:
        assert b.app is not None and b.app.store.guard is not None
        for percent in range(3000):  # telemetry until the database is at its limit
            b.air.battery(mac_for(1), 100 - percent % 90)
            b.app.store.flush_telemetry()  # each its own commit, as in its own loop turn
            if b.app.store.storage_health()["mode"] == "memory":
                break
        assert b.app.store.storage_health()["mode"] == "memory"
        await press_and_wait_for_texts(b, 0, {DESK, GRID, SON})
        await b.advance(15)
        await until(lambda: desk_told_storage_full(b), timeout=10)
        b.app.store.guard.page_limit = None  # the installer gives it room
        b.app.store.recover_storage()
        assert b.app.store.storage_health()["mode"] != "memory"

    b = run_scenario(SmsBuilding(tmp_path, hub={"max_database_mb": 1.5, **SMALL_RESERVE}),
                     scenario)
    assert ("r1", "active") in alerts_in_file(b.database)



def test_from_memory_the_sos_still_goes_to_the_community_server(tmp_path, broker) -> None:
    """The uplink sends from the store wherever it is: an alert raised in memory reaches
    the server, which confirms it, so SMS waits for a worker there as usual. The server
    has acknowledged the telemetry sent meanwhile: the memory copy must count on from the
    file's seqs, not give the alert a seq the server already has."""
    from cloud_sync.server.receiver import Receiver
    from tests.uplink_building import UplinkBuilding

    receiver = Receiver(broker.url, f"sqlite:///{tmp_path}/receiver.db", reconnect_max_s=1)
    receiver.start()

    async def scenario(b: UplinkBuilding) -> None:
        assert b.app is not None
        await b.connected()
        for percent in range(20_000):  # the acknowledged events' index shrinks: more room
            b.air.battery(mac_for(1), 100 - percent % 90)
            if percent % 10 == 9:
                await asyncio.sleep(0)  # the loop turns: the uplink sends, is acknowledged
            if b.app.store.storage_health()["mode"] == "memory":
                break
        assert b.app.store.storage_health()["mode"] == "memory"
        b.air.press(mac_for(0))
        await until(lambda: any(a["resident"]["id"] == "r1" for a in receiver.store.alerts()),
                    timeout=15)
        await until(lambda: b.app is not None and b.app.sms.has_receipt(1), timeout=15)

    try:
        run_scenario(UplinkBuilding(tmp_path, broker, hub={"max_database_mb": 1.5,
                                                          **SMALL_RESERVE}), scenario)
    finally:
        receiver.stop()
