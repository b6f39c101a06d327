"""The seam between the alert core and whoever tells people: SMS, server, panel.

The hub calls `Dispatcher.alert_changed` after every stored alert change, never before
the change is committed. The GSM modem path and the server uplink plug in here (later
issues); until then `LogDispatcher` says in the log what would be sent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from edge.alerts.location import describe
from edge.domain import Alert, AlertState, Location, Resident


@dataclass(frozen=True, slots=True)
class AlertChange:
    """An alert after a stored change, with who it is for and where they are."""

    alert: Alert
    previous: AlertState | None
    resident: Resident
    location: Location
    by: str = ""
    reason: str = ""


class Dispatcher(Protocol):
    """Anything that acts on alert changes once they are durable."""

    def alert_changed(self, change: AlertChange) -> None: ...


class LogDispatcher:
    """Says in the log what responders would be told; sends nothing."""

    def __init__(self, log: logging.Logger | None = None) -> None:
        self._log = log or logging.getLogger("edge.alerts.dispatch")

    def alert_changed(self, change: AlertChange) -> None:
        if change.alert.state is AlertState.ACTIVE and change.previous is not AlertState.ACTIVE:
            self._log.warning(
                "Alert %s for %s needs responders now: %s. No modem is configured "
                "([modem] in the hub's config) and there is no uplink, so nobody is texted; "
                "the alert stays stored and open.",
                change.alert.ref, change.resident.name, describe(change.location),
            )


class FanOut:
    """Passes every change to several dispatchers; one failing does not stop the others."""

    def __init__(self, dispatchers: Sequence[Dispatcher], log: logging.Logger | None = None) -> None:
        self._dispatchers = tuple(dispatchers)
        self._log = log or logging.getLogger("edge.alerts.dispatch")

    def set(self, dispatchers: Sequence[Dispatcher]) -> None:
        """Replace the dispatchers (the composition adds the uplink after the hub exists)."""
        self._dispatchers = tuple(dispatchers)

    def alert_changed(self, change: AlertChange) -> None:
        for dispatcher in self._dispatchers:
            try:
                dispatcher.alert_changed(change)
            except Exception:  # a broken path must not silence the others
                self._log.exception(
                    "A dispatcher failed on alert %s; the other paths still run.",
                    change.alert.ref,
                )
