"""The hub supervises itself and its watches and reports each fault over every path that works.

Silent watches, low batteries, modem faults, uplink outages and mains loss each become an
outbox event (alert priority, so the server hears them first) and a plain log line; the
duty desk is texted where the server may not be listening. Intervals are measured on the
monotonic clock; what must survive a restart sits in the supervision_state table.
The watches' checks are in edge.supervision.watches; the store's and the watches' frames'
in edge.supervision.integrity.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from edge.clock import Clock, utc_text
from edge.config.supervision import SupervisionSection
from edge.domain import Contact, Resident, Role
from edge.sms.texts import SmsStore
from edge.storage.store import ALERT_PRIORITY, Store
from edge.supervision.integrity import IntegrityChecks
from edge.supervision.jobs import Jobs
from edge.supervision.watches import DAY_S, WatchChecks

WATCH_CHECK_S = 60.0
BATTERY_CHECK_S = 300.0
UPLINK_CHECK_S = 10.0
MAINS_CHECK_S = 1.0
STORAGE_CHECK_S = 15.0
_log = logging.getLogger("edge.supervision.checks")


# -- pure core -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Debounced:
    """An on/off reading whose reported value changes only once the new one has held."""

    reported: bool
    seen: bool
    since: float  # monotonic time when `seen` began


def debounce(state: Debounced, observed: bool, mono: float, hold_s: float) -> Debounced:
    """The next state after observing `observed`; a flap restarts the hold."""
    if observed != state.seen:
        state = Debounced(state.reported, observed, mono)
    if state.seen != state.reported and mono - state.since >= hold_s:
        state = replace(state, reported=state.seen)
    return state


# -- the supervisor --------------------------------------------------------------


class Supervisor(IntegrityChecks, WatchChecks):
    """Periodic checks of watches, modem, uplink, mains, storage and the watches' frames;
    register() them on Jobs."""

    def __init__(self, store: Store, sms: SmsStore, clock: Clock, section: SupervisionSection,
                 *, uplink_connected: Callable[[], bool], modem_check: Callable[[], str | None],
                 mains_present: Callable[[], bool | None] | None = None,
                 timezone: str = "Asia/Shanghai") -> None:
        self.store, self.sms, self.clock, self.section = store, sms, clock, section
        self.uplink_connected = uplink_connected
        self.modem_check = modem_check
        self.mains_present = mains_present  # None: no mains sensor is wired
        self.zone = ZoneInfo(timezone)
        self.jobs: Jobs | None = None
        self.modem_failures = 0
        self.modem_last: str | None = None  # None until checked, "" when healthy
        self._heard: dict[str, tuple[float | None, float]] = {}
        self._last_look: float | None = None
        self._down_since: tuple[float, float] | None = None  # (monotonic, wall)
        self._outage_since_report = False
        self._mains: Debounced | None = None
        rows = store.db.execute("SELECT key, value FROM supervision_state").fetchall()
        self._state: dict[str, str] = {key: value for key, value in rows}
        # Exact copies of SOS frames heard, by watch (Hub.take_replayed_sos).
        self.replayed_sos: Callable[[], dict[str, int]] = dict

    def register(self, jobs: Jobs) -> None:
        """Schedule every check on the hub's one scheduler."""
        self.jobs = jobs
        jobs.every(WATCH_CHECK_S, "watch silence", self.check_silence)
        jobs.every(BATTERY_CHECK_S, "watch battery", self.check_batteries)
        jobs.every(self.section.modem_check_s, "modem check", self.check_modem)
        jobs.every(UPLINK_CHECK_S, "uplink", self.check_uplink)
        if self.mains_present is not None:  # no sensor wired: nothing to look at
            jobs.every(MAINS_CHECK_S, "mains power", self.check_mains)
        jobs.every(self.section.test_report_s, "test report", self.send_test_report)
        jobs.every(STORAGE_CHECK_S, "storage", self.check_storage)
        jobs.every(WATCH_CHECK_S, "counter restarts", self.check_counter_restarts)
        jobs.every(WATCH_CHECK_S, "replayed SOS", self.check_replayed_sos)

    # -- modem -----------------------------------------------------------------

    def check_modem(self) -> None:
        """A fault only after modem_failures_for_fault failed checks in a row."""
        try:
            fault = self.modem_check()
        except Exception as error:
            self._modem_failed(f"the check itself failed ({error})")
            raise
        if fault is None:
            self._modem_ok()
        else:
            self._modem_failed(fault)

    def _modem_failed(self, fault: str) -> None:
        self.modem_failures += 1
        self.modem_last = fault
        needed = self.section.modem_failures_for_fault
        if self.modem_failures < needed or "modem_fault" in self._state:
            _log.warning("Modem check failed: %s (%d in a row; a fault is reported after %d).",
                         fault, self.modem_failures, needed)
            return
        body = {"fault": fault, "failures": self.modem_failures}
        self._report("hub.modem_fault", body, state=("modem_fault", fault))
        _log.error("The modem is faulty: %s. Alarms cannot be texted until it recovers; the "
                   "community server was told.", fault)

    def _modem_ok(self) -> None:
        self.modem_failures, self.modem_last = 0, ""
        fault = self._state.get("modem_fault")
        if fault is not None:
            self._report("hub.modem_restored", {"fault": fault}, state=("modem_fault", None))
            _log.info("The modem works again (it had: %s).", fault)

    # -- uplink ------------------------------------------------------------------

    def check_uplink(self) -> None:
        """Text the duty desk once when the server has been unreachable too long."""
        if self.uplink_connected():
            self._uplink_back()
            return
        mono, wall = self.clock.monotonic(), self.clock.now()
        if self._down_since is None:
            stored = self._state.get("uplink_down")
            self._down_since = (mono, float(stored) if stored else wall)
        if "uplink_down" in self._state:
            return
        if mono - self._down_since[0] >= self.section.uplink_down_sms_after_s:
            since = self._down_since[1]
            text = (f"【设备提醒】楼宇网关自{self._local(since)}起与社区服务器失去联系，"
                    "报警仍会用短信发出，请检查网络。")
            with self.store.transaction():
                self._text_desk(text, "uplink down")
                self._set_state("uplink_down", since)
            self._outage_since_report = True
            _log.warning("The community server has been unreachable since %s; the duty desk "
                         "was texted.", utc_text(since))

    def _uplink_back(self) -> None:
        stored = self._state.get("uplink_down")
        down = self._down_since
        self._down_since = None
        if stored is None:
            return
        down_for = None if down is None else round(self.clock.monotonic() - down[0])
        body = {"down_since": utc_text(float(stored)), "down_for_s": down_for}
        self._report("hub.uplink_restored", body, state=("uplink_down", None))
        _log.info("The community server is reachable again (it was not since %s).",
                  utc_text(float(stored)))

    # -- mains -----------------------------------------------------------------------

    def check_mains(self) -> None:
        """Mains lost after mains_lost_after_s without a break; restored after a stable spell."""
        present = None if self.mains_present is None else self.mains_present()
        if present is None:
            return
        mono = self.clock.monotonic()
        before = self._mains or Debounced("mains_lost" not in self._state, present, mono)
        hold = self.section.mains_restored_after_s if present else self.section.mains_lost_after_s
        self._mains = after = debounce(before, present, mono, hold)
        if after.reported == before.reported:
            return
        since = utc_text(self.clock.now() - (mono - after.since))
        if after.reported:
            self._report("hub.mains_restored", {"since": since}, state=("mains_lost", None))
            _log.info("Mains power is back and stable since %s.", since)
        else:
            self._report("hub.mains_lost", {"since": since}, state=("mains_lost", since))
            _log.warning("Mains power has been lost since %s; the hub runs on its battery.",
                         since)

    # -- test report ------------------------------------------------------------------

    def send_test_report(self) -> dict[str, Any]:
        """The periodic test report; also texted to the duty desk after an outage."""
        body = self.summary()
        text = None
        if body["uplink"] != "connected" or self._outage_since_report:
            text = (f"【网关日报】{self._local(self.clock.now())}：手表{body['heard_last_day']}/"
                    f"{body['watches']}只一天内有信号，{len(body['silent'])}只无信号，"
                    f"未处理报警{body['open_alerts']}条，短信模块{_zh(body['modem'])}，"
                    f"服务器连接{_zh(body['uplink'])}。")
        self._report("hub.test_report", body, text)
        self._outage_since_report = False
        _log.info("Test report: %d of %d watches heard in the last day, %d silent, %d open "
                  "alerts, modem %s, uplink %s.", body["heard_last_day"], body["watches"],
                  len(body["silent"]), body["open_alerts"], body["modem"], body["uplink"])
        return body

    def summary(self) -> dict[str, Any]:
        """What the test report says, as a dict."""
        wall = self.clock.now()
        statuses = self.store.watch_statuses()
        heard = [statuses.get(r.watch.mac, {}).get("last_heard_at")
                 for r in self.store.served_records()]  # this building's, as `silent` is
        modem = ("unchecked" if self.modem_last is None else
                 "fault" if "modem_fault" in self._state else "ok")
        mains = ("no sensor" if self._mains is None else
                 "present" if self._mains.reported else "lost")
        return {
            "watches": len(heard),
            "heard_last_day": sum(1 for at in heard if at is not None and wall - at <= DAY_S),
            "silent": sorted(k.split(":", 1)[1] for k in self._state if k.startswith("silent:")),
            "open_alerts": len(self.store.open_alerts()),
            "modem": modem, "modem_fault": self._state.get("modem_fault"),
            "uplink": "connected" if self.uplink_connected() else "down",
            "mains": mains,
            "job_failures": dict(self.jobs.failures) if self.jobs else {},
        }

    # -- plumbing ---------------------------------------------------------------------

    def _report(self, type_: str, body: dict[str, Any], desk_text: str | None = None,
                resident_id: str = "", *, state: tuple[str, Any] | None = None) -> None:
        """One transaction: the event, the duty desk's texts and the remembered state."""
        now = self.clock.now()

        def write() -> None:
            self.store.append_event(type_, now, body, ALERT_PRIORITY)
            if desk_text is not None:
                self._text_desk(desk_text, type_, resident_id)
            if state is not None:
                self._set_state(*state)
        self.store.write(write)

    def _text_desk(self, text: str, about: str, resident_id: str = "") -> None:
        desk = self._desk(resident_id)
        if not desk:
            _log.warning("No duty desk contact is configured, so the notice about %s was not "
                         "texted; add a contact with role duty_desk.", about)
        with self.store.transaction():
            for contact in desk:
                self.sms.enqueue(contact.phone, "notice", text, self.clock.now(),
                                 contact_id=contact.id)

    def _desk(self, resident_id: str) -> list[Contact]:
        """Duty desk contacts; with "" (no resident has it) only the building-wide ones."""
        phones: set[str] = set()
        desk = []
        for contact in self.store.contacts_for(resident_id):
            if contact.role is Role.DUTY_DESK and contact.phone not in phones:
                phones.add(contact.phone)
                desk.append(contact)
        return desk

    def _set_state(self, key: str, value: Any) -> None:
        """Remember (or, with None, forget) a value across restarts; in the caller's transaction."""
        with self.store.transaction():
            if value is None:
                self.store.db.execute("DELETE FROM supervision_state WHERE key = ?", [key])
                self._state.pop(key, None)
                return
            text = value if isinstance(value, str) else json.dumps(value)
            self.store.db.execute(
                "INSERT INTO supervision_state (key, value) VALUES (?, ?) ON CONFLICT(key) "
                "DO UPDATE SET value = excluded.value", [key, text])
            self._state[key] = text

    def _forget_removed(self, prefix: str, active: set[str]) -> None:
        for key in [k for k in self._state if k.startswith(prefix)]:
            if key[len(prefix):] not in active:
                self._set_state(key, None)

    def _person(self, resident_id: str) -> Resident:
        return self.store.resident(resident_id) or Resident(resident_id, resident_id, "?", "")

    def _local(self, epoch: float) -> str:
        return datetime.fromtimestamp(epoch, self.zone).strftime("%m月%d日 %H:%M")


def _zh(state: str) -> str:
    return {"ok": "正常", "fault": "故障", "unchecked": "未检查", "connected": "正常",
            "down": "中断"}.get(state, state)
