"""What the hub says of adverts it refused: once a minute per watch and kind, and a copy of
an accepted button frame as a security event, counted for supervision."""

from __future__ import annotations

import logging
from collections import Counter

from edge.alerts.gate import FrameRefused, Refusal
from edge.alerts.reports import read_report
from edge.clock import Clock
from edge.errors import FrameError

REFUSAL_LOG_INTERVAL_S = 60.0


class Refusals:
    """Notes refusals; never raises and never changes anything stored."""

    def __init__(self, clock: Clock, counts: Counter[str], log: logging.Logger) -> None:
        self.clock = clock
        self.counts = counts
        self._log = log
        self._logged: dict[tuple[str, Refusal], float] = {}
        self._replays: dict[str, tuple[float, int]] = {}  # mac -> (last line, suppressed)
        self._replayed_sos: dict[str, int] = {}  # mac -> exact copies of an SOS heard

    def note(self, refused: FrameRefused) -> None:
        if refused.kind is Refusal.UNREGISTERED:
            return
        if refused.kind is Refusal.DUPLICATE:
            self._log.debug("Repeat of the last frame from %s ignored.", refused.mac)
            return
        if refused.kind is Refusal.REPLAY and _carries_button(refused):
            self._security_event(refused)
            return
        key, mono = (refused.mac, refused.kind), self.clock.monotonic()
        last = self._logged.get(key)
        if last is None or mono - last >= REFUSAL_LOG_INTERVAL_S:
            self._logged[key] = mono
            self._log.warning("Refused a frame from watch %s: %s. Nothing was changed.",
                              refused.mac, refused.reason)

    def take_replayed_sos(self) -> dict[str, int]:
        """Exact copies of SOS frames heard since last asked, by watch (supervision tells
        the duty desk: a replay, or a press identical to an old one after a battery
        change, which only a person can tell apart)."""
        taken, self._replayed_sos = self._replayed_sos, {}
        return taken

    def _security_event(self, refused: FrameRefused) -> None:
        """A copy of an accepted button frame: someone is replaying it. A line at most
        every REFUSAL_LOG_INTERVAL_S per watch, with how many copies came meanwhile."""
        self.counts["replayed_press"] += 1
        if _carries_button(refused, sos_only=True):
            self._replayed_sos[refused.mac] = self._replayed_sos.get(refused.mac, 0) + 1
        mono = self.clock.monotonic()
        last, suppressed = self._replays.get(refused.mac, (float("-inf"), 0))
        if mono - last < REFUSAL_LOG_INTERVAL_S:
            self._replays[refused.mac] = (last, suppressed + 1)
            return
        self._replays[refused.mac] = (mono, 0)
        self._log.warning(
            "Security event: a copy of a button frame already accepted from watch %s was "
            "heard again (%s)%s. Someone nearby may be replaying recorded frames; it was "
            "refused and changes nothing.", refused.mac, refused.reason,
            f"; {suppressed} more copies since the last warning" if suppressed else "")


def _carries_button(refused: FrameRefused, sos_only: bool = False) -> bool:
    if refused.frame is None:
        return False
    try:
        report = read_report(refused.frame)
    except FrameError:
        return False
    return report.sos or (report.cancel and not sos_only)
