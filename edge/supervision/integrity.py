"""Supervision of what keeps alerts true: the store's disk, watches whose counter
restarted, and exact copies of old SOS frames (a part of edge.supervision.checks.Supervisor)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from edge.clock import Clock
from edge.domain import Resident
from edge.storage.store import Store

REPLAY_TOLD_EVERY_S = 600.0
_log = logging.getLogger("edge.supervision.checks")


class _Reporting(Protocol):
    store: Store
    clock: Clock
    _state: dict[str, str]
    replayed_sos: Callable[[], dict[str, int]]

    def _report(self, type_: str, body: dict[str, Any], desk_text: str | None = None,
                resident_id: str = "", *, state: tuple[str, Any] | None = None) -> None: ...

    def _text_desk(self, text: str, about: str, resident_id: str = "") -> None: ...

    def _set_state(self, key: str, value: Any) -> None: ...

    def _person(self, resident_id: str) -> Resident: ...


class IntegrityChecks:
    """The checks; the Supervisor gives them its store, clock and ways to report."""

    def check_counter_restarts(self: _Reporting) -> None:
        """Text the duty desk once for each watch whose counter restarted (a battery
        change; if nobody changed it, someone may be sending copies of unheard frames)."""
        seen = float(self._state.get("restarts_seen", "0"))
        rows = self.store.db.execute(
            "SELECT mac, restarted_at FROM watch_counters WHERE restarted_at > ? "
            "ORDER BY restarted_at", [seen]).fetchall()
        for mac, at in rows:
            record = next((r for r in self.store.watch_records() if r.watch.mac == mac), None)
            person = self._person(record.watch.resident_id if record else "")
            text = (f"【设备提醒】{person.name}（{person.room}室）的手表计数器已重新开始，"
                    "通常是刚换过电池。如果没有换电池，请检查手表。")
            def tell(text: str = text, at: float = at, rid: str = person.id) -> None:
                self._text_desk(text, "watch.counter_restarted", rid)
                self._set_state("restarts_seen", at)
            self.store.write(tell)  # the event itself was written with the frame
            _log.warning("The watch of %s (%s) restarted its counter; the duty desk was told.",
                         person.name, mac)

    def check_replayed_sos(self: _Reporting) -> None:
        """An exact copy of an old SOS was refused: a replay, or the watch's first press
        after a battery change that came out identical to an old one. Only a person can
        tell, so the duty desk is asked to check on the resident (at most every 10 min)."""
        for mac, copies in self.replayed_sos().items():
            record = next((r for r in self.store.watch_records() if r.watch.mac == mac), None)
            person = self._person(record.watch.resident_id if record else "")
            key, wall = f"replay_told:{mac}", self.clock.now()
            told = self._state.get(key)
            body = {"watch": mac, "resident": person.id, "name": person.name, "copies": copies}
            text = None
            if told is None or wall - float(told) >= REPLAY_TOLD_EVERY_S:
                text = (f"【安全提醒】{person.name}（{person.room}室）的手表发出了与以前完全相同"
                        f"的求助信号（{copies}次），已拦截：可能有人在重放录下的信号，也可能是"
                        "刚换电池后按了按钮。请联系老人确认是否需要帮助。")
            self._report("security.sos_replayed", body, text, person.id,
                         state=(key, wall) if text else None)
            _log.warning("Exact copies of an old SOS from the watch of %s (%s) were refused; "
                         "%s", person.name, mac, "the duty desk is asked to check on them."
                         if text else "the duty desk was asked already.")

    def check_storage(self: _Reporting) -> None:
        """Write back what the store kept in memory once the disk allows; report a full or
        failing disk once (event and duty desk text) and again when it is fixed."""
        self.store.recover_storage()
        health = self.store.storage_health()
        fault, reported = health["fault"], self._state.get("storage_fault")
        if fault is not None and reported is None:
            text = (f"【设备提醒】楼宇网关存储空间已满（hub storage full）：{_storage_zh(health)}。"
                    "报警仍会发出，请尽快清理空间或更换SD卡。")
            self._report("hub.storage_fault", health, text, state=("storage_fault", fault))
            _log.error("Storage fault: %s. Alerts still go out; the duty desk and the server "
                       "were told.", fault)
        elif fault is None and reported is not None:
            self._report("hub.storage_restored", {**health, "was": reported},
                         state=("storage_fault", None))
            _log.warning("The hub's storage is healthy again (it had: %s).", reported)


def _storage_zh(health: dict[str, Any]) -> str:
    if health["mode"] == "memory":
        return "数据库无法写入，报警暂存内存"
    if health["free_mb"] is not None:
        return f"剩余{health['free_mb']}MB"
    return "数据库写入失败"
