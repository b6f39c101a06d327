"""Supervision of the watches: each one silent too long, or low on battery (a part of
edge.supervision.checks.Supervisor).

A silent watch is reported once and again when it is heard; a low battery at most once a
day until it is charged. How long a watch has been silent is measured on the monotonic
clock; the wall clock's last_heard_at is trusted only within the time since the last look.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any, Protocol

from edge.clock import Clock, utc_text
from edge.config.supervision import SupervisionSection
from edge.domain import Resident
from edge.storage.store import Store

DAY_S = 86400.0
_log = logging.getLogger("edge.supervision.checks")


def heard_age(last_heard_at: float | None, wall_now: float, since_last_look: float) -> float:
    """How long ago a newly seen last_heard_at was, trusting the wall clock only within
    the monotonic time since we last looked (NTP may have stepped it meanwhile)."""
    if last_heard_at is None:
        return 0.0
    return min(max(0.0, wall_now - last_heard_at), since_last_look)


def duration_zh(seconds: float) -> str:
    """'2小时15分钟', '3天4小时', '不到1分钟'."""
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{days}天" if days else "", f"{hours}小时" if hours else "",
             f"{mins}分钟" if mins and not days else ""]
    return "".join(parts) or "不到1分钟"


class _Watching(Protocol):
    store: Store
    clock: Clock
    section: SupervisionSection
    _state: dict[str, str]
    _heard: dict[str, tuple[float | None, float]]  # mac: (last_heard_at, monotonic heard)
    _last_look: float | None

    def _report(self, type_: str, body: dict[str, Any], desk_text: str | None = None,
                resident_id: str = "", *, state: tuple[str, Any] | None = None) -> None: ...

    def _set_state(self, key: str, value: Any) -> None: ...

    def _forget_removed(self, prefix: str, active: set[str]) -> None: ...

    def _person(self, resident_id: str) -> Resident: ...

    # WatchChecks' own helpers, called through the same self
    def _heard_mono(self, mac: str, last: float | None, wall: float, mono: float) -> float: ...

    def _watch_silent(self, mac: str, resident_id: str, last: float | None,
                      silent_for: float, device: str) -> None: ...

    def _watch_restored(self, mac: str, resident_id: str, reported: dict[str, Any],
                        device: str, handed_over: bool = False) -> None: ...

    def _battery_low(self, mac: str, resident_id: str, battery: int, key: str,
                     wall: float) -> None: ...


class WatchChecks:
    """The checks; the Supervisor gives them its store, clock, section and ways to report."""

    _heard: dict[str, tuple[float | None, float]]  # set up by the Supervisor
    _last_look: float | None

    def check_silence(self: _Watching) -> None:
        """Report each watch of this building's residents once when it falls silent, and
        again when it is heard.

        A watch never heard counts as heard when the supervisor started.
        """
        wall, mono = self.clock.now(), self.clock.monotonic()
        active, statuses, served = set(), self.store.watch_statuses(), self.store.served_here()
        for record in self.store.watch_records():
            watch = record.watch
            if watch.resident_id not in served:  # another building's: its own hub hears it
                reported = self._state.get(f"silent:{watch.mac}")
                if reported is not None:  # said silent here before: no longer ours to say
                    self._watch_restored(watch.mac, watch.resident_id, json.loads(reported),
                                         record.device, handed_over=True)
                continue
            active.add(watch.mac)
            last = statuses.get(watch.mac, {}).get("last_heard_at")
            reported = self._state.get(f"silent:{watch.mac}")
            silent_for = mono - self._heard_mono(watch.mac, last, wall, mono)
            if reported is not None:
                if last is not None and last != json.loads(reported)["last_heard_at"]:
                    self._watch_restored(watch.mac, watch.resident_id, json.loads(reported),
                                         record.device)
            elif silent_for >= (self.section.watch_silent_after_s if record.sensor is None
                                else self.section.sensor_silent_after_s):
                self._watch_silent(watch.mac, watch.resident_id, last, silent_for, record.device)
        self._last_look = mono
        self._forget_removed("silent:", active)

    def _heard_mono(self: _Watching, mac: str, last: float | None, wall: float,
                    mono: float) -> float:
        known = self._heard.get(mac)
        if known is not None and known[0] == last:
            return known[1]
        since_look = math.inf if self._last_look is None else mono - self._last_look
        heard = mono - heard_age(last, wall, since_look)
        self._heard[mac] = (last, heard)
        return heard

    def _watch_silent(self: _Watching, mac: str, resident_id: str, last: float | None,
                      silent_for: float, device: str) -> None:
        person = self._person(resident_id)
        body = {"watch": mac, "resident": resident_id, "name": person.name,
                "room": person.room, "last_heard_at": None if last is None else utc_text(last),
                "silent_for_s": round(silent_for)}
        text = (f"【设备提醒】{person.name}（{person.room}室）的{device}已{duration_zh(silent_for)}"
                "没有信号，请检查。")
        record = {"last_heard_at": last, "reported_at": self.clock.now()}
        self._report("watch.silent", body, text, resident_id, state=(f"silent:{mac}", record))
        _log.warning("The watch of %s (room %s, %s) has not been heard for %s; the duty "
                     "desk was told.", person.name, person.room, mac, _hours(silent_for))

    def _watch_restored(self: _Watching, mac: str, resident_id: str,
                        reported: dict[str, Any], device: str, handed_over: bool = False) -> None:
        """The watch is heard again; or (`handed_over`) it is another building's, whose hub
        judges it: the server's fault is closed here, and nobody is texted."""
        person = self._person(resident_id)
        body = {"watch": mac, "resident": resident_id, "name": person.name,
                "room": person.room, "silent_reported_at": utc_text(reported["reported_at"])}
        if handed_over:
            self._report("watch.restored", {**body, "handed_over": True}, None, resident_id,
                         state=(f"silent:{mac}", None))
            _log.info("The watch of %s (room %s, %s) is another building's: its own hub "
                      "says when it is silent, this one no longer does.", person.name,
                      person.room, mac)
            return
        text = f"【设备提醒】{person.name}（{person.room}室）的{device}已恢复信号。"
        self._report("watch.restored", body, text, resident_id, state=(f"silent:{mac}", None))
        _log.info("The watch of %s (room %s, %s) is heard again.", person.name, person.room, mac)

    def check_batteries(self: _Watching) -> None:
        """Report a low battery at most once a day per watch, until it is charged or replaced."""
        wall, limit = self.clock.now(), self.section.low_battery_percent
        active, statuses = set(), self.store.watch_statuses()
        for record in self.store.served_records():  # another building's: its own hub's
            mac, resident_id = record.watch.mac, record.watch.resident_id
            active.add(mac)
            battery = statuses.get(mac, {}).get("battery")
            key = f"battery_low:{mac}"
            if battery is None:
                continue
            if battery > limit:
                if key in self._state:
                    self._set_state(key, None)
                    _log.info("The battery of watch %s is at %d%% again.", mac, battery)
                continue
            last = self._state.get(key)
            if last is None or abs(wall - float(last)) >= DAY_S:
                self._battery_low(mac, resident_id, battery, key, wall)
        self._forget_removed("battery_low:", active)

    def _battery_low(self: _Watching, mac: str, resident_id: str, battery: int, key: str,
                     wall: float) -> None:
        person = self._person(resident_id)
        body = {"watch": mac, "resident": resident_id, "name": person.name,
                "room": person.room, "battery": battery,
                "limit": self.section.low_battery_percent}
        self._report("watch.battery_low", body, state=(key, wall))
        _log.warning("The battery of %s's watch (room %s, %s) is at %d%%: charge or replace "
                     "it.", person.name, person.room, mac, battery)


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"

