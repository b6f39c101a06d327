"""The hub core: adverts in, durable alerts and events out, changes handed to dispatch.

The writes of each press, cancel and transition are edge.alerts.transitions's; the hub
runs them in transactions and acts on what they return once committed.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from edge.alerts import policy
from edge.alerts.activity import Activity, read_activity
from edge.alerts.dispatch import AlertChange, Dispatcher, LogDispatcher
from edge.alerts.gate import Admitted, FrameRefused, WatchGate
from edge.alerts.location import describe
from edge.alerts.refusals import Refusals
from edge.alerts.reports import (
    Heard,
    WatchReport,
    battery_event,
    fix_event,
    read_report,
)
from edge.alerts.transitions import AlertTiming, AlertWriter, Pending
from edge.alerts.welfare import CHECK_IN_PRESS, WELFARE, DueCheck
from edge.clock import Clock
from edge.domain import Alert, AlertState, Resident, Watch
from edge.errors import AlertError, FrameError, StoreError
from edge.storage.store import ALERT_PRIORITY, TELEMETRY_PRIORITY, Store


class Hub:
    """Owns hub state on the event loop; the store is its only memory that counts."""

    def __init__(
        self, hub_id: str, store: Store, clock: Clock, timing: AlertTiming,
        dispatcher: Dispatcher | None = None, log: logging.Logger | None = None,
    ) -> None:
        self.hub_id = hub_id
        self.store = store
        self.clock = clock
        self.timing = timing
        self.dispatcher: Dispatcher = dispatcher or LogDispatcher()
        self.gate = WatchGate(seen=lambda mac, counter, mic: self.store.frame_seen(
            mac, counter, mic), now=clock.monotonic)
        self._log = log or logging.getLogger("edge.alerts.hub")
        self._presses: dict[str, policy.PressMemory] = {}
        self._writer = AlertWriter(hub_id, store, clock, timing, self._presses.get)
        self._deadlines: dict[str, float] = {}
        self.refusals = Refusals(clock, self.gate.counts, self._log)
        self._said: dict[tuple[str, str], float] = {}
        # whether a double press is the resident's daily check-in (edge.supervision.welfare)
        self.checks_in: Callable[[str], bool] = lambda resident_id: False

    def start(self) -> list[Alert]:
        """Load the registry and resume every open alert from the store."""
        self.gate.reload(self.store.watch_records())
        for watch in self.gate.watches():
            if watch.insecure:
                self._log.warning(
                    "Watch %s is registered as insecure (plaintext, no key): anyone nearby "
                    "could fake its presses. Give it a key as soon as the device allows.",
                    watch.mac,
                )
        reopened = self.store.open_alerts()
        for alert in reopened:
            self._resume(alert)
        return reopened

    def _resume(self, alert: Alert) -> None:
        resident = self._writer.resident(alert.resident_id)
        if alert.state is AlertState.RAISED:
            wait = policy.activation_due(alert, self.clock.now(), self.timing.cancel_window_s)
            self._deadlines[alert.uid] = self.clock.monotonic() + wait
        self._log.warning(
            "Resuming open alert %s for %s (%s) after a restart.",
            alert.ref, resident.name, alert.state.value,
        )
        self._dispatch(alert, alert.state, resident, reason="resumed after restart")

    # -- adverts -----------------------------------------------------------------

    def on_advert(self, mac: str, service_data: bytes, rssi: int | None = None) -> Heard | None:
        """Handle one BTHome advert; bad or foreign input changes nothing and never raises."""
        try:
            admitted = self.gate.admit(mac, service_data)
            report = read_report(admitted.frame)
            if admitted.sensor is not None:  # a sensor never calls for help
                report = replace(report, sos=False, cancel=False, button=None)
            elif self._is_check_in(admitted.watch, report):
                report = replace(report, sos=False, check_in=True)
        except FrameRefused as refused:
            self.refusals.note(refused)
            return None
        except FrameError as error:
            self._log.warning("Ignored a frame from %s: %s.", mac, error)
            return None
        return self.keep(admitted, report, rssi)

    def keep(self, admitted: Admitted, report: WatchReport, rssi: int | None) -> Heard | None:
        """Store a frame the gate admitted and act on it. Telemetry joins the store's group
        (edge.storage.telemetry); a press, a cancel or a counter restart commits at once."""
        if not (report.sos or report.cancel or report.check_in
                or admitted.restart_from is not None):
            self._group_telemetry(admitted, report, rssi)
            self.gate.accept(admitted)
            self._tell_report(admitted.watch, report)
            return Heard(admitted.watch, report)
        try:
            pending = self.store.write(lambda: self._store_frame(admitted, report, rssi))
        except (sqlite3.Error, OSError, StoreError) as error:
            self._log.error(
                "Could not store a frame from watch %s (%s): nothing was changed; the "
                "watch's next repeat is handled as new. Check the disk.", admitted.watch.mac,
                error)
            return None
        self.gate.accept(admitted)
        if pending.press is not None:
            self._presses[admitted.watch.mac] = pending.press
        self._keep_time(pending)
        self._after_commit(admitted.watch, report, pending)
        return Heard(admitted.watch, report, pending.alert, pending.outcome)

    def _store_frame(self, admitted: Admitted, report: WatchReport, rssi: int | None) -> Pending:
        """Every write of one frame; the caller runs it in one transaction."""
        watch, now = admitted.watch, self.clock.now()
        pending = Pending()
        self._store_counter(admitted, report, now)
        self.store.note_heard(watch.mac, now, rssi)
        if report.battery is not None:
            self._store_battery(watch, report.battery, now, report.odd_battery)
        if report.fix is not None:
            self._store_fix(watch, report, now)
        for kind in read_activity(admitted.frame) if admitted.sensor else ():
            self.store.save_activity(watch.resident_id, watch.mac, kind.value, now)
        if report.check_in:
            self.store.save_activity(watch.resident_id, watch.mac, Activity.CHECK_IN.value, now)
            pending.outcome = "check_in"
        if report.sos:
            self._writer.press(watch, report.packet_id, now, pending, admitted.frame.counter)
        if report.cancel:
            self._writer.cancel_press(watch, report, now, pending, admitted.frame.counter)
        return pending

    def _is_check_in(self, watch: Watch, report: WatchReport) -> bool:
        """A double press is the daily check-in for a resident who has one, while no alert
        of theirs is open (a press during an open alert or check is a press). When that
        cannot be read (a failing disk), it is a press: a call for help is never lost."""
        if report.button != CHECK_IN_PRESS:
            return False
        try:
            return (self.checks_in(watch.resident_id)
                    and self.store.open_alert_for(watch.resident_id) is None)
        except Exception:  # noqa: BLE001 - on any doubt, the press calls for help
            self._log.exception("Could not tell whether %s's double press is the daily "
                                "check-in; taking it as a call for help.", watch.resident_id)
            return False

    def _group_telemetry(self, admitted: Admitted, report: WatchReport,
                         rssi: int | None) -> None:
        """A frame without an alert: its counter, state and events into the group."""
        watch, now, group = admitted.watch, self.clock.now(), self.store.telemetry
        group.heard(watch.mac, now, rssi, admitted.frame.counter, admitted.mic)
        if report.battery is not None:
            group.battery(watch.mac, report.battery, now)
            changed = self.store.battery_changed(watch.mac, report.battery)
            body = battery_event(watch, report.battery, report.odd_battery, changed)
            if body is not None:
                group.event("watch.battery", now, body, self.store.clock_synced())
        if report.fix is not None:
            fix, body = fix_event(watch, report, now)
            group.fix(fix)
            group.event("watch.fix", now, body, self.store.clock_synced())
        for kind in read_activity(admitted.frame) if admitted.sensor else ():
            group.seen(watch.resident_id, watch.mac, kind.value, now)
        group.added()

    def _store_counter(self, admitted: Admitted, report: WatchReport, now: float) -> None:
        """The frame's counter, a restart if it is one, and the frame in the watch's history."""
        watch, counter, mic = admitted.watch, admitted.frame.counter, admitted.mic
        if counter is None:
            return
        if admitted.restart_from is None:
            self.store.save_counter(watch.mac, counter, now)
        else:
            self.store.save_restart(watch.mac, counter, admitted.restart_from, now)
            body = {"watch": watch.mac, "resident": watch.resident_id,
                    "previous_counter": admitted.restart_from, "counter": counter}
            self.store.append_event("watch.counter_restarted", now, body, ALERT_PRIORITY)
        if mic is not None:
            self.store.record_frame(watch.mac, counter, mic, report.pressed, now)

    def _store_battery(self, watch: Watch, percent: int, now: float,
                       odd: int | None = None) -> None:
        changed = self.store.save_battery(watch.mac, percent, now)
        body = battery_event(watch, percent, odd, changed)
        if body is not None:
            self.store.append_event("watch.battery", now, body, TELEMETRY_PRIORITY)

    def _store_fix(self, watch: Watch, report: WatchReport, now: float) -> None:
        fix, body = fix_event(watch, report, now)
        self.store.save_fix(fix)
        self.store.append_event("watch.fix", now, body, TELEMETRY_PRIORITY)

    def raise_from_input(self, resident_id: str, source: str) -> Heard | None:
        """A wired pull-cord or panic button (e.g. source "GPIO17"): an SOS like a press."""
        resident = self.store.resident(resident_id)
        if resident is None:
            self._log.error("%s is wired to resident %r, who is not in the roster; the press "
                            "cannot raise an alert. Fix [panel] in the configuration.",
                            source, resident_id)
            return None
        watch = Watch(source, resident_id)  # the input stands where a watch would
        now = self.clock.now()

        def press() -> Pending:
            out = Pending()
            self._writer.press(watch, None, now, out)
            return out
        pending = self.store.write(press)
        if pending.press is not None:
            self._presses[source] = pending.press
        self._keep_time(pending)
        report = WatchReport(sos=True)
        self._after_commit(watch, report, pending)
        return Heard(watch, report, pending.alert, pending.outcome)

    def raise_check(self, check: DueCheck) -> Alert | None:
        """A welfare check is due (edge.alerts.welfare): store it, then tell dispatch."""
        now = self.clock.now()

        def write() -> Pending:
            out = Pending()
            self._writer.raise_check(check, now, out)
            return out
        pending = self.store.write(write)
        self._announce(pending.changes)
        return pending.alert if pending.outcome == "check:raised" else None

    def acknowledge_open(self, by: str) -> list[Alert]:
        """Someone is on site (the hub's button): every open alert is taken."""
        taken = []
        for alert in self.store.open_alerts():
            try:
                taken.append(self.acknowledge(alert.ref, by))
            except AlertError as error:  # closed meanwhile by another path
                self._log.info("Alert %s: %s", alert.ref, error)
        return taken

    # -- time and people ------------------------------------------------------------

    def tick(self) -> list[Alert]:
        """Activate every alert whose cancel window has passed; call often. An activation
        that cannot be stored stays due and is tried again on the next tick."""
        mono = self.clock.monotonic()
        activated: list[Alert] = []
        for uid in [uid for uid, due in self._deadlines.items() if due <= mono]:
            try:
                moved = self._activate(uid)
            except (sqlite3.Error, OSError, StoreError) as error:
                self._log.error("Could not store that alert %s is active (%s); trying again "
                                "on the next tick.", uid, error)
                continue
            self._deadlines.pop(uid, None)
            if moved is not None:
                activated.append(moved)
        return activated

    def next_due(self, now: float) -> float | None:
        """When tick() next has work (monotonic): the end of the earliest cancel window."""
        return min(self._deadlines.values(), default=None)

    def _activate(self, uid: str) -> Alert | None:
        alert = self.store.alert(uid)
        if alert is None or alert.state is not AlertState.RAISED:
            return None
        return self._change_state(alert, AlertState.ACTIVE, reason="cancel window passed")

    def _change_state(self, alert: Alert, to: AlertState, by: str = "",
                      reason: str = "") -> Alert:
        """Store one transition (again, if the disk made the store move), then tell."""
        resident = self._writer.resident(alert.resident_id)

        def move() -> tuple[Alert, Pending]:
            out = Pending()
            return self._writer.move(alert, to, resident, out, by=by, reason=reason), out
        moved, out = self.store.write(move)
        self._keep_time(out)
        self._announce(out.changes)
        return moved

    def _keep_time(self, committed: Pending) -> None:
        """Cancel windows that started or ended in a transaction that has committed."""
        self._deadlines.update(committed.due)
        for uid in committed.settled:
            self._deadlines.pop(uid, None)

    def acknowledge(self, ref: str, by: str) -> Alert:
        """A responder has taken the alert."""
        return self._close(ref, AlertState.ACKNOWLEDGED, by, "acknowledged")

    def resolve(self, ref: str, by: str) -> Alert:
        """The responder is done: the resident is safe."""
        return self._close(ref, AlertState.RESOLVED, by, "resolved")

    def _close(self, ref: str, to: AlertState, by: str, reason: str) -> Alert:
        alert = self.store.alert(ref)
        if alert is None:
            raise AlertError(f"no alert {ref!r}; list alerts to see their references")
        return self._change_state(alert, to, by, reason)

    # -- after the commit ------------------------------------------------------------

    def _after_commit(self, watch: Watch, report: WatchReport, pending: Pending) -> None:
        self._tell_report(watch, report)
        if pending.outcome == policy.PressOutcome.JOIN.value and pending.alert:
            self._log.warning("Another press for open alert %s (%d presses so far).",
                              pending.alert.ref, pending.alert.press_count)
        if pending.outcome == "check_in":
            self._log.info("Resident %s checked in for the day (double press on %s).",
                           watch.resident_id, watch.mac)
        if pending.outcome == "cancel:too_late" and pending.alert:
            self._log.warning(
                "Long press on %s came after the cancel window; alert %s stays open "
                "until a responder closes it.", watch.mac, pending.alert.ref)
        self._announce(pending.changes)

    def _tell_report(self, watch: Watch, report: WatchReport) -> None:
        """The log lines of what the frame reported besides an alert."""
        if report.odd_battery is not None and self._say_once_an_hour(("battery", watch.mac)):
            self._log.warning("Watch %s reported a battery level of %d%%, which cannot be; "
                              "stored as %d%% and flagged. Check the watch's firmware.",
                              watch.mac, report.odd_battery, report.battery)
        elif report.battery is not None and report.odd_battery is None:
            self._log.debug("Watch %s reports battery %d%%.", watch.mac, report.battery)
        if report.fix is not None:
            self._log.info("Watch %s sent a position fix (±%.0f m).", watch.mac,
                           report.fix.accuracy_m)

    def _say_once_an_hour(self, about: tuple[str, str]) -> bool:
        mono = self.clock.monotonic()
        if mono - self._said.get(about, float("-inf")) < 3600:
            return False
        self._said[about] = mono
        return True

    def _announce(self, changes: list[AlertChange]) -> None:
        for change in changes:
            self._narrate(change)
            self._dispatch(change.alert, change.previous, change.resident, change.by,
                           change.reason, change.location)

    def _dispatch(self, alert: Alert, previous: AlertState | None, resident: Resident,
                  by: str = "", reason: str = "", location: Any = None) -> None:
        if location is None:
            location = self._writer.change(alert, previous, resident).location
        change = AlertChange(alert, previous, resident, location, by, reason)
        try:
            self.dispatcher.alert_changed(change)
        except Exception:  # dispatch must never undo or block the stored alert
            self._log.exception("Dispatch failed for alert %s; it stays stored and open.",
                                alert.ref)

    def _narrate(self, change: AlertChange) -> None:
        alert, who = change.alert, change.resident
        place = describe(change.location)
        if alert.kind == WELFARE and alert.state in (AlertState.RAISED, AlertState.ACTIVE):
            if alert.state is AlertState.ACTIVE:
                self._log.warning("Welfare check %s for %s (room %s): %s. The duty desk is "
                                  "told first, then family, until someone takes it.",
                                  alert.ref, who.name, who.room, change.reason)
            return
        messages = {
            AlertState.RAISED: f"SOS from {who.name} (room {who.room}): alert {alert.ref} "
            f"raised. It goes to responders in {self.timing.cancel_window_s:.0f} s unless "
            "cancelled with a long press.",
            AlertState.ACTIVE: f"Alert {alert.ref} for {who.name} is active: responders "
            f"must come. Location: {place}.",
            AlertState.CANCELLED: f"Alert {alert.ref} for {who.name} was cancelled "
            f"({change.reason}).",
            AlertState.ACKNOWLEDGED: f"Alert {alert.ref} for {who.name} was taken by "
            f"{change.by}.",
            AlertState.RESOLVED: f"Alert {alert.ref} for {who.name} is resolved by "
            f"{change.by}.",
        }
        self._log.warning(messages[alert.state])
