"""The alert writes of one transaction: a press raises or joins an alert, a long press
cancels one, a state moves; each with its event in the outbox.

Nothing here commits, logs or dispatches: what a write leads to is gathered in a Pending,
which edge.alerts.hub applies once the transaction has committed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from edge.alerts import policy
from edge.alerts.dispatch import AlertChange
from edge.alerts.location import locate, to_json
from edge.alerts.reports import WatchReport
from edge.alerts.welfare import WELFARE, DueCheck
from edge.clock import Clock
from edge.domain import Alert, AlertState, Resident, Watch
from edge.storage.store import ALERT_PRIORITY, Store


class AlertTiming(Protocol):
    """The alert settings the hub needs (config.AlertSection has them)."""

    @property
    def cancel_window_s(self) -> float: ...

    @property
    def repeat_window_s(self) -> float: ...

    @property
    def fix_stale_after_s(self) -> float: ...


@dataclass(slots=True)
class Pending:
    """What one stored change leads to, applied only once its transaction committed."""

    changes: list[AlertChange] = field(default_factory=list)
    outcome: str = ""
    alert: Alert | None = None
    press: policy.PressMemory | None = None
    due: dict[str, float] = field(default_factory=dict)  # cancel windows that start
    settled: list[str] = field(default_factory=list)  # alerts whose window is over


class AlertWriter:
    """Stores presses, cancels and transitions; call its writes inside a transaction."""

    def __init__(
        self, hub_id: str, store: Store, clock: Clock, timing: AlertTiming,
        last_press: Callable[[str], policy.PressMemory | None],
    ) -> None:
        self.hub_id = hub_id
        self.store = store
        self.clock = clock
        self.timing = timing
        self._last_press = last_press  # by watch MAC (or wired input), committed presses only

    def press(self, watch: Watch, packet_id: int | None, now: float, out: Pending,
              counter: int | None = None) -> None:
        """An SOS press: a repeat changes nothing, a new press joins or raises an alert."""
        resident = self.resident(watch.resident_id)
        open_alert = self.store.open_alert_for(resident.id)
        outcome = policy.judge_press(
            open_alert, self._last_press(watch.mac), self.clock.monotonic(), packet_id,
            self.timing.repeat_window_s,
        )
        out.outcome = outcome.value
        if outcome is policy.PressOutcome.REPEAT:
            out.alert = open_alert
            return
        out.press = policy.PressMemory(self.clock.monotonic(), packet_id)
        if open_alert is not None and open_alert.kind == WELFARE:
            self._sos_over_check(open_alert, watch, resident, now, out, counter)
            return
        if outcome is policy.PressOutcome.JOIN and open_alert is not None:
            out.alert = policy.join_press(open_alert, now)
            self.store.save_alert(out.alert)
            self._event("alert.pressed_again", out.alert, resident, now)
            return
        self._raise(watch, resident, now, out, counter)

    def _sos_over_check(self, check: Alert, watch: Watch, resident: Resident, now: float,
                        out: Pending, counter: int | None) -> None:
        """A new press during an open welfare check: the check ends, handed over to an SOS
        raised in the same transaction and active at once (responders were already told
        of the check, so no cancel window holds the SOS back, and a repeat of a long press
        cannot cancel it)."""
        self.move(check, AlertState.RESOLVED, resident, out, by=resident.name,
                  reason="the resident pressed SOS during the check: it is now an SOS")
        self._raise(watch, resident, now, out, counter, window=0.0)

    def raise_check(self, check: DueCheck, now: float, out: Pending) -> None:
        """A welfare check: active at once (there is nobody to cancel it). Not raised while
        another alert is open for the resident: someone is on the way already."""
        resident = self.resident(check.resident_id)
        if self.store.open_alert_for(resident.id) is not None:
            out.outcome = "check:busy"
            return
        alert = self.store.insert_alert(resident.id, "", now, now, AlertState.RAISED,
                                        kind=WELFARE)
        self.store.save_welfare_check(alert.id, resident.id, check.rule.value, check.key,
                                      check.detail)
        self._event("alert.raised", alert, resident, now, reason=f"welfare:{check.rule}")
        out.changes.append(self.change(alert, None, resident, reason=f"welfare:{check.rule}"))
        out.outcome = "check:raised"
        out.alert = self.move(alert, AlertState.ACTIVE, resident, out,
                              reason=f"welfare check ({check.rule})")

    def _raise(self, watch: Watch, resident: Resident, now: float, out: Pending,
               counter: int | None, window: float | None = None) -> None:
        window = self.timing.cancel_window_s if window is None else window
        alert = self.store.insert_alert(resident.id, watch.mac, now, now + window,
                                        AlertState.RAISED, counter)
        self._event("alert.raised", alert, resident, now, reason="press")
        out.changes.append(self.change(alert, None, resident, reason="press"))
        if window > 0:
            out.due[alert.uid] = self.clock.monotonic() + window
            out.alert = alert
        else:
            out.alert = self.move(alert, AlertState.ACTIVE, resident, out, reason="no cancel window")

    def cancel_press(self, watch: Watch, report: WatchReport, now: float,
                     out: Pending, counter: int | None) -> None:
        """A long press: cancels an alert still in its window; with none open, an SOS."""
        resident = self.resident(watch.resident_id)
        open_alert = self.store.open_alert_for(resident.id)
        if open_alert is not None and open_alert.kind == WELFARE:  # holding it: an SOS
            self.press(watch, report.packet_id, now, out, counter)
            out.outcome = f"hold:{out.outcome}"
            return
        verdict = policy.judge_cancel(open_alert, now)
        if verdict is policy.CancelOutcome.NOTHING_OPEN:  # someone holding the button
            self.press(watch, report.packet_id, now, out, counter)
            out.outcome = f"hold:{out.outcome}"
            return
        out.outcome = f"cancel:{verdict.value}"
        if verdict is policy.CancelOutcome.CANCEL and open_alert is not None:
            out.alert = self.move(open_alert, AlertState.CANCELLED, resident, out,
                                  by=resident.name, reason="long press on the watch")
        elif open_alert is not None:
            out.alert = open_alert
            self._event("alert.cancel_refused", open_alert, resident, now,
                        reason="cancel window over; a responder must close the alert")

    def move(
        self, alert: Alert, to: AlertState, resident: Resident, out: Pending,
        by: str = "", reason: str = "",
    ) -> Alert:
        """Store one transition with its event; call inside a transaction."""
        moved = policy.transition(alert, to, self.clock.now(), by)
        self.store.save_alert(moved, by=by, reason=reason)
        self._event(f"alert.{to.value}", moved, resident, moved.updated_at, by=by, reason=reason)
        out.changes.append(self.change(moved, alert.state, resident, by, reason))
        if not to.is_open or to is AlertState.ACTIVE:
            out.settled.append(alert.uid)
        return moved

    def resident(self, resident_id: str) -> Resident:
        """The resident from the roster, or a placeholder that still names the id."""
        resident = self.store.resident(resident_id)
        if resident is None:  # roster rows are never deleted, only deactivated
            return Resident(resident_id, resident_id, "?", "unknown address")
        return resident

    def change(self, alert: Alert, previous: AlertState | None, resident: Resident,
               by: str = "", reason: str = "") -> AlertChange:
        """The change as dispatch sees it, located now."""
        fix = self.store.last_fix(alert.watch_mac)
        location = locate(resident, fix, self.clock.now(), self.timing.fix_stale_after_s)
        return AlertChange(alert, previous, resident, location, by, reason)

    def _event(self, type_: str, alert: Alert, resident: Resident, at: float,
               by: str = "", reason: str = "") -> None:
        fix = self.store.last_fix(alert.watch_mac)
        location = locate(resident, fix, at, self.timing.fix_stale_after_s)
        body: dict[str, Any] = {
            "hub": self.hub_id,
            "alert": {"uid": alert.uid, "ref": alert.ref, "state": alert.state.value,
                      "raised_at": alert.raised_at, "press_count": alert.press_count,
                      "press_counter": alert.press_counter},
            "resident": {"id": resident.id, "name": resident.name, "room": resident.room},
            "watch": alert.watch_mac, "location": to_json(location),
            "by": by, "reason": reason,
        }
        if alert.kind == WELFARE:
            rule, detail = self.store.welfare_check(alert.id) or ("", "")
            body["alert"]["kind"] = WELFARE
            body["check"] = {"rule": rule, "detail": detail}
        self.store.append_event(type_, at, body, ALERT_PRIORITY)
