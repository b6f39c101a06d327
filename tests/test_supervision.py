"""Supervision: silent watches, low batteries, modem, uplink, mains and the test report."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cloud_sync.contract.schema import Place, build
from edge.config.supervision import SupervisionSection
from edge.errors import ConfigError
from edge.sms.texts import SmsStore
from edge.supervision.checks import Debounced, Supervisor, debounce
from edge.supervision.jobs import Jobs
from edge.supervision.watches import duration_zh, heard_age
from tests.building import SimBuilding, make_building

DESK = "+8613800138000"


@dataclass
class Site:
    """A building with a supervisor whose modem, uplink and mains the test drives."""

    building: SimBuilding
    section: SupervisionSection = field(default_factory=SupervisionSection)
    online: bool = True
    modem_faults: list[str | None] = field(default_factory=list)
    mains: bool | None = True
    supervisor: Supervisor = field(init=False)
    jobs: Jobs = field(init=False)

    def __post_init__(self) -> None:
        self.start()

    def start(self) -> None:
        b = self.building
        self.supervisor = Supervisor(
            b.store, SmsStore(b.store), b.clock, self.section,
            uplink_connected=lambda: self.online, modem_check=self._modem,
            mains_present=lambda: self.mains)
        self.jobs = Jobs(b.clock)
        self.supervisor.register(self.jobs)

    def restart(self) -> None:
        self.building.restart()
        self.start()

    def _modem(self) -> str | None:
        return self.modem_faults.pop(0) if self.modem_faults else None

    def wait(self, seconds: float, step: float = 10.0, hearing: tuple[int, ...] = ()) -> None:
        """Let time pass in steps, running due jobs; the watches in `hearing` keep reporting."""
        while seconds > 0:
            moved = min(step, seconds)
            self.building.clock.advance(moved)
            seconds -= moved
            for index in hearing:
                self.building.air.battery(self.building.mac(index), 80)
            self.jobs.run_pending()

    def events(self, type_: str) -> list[dict[str, Any]]:
        return [e.body for e in self.building.store.pending_events(100_000) if e.type == type_]

    def texts(self) -> list[str]:
        return [text for _, phone, kind, _, text in SmsStore(self.building.store).outgoing()
                if phone == DESK and kind == "notice"]


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(make_building(tmp_path))


ALL = (0, 1, 2)
OTHERS = (1, 2)


# -- the section -------------------------------------------------------------------


def test_the_section_has_safe_defaults_and_refuses_bad_values() -> None:
    place = Place("hub.toml", "supervision")
    section = build(SupervisionSection, {"mains_lost_after_s": 60}, place, Path("."))
    assert section.mains_lost_after_s == 60.0 and section.watch_silent_after_s == 3600.0
    assert section.modem_failures_for_fault == 3 and section.test_report_s == 86400.0
    for bad, says in [({"watch_silent_after_s": 0}, "greater than 0"),
                      ({"low_battery_percent": 120}, "percentage from 0 to 100"),
                      ({"modem_failures_for_fault": 0}, "at least 1"),
                      ({"mains_lost_after": 60}, "did you mean mains_lost_after_s")]:
        with pytest.raises(ConfigError, match=says):
            build(SupervisionSection, bad, place, Path("."))


# -- the pure parts ------------------------------------------------------------------


def test_durations_read_naturally_in_chinese() -> None:
    assert duration_zh(30) == "不到1分钟"
    assert duration_zh(3600) == "1小时"
    assert duration_zh(8100) == "2小时15分钟"
    assert duration_zh(3 * 86400 + 4 * 3600 + 59) == "3天4小时"


def test_a_heard_time_is_trusted_only_within_the_time_since_the_last_look() -> None:
    assert heard_age(None, 5000.0, 60.0) == 0.0
    assert heard_age(4970.0, 5000.0, 60.0) == 30.0
    assert heard_age(1000.0, 5000.0, 60.0) == 60.0  # the wall clock jumped forward
    assert heard_age(9000.0, 5000.0, 60.0) == 0.0  # ... or back


def test_a_flap_restarts_the_hold() -> None:
    state = Debounced(reported=True, seen=True, since=0.0)
    state = debounce(state, False, 0.0, 180)
    state = debounce(state, True, 100.0, 300)
    state = debounce(state, False, 110.0, 180)
    assert debounce(state, False, 289.0, 180).reported is True
    assert debounce(state, False, 290.0, 180).reported is False


# -- watches -----------------------------------------------------------------------


def test_a_silent_watch_is_reported_once_and_its_return_too(site: Site) -> None:
    site.wait(10, hearing=ALL)
    site.wait(3500, hearing=OTHERS)
    assert site.events("watch.silent") == []
    site.wait(200, hearing=OTHERS)
    [silent] = site.events("watch.silent")
    assert silent["watch"] == site.building.mac(0) and silent["name"] == "王秀英"
    assert silent["silent_for_s"] >= 3600 and silent["last_heard_at"].endswith("Z")
    assert site.texts() == ["【设备提醒】王秀英（101室）的手表已1小时没有信号，请检查。"]
    site.wait(7200, step=60, hearing=OTHERS)
    assert len(site.events("watch.silent")) == 1
    site.wait(60, hearing=ALL)
    [restored] = site.events("watch.restored")
    assert restored["watch"] == site.building.mac(0)
    assert site.texts()[-1] == "【设备提醒】王秀英（101室）的手表已恢复信号。"
    assert site.supervisor.summary()["silent"] == []


def test_a_reported_silence_is_not_reported_again_after_a_restart(site: Site) -> None:
    site.wait(3700, step=60, hearing=OTHERS)
    assert len(site.events("watch.silent")) == 3 - len(OTHERS)
    site.restart()
    site.wait(3700, step=60, hearing=OTHERS)
    assert len(site.events("watch.silent")) == 1
    site.wait(60, hearing=ALL)
    assert len(site.events("watch.restored")) == 1


def test_an_ntp_jump_does_not_make_every_watch_silent(site: Site) -> None:
    site.wait(60, hearing=ALL)
    site.building.clock.jump_wall(30 * 86400)
    site.wait(600, step=60, hearing=ALL)
    site.wait(600, step=60)
    assert site.events("watch.silent") == []


def test_low_battery_is_reported_at_most_once_a_day_until_it_is_charged(site: Site) -> None:
    mac, air = site.building.mac(0), site.building.air
    air.battery(mac, 15)
    site.wait(300, step=60, hearing=OTHERS)
    [low] = site.events("watch.battery_low")
    assert low == {"watch": mac, "resident": "r1", "name": "王秀英", "room": "101",
                   "battery": 15, "limit": 20}
    for _ in range(23):
        air.battery(mac, 15)
        site.wait(3600, step=300, hearing=OTHERS)
    assert len(site.events("watch.battery_low")) == 1
    air.battery(mac, 14)
    site.wait(3600, step=300, hearing=OTHERS)
    assert len(site.events("watch.battery_low")) == 2
    air.battery(mac, 95)  # replaced
    site.wait(300, hearing=OTHERS)
    air.battery(mac, 20)
    site.wait(300, hearing=OTHERS)
    assert [e["battery"] for e in site.events("watch.battery_low")] == [15, 14, 20]


# -- modem ---------------------------------------------------------------------------


def test_a_modem_fault_is_reported_only_after_three_failures_in_a_row(site: Site) -> None:
    site.modem_faults[:] = ["no SIM", "no SIM", None, "no SIM", "no SIM", None]
    site.wait(6 * 600, step=60, hearing=ALL)
    assert site.events("hub.modem_fault") == []
    site.modem_faults[:] = ["no network"] * 4
    site.wait(2 * 600, step=60, hearing=ALL)
    assert site.events("hub.modem_fault") == []
    site.wait(600, step=60, hearing=ALL)
    assert site.events("hub.modem_fault") == [{"fault": "no network", "failures": 3}]
    assert site.supervisor.summary()["modem"] == "fault"
    site.wait(2 * 600, step=60, hearing=ALL)
    assert len(site.events("hub.modem_fault")) == 1
    assert site.events("hub.modem_restored") == [{"fault": "no network"}]
    assert site.supervisor.summary()["modem"] == "ok"


# -- uplink ------------------------------------------------------------------------


def test_the_duty_desk_is_texted_once_when_the_server_is_unreachable_too_long(
        site: Site) -> None:
    site.online = False
    site.wait(1790, step=10, hearing=ALL)
    assert site.texts() == []
    site.wait(20, hearing=ALL)
    [text] = site.texts()
    assert "楼宇网关自" in text and "与社区服务器失去联系" in text
    site.wait(3600, step=60, hearing=ALL)
    assert len(site.texts()) == 1
    site.online = True
    site.wait(10, hearing=ALL)
    [back] = site.events("hub.uplink_restored")
    assert back["down_for_s"] >= 1800 and back["down_since"].endswith("Z")


def test_a_short_outage_texts_nobody(site: Site) -> None:
    site.online = False
    site.wait(600, hearing=ALL)
    site.online = True
    site.wait(20, hearing=ALL)
    site.online = False
    site.wait(1700, hearing=ALL)
    assert site.texts() == [] and site.events("hub.uplink_restored") == []


def test_an_outage_texted_before_a_restart_is_not_texted_again(site: Site) -> None:
    site.online = False
    site.wait(1900, step=60, hearing=ALL)
    site.restart()
    site.wait(3600, step=60, hearing=ALL)
    assert len(site.texts()) == 1
    site.online = True
    site.wait(10, hearing=ALL)
    assert len(site.events("hub.uplink_restored")) == 1


# -- mains ---------------------------------------------------------------------------


def test_mains_loss_is_reported_after_180_s_not_179(site: Site) -> None:
    clock, check = site.building.clock, site.supervisor.check_mains
    site.mains = False
    check()
    clock.advance(179)
    check()
    assert site.events("hub.mains_lost") == []
    clock.advance(1)
    check()
    assert len(site.events("hub.mains_lost")) == 1


def test_mains_is_restored_after_300_s_stable_and_a_flap_restarts_the_wait(site: Site) -> None:
    clock, check = site.building.clock, site.supervisor.check_mains
    site.mains = False
    check()
    clock.advance(180)
    check()
    site.mains = True
    check()
    clock.advance(200)
    site.mains = False  # the power flickers off again
    check()
    clock.advance(10)
    site.mains = True
    check()
    clock.advance(299)
    check()
    assert site.events("hub.mains_restored") == []
    clock.advance(1)
    check()
    assert len(site.events("hub.mains_restored")) == 1
    assert len(site.events("hub.mains_lost")) == 1


def test_mains_runs_as_a_job_and_survives_a_restart(site: Site) -> None:
    site.mains = False
    site.wait(200, step=1, hearing=ALL)
    assert len(site.events("hub.mains_lost")) == 1
    site.restart()
    site.wait(200, step=1, hearing=ALL)
    assert len(site.events("hub.mains_lost")) == 1
    site.mains = True
    site.wait(310, step=1, hearing=ALL)
    assert len(site.events("hub.mains_restored")) == 1


def test_a_hub_without_a_mains_sensor_reports_nothing(site: Site) -> None:
    site.mains = None
    site.wait(600, step=1, hearing=ALL)
    assert site.events("hub.mains_lost") == []
    assert site.supervisor.summary()["mains"] == "no sensor"


# -- the test report -----------------------------------------------------------------


def test_the_daily_test_report_goes_to_the_server_and_by_sms_after_an_outage(
        site: Site) -> None:
    site.wait(86400, step=600, hearing=OTHERS)
    [report] = site.events("hub.test_report")
    assert report["watches"] == 3 and report["heard_last_day"] == 2
    assert report["silent"] == [site.building.mac(0)]
    assert report["open_alerts"] == 0 and report["uplink"] == "connected"
    assert report["modem"] == "ok" and report["job_failures"]["modem check"] == 0
    assert not any("日报" in text for text in site.texts())
    site.online = False
    site.wait(3600, step=60, hearing=ALL)
    site.online = True
    site.wait(86400 - 3600, step=600, hearing=ALL)
    assert len(site.events("hub.test_report")) == 2
    [daily] = [text for text in site.texts() if "日报" in text]
    assert "手表3/3只一天内有信号" in daily and "服务器连接正常" in daily


# -- failures ----------------------------------------------------------------------


def test_a_failing_modem_check_is_logged_and_the_other_jobs_still_run(
        site: Site, caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> str | None:
        raise OSError("the modem port /dev/ttyUSB2 vanished")

    site.supervisor.modem_check = broken
    site.online = False
    with caplog.at_level(logging.ERROR, logger="edge.supervision.jobs"):
        site.wait(1900, step=10, hearing=OTHERS)
    assert site.jobs.failures["modem check"] == 3
    assert ("Periodic job 'modem check' failed: OSError: the modem port /dev/ttyUSB2 "
            "vanished; it runs again in 10 min.") in caplog.messages
    assert len(site.texts()) == 1  # the uplink job still ran
    [fault] = site.events("hub.modem_fault")
    assert "the check itself failed" in fault["fault"]


# -- storage ----------------------------------------------------------------------


def disk_site(folder: Path, reserve_mb: float) -> Site:
    """A site whose database is on `folder`; its checkpoints are driven by the test."""
    from edge.clock import FakeClock
    from edge.storage.disk import StorageLimits
    from tests.building import SimBuilding, Timing, make_roster

    site = Site(SimBuilding(folder / "hub.db", make_roster(3), FakeClock(), Timing(),
                            limits=StorageLimits(reserve_mb=reserve_mb, low_space_mb=0.1)))
    assert site.building.store.checkpointer is not None
    site.building.store.checkpointer.stop()  # checkpoints only when the test says
    return site


def test_a_failing_checkpoint_is_a_storage_fault_told_once_and_its_end_too(
        tmp_path: Path) -> None:
    import sqlite3

    from edge.storage.checkpoints import WAL_KEPT_BYTES
    from tests.small_disk import small_disk

    with small_disk(tmp_path, 16384) as disk:
        site = disk_site(disk.path, reserve_mb=0)
        checkpoints = site.building.store.checkpointer
        assert checkpoints is not None
        conn = sqlite3.connect(checkpoints.path)
        wal = disk.path / "hub.db-wal"
        while wal.stat().st_size <= WAL_KEPT_BYTES:  # the database file grows only at a
            site.building.air.battery(site.building.mac(0), 10)  # checkpoint, the WAL now
            site.building.air.battery(site.building.mac(0), 11)
        disk.fill()
        for _ in range(3):
            assert not checkpoints.checkpoint(conn)
        site.wait(30)
        assert len(site.events("hub.storage_fault")) == 1
        assert [t for t in site.texts() if "hub storage full" in t]
        disk.free()
        assert checkpoints.checkpoint(conn)
        site.wait(15)
        assert len(site.events("hub.storage_restored")) == 1
        site.building.air.battery(site.building.mac(0), 42)  # the next write resets the WAL
        assert checkpoints.checkpoint(conn)
        site.building.air.battery(site.building.mac(0), 43)
        assert wal.stat().st_size <= WAL_KEPT_BYTES  # it gives back what it took
        conn.close()
        site.building.store.close()


def test_a_checkpoint_on_a_full_disk_gives_up_the_reserve_and_goes_through(
        tmp_path: Path) -> None:
    import sqlite3

    from tests.small_disk import small_disk

    with small_disk(tmp_path, 4096) as disk:
        site = disk_site(disk.path, reserve_mb=1)
        store = site.building.store
        assert store.checkpointer is not None and store.guard is not None
        conn = sqlite3.connect(store.checkpointer.path)
        for n in range(40):
            site.building.air.battery(site.building.mac(0), 10 + n % 90)
        disk.fill()
        assert store.checkpointer.checkpoint(conn)
        assert store.guard.mode == "low_space" and not store.guard.reserve.held
        conn.close()
        store.close()


def test_low_space_is_a_storage_fault(tmp_path: Path) -> None:
    from edge.storage.disk import StorageLimits
    from edge.storage.store import Store

    store = Store.open(tmp_path / "hub.db", limits=StorageLimits(0, low_space_mb=10**9))
    try:
        fault = store.storage_health()["fault"]
    finally:
        store.close()
    assert fault is not None and fault.startswith("only") and "MB free" in fault
