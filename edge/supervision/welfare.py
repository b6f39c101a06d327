"""The welfare job: reads each resident's facts from the store, asks the pure rules
(edge.alerts.welfare) which checks are due, and raises each occurrence once through the
hub, as an alert of its own kind. Away spells end here when they run out."""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from edge.alerts.hub import Hub
from edge.alerts.welfare import Facts, OpenDoor, WelfareRules, due_checks
from edge.clock import Clock, utc_text
from edge.config.welfare import WelfareSection
from edge.domain import Alert, SensorKind
from edge.storage.welfare_tables import ACTIVITY_KEPT_S, Watched

_log = logging.getLogger("edge.supervision.welfare")


class WelfareChecks:
    """Looks at every resident's rules; `check` is the job, run every check_every_s."""

    def __init__(self, hub: Hub, section: WelfareSection, timezone: str,
                 clock: Clock | None = None) -> None:
        self.hub, self.store, self.section = hub, hub.store, section
        self.clock = clock or hub.clock
        self.zone = ZoneInfo(timezone)
        self._rules: dict[str, WelfareRules] = {}  # each resident's, worked out once

    def rules_for(self, resident_id: str) -> WelfareRules:
        """The resident's rules (the section's, read once: it only changes with hub.toml)."""
        rules = self._rules.get(resident_id)
        if rules is None:
            rules = self._rules[resident_id] = self.section.rules_for(resident_id)
        return rules

    def check(self) -> list[Alert]:
        """Raise every check that is due and was not raised before; returns them."""
        self.store.flush_telemetry()  # activity of this loop turn counts
        now, raised = self.clock.now(), []
        sensors = self.store.sensors()
        places = {s.mac: s.place for s in sensors}
        with_sensors = {s.resident_id for s in sensors}
        doors = {s.mac for s in sensors if s.kind is SensorKind.DOOR}
        for resident_id, watched in self._watched(now).items():
            try:  # one resident's trouble must not keep the others from being looked at
                facts = self._facts(resident_id, watched, resident_id in with_sensors, doors,
                                    places)
                raised += self._raise_due(resident_id, facts, now)
            except Exception:  # noqa: BLE001
                _log.exception("The welfare rules could not be checked for resident %s; the "
                               "others are, and %s is looked at again next time.",
                               resident_id, resident_id)
        return raised

    def forget_old_activity(self) -> int:
        """The hourly job: what sensors saw more than ACTIVITY_KEPT_S ago is forgotten, but
        each sensor's latest of each kind (WelfareTables.forget_activity)."""
        before = self.clock.now() - ACTIVITY_KEPT_S
        return self.store.write(lambda: self.store.forget_activity(before), durable=False)

    def _raise_due(self, resident_id: str, facts: Facts, now: float) -> list[Alert]:
        raised = []
        for check in due_checks(self.rules_for(resident_id), facts, now, self.zone):
            if self.store.welfare_checked(resident_id, check.key):
                continue
            alert = self.hub.raise_check(check)
            if alert is not None:
                raised.append(alert)
        return raised

    def takes_check_in(self, resident_id: str) -> bool:
        """Whether a double press of the resident's watch is their check-in: they have a
        daily check-in and have not checked in yet today (local time). A second double
        press the same day is a call for help like any press. So is one of a resident of
        another building (visiting): her check-in is her own building's hub's to see."""
        if self.rules_for(resident_id).check_in_by is None \
                or resident_id not in self.store.served_here():
            return False
        last = self.store.activity_facts(resident_id).last_check_in
        now = datetime.fromtimestamp(self.clock.now(), self.zone)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        return last is None or last < midnight

    def _watched(self, now: float) -> dict[str, Watched]:
        """Since when each resident of this building is watched (from now, the first time),
        in one transaction; an away spell that has run out ends, and time counts from its
        end. Another building's residents are their own hub's (Store.served_here)."""
        def read() -> dict[str, Watched]:
            found = self.store.watched_all(sorted(self.store.served_here()), now)
            for resident_id, watched in found.items():
                if watched.away_until is not None and now >= watched.away_until:
                    self.store.end_away(resident_id, watched.away_until)
                    found[resident_id] = Watched(watched.away_until)
                    _log.info("The away spell of resident %s ended at %s; the welfare rules "
                              "watch again from then.", resident_id,
                              utc_text(watched.away_until))
            return found
        return self.store.write(read)

    def _facts(self, resident_id: str, watched: Watched, has_sensors: bool, doors: set[str],
               places: dict[str, str]) -> Facts:
        seen = self.store.activity_facts(resident_id)
        open_doors = tuple(OpenDoor(mac, places.get(mac, ""), at) for mac, kind, at in seen.doors
                           if kind == "door_open" and mac in doors)
        return Facts(resident_id, watched.since, has_sensors, seen.last_any, open_doors,
                     seen.last_check_in, watched.away_until)
