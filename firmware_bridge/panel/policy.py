"""What the hub's panel shows: lights and buzzer as data, from the hub's situation.

Status light (its period tells the condition):

    online, no fault      steady
    offline               slow blink 0.2 on / 2.8 off
    fault                 fast blink 0.2 on / 0.2 off
    offline and a fault   1 Hz blink 0.2 on / 0.8 off

Alert light: blinks 0.5 / 0.5 while an alert is open, off otherwise.

Buzzer: two short chirps when an SOS is heard; 0.3 on / 2.7 off while an alert is
open, day and night; one 0.05 s beep a minute for a fault, quiet at night.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time


@dataclass(frozen=True, slots=True)
class Steady:
    """On all the time."""


@dataclass(frozen=True, slots=True)
class Off:
    """Off all the time."""


@dataclass(frozen=True, slots=True)
class Blink:
    """On for on_s, off for off_s; n times, or for ever when n is None."""

    on_s: float
    off_s: float
    n: int | None = None

    def __post_init__(self) -> None:
        if self.on_s <= 0 or self.off_s <= 0:
            raise ValueError(f"a blink needs on_s and off_s > 0, got {self.on_s}/{self.off_s}")
        if self.n is not None and self.n < 1:
            raise ValueError(f"a blink repeats at least once (n >= 1) or for ever, got {self.n}")

    @property
    def duration_s(self) -> float | None:
        """How long the whole pattern lasts; None for ever."""
        return None if self.n is None else self.n * (self.on_s + self.off_s)


Pattern = Steady | Off | Blink

ONLINE = Steady()
OFFLINE = Blink(0.2, 2.8)
FAULT = Blink(0.2, 0.2)
OFFLINE_FAULT = Blink(0.2, 0.8)
ALERT_LIGHT = Blink(0.5, 0.5)
ALERT_SOUND = Blink(0.3, 2.7)
FAULT_SOUND = Blink(0.05, 59.95)
CHIRP = Blink(0.1, 0.1, n=2)
QUIET = Off()


@dataclass(frozen=True, slots=True)
class PanelState:
    """The hub's situation as the panel shows it."""

    online: bool
    alert_open: bool
    fault: bool


@dataclass(frozen=True, slots=True)
class PanelSignals:
    """What each output of the panel does."""

    status_led: Pattern
    alert_led: Pattern
    buzzer: Pattern


def is_night(now: time, start: time, end: time) -> bool:
    """True inside [start, end), also when the window crosses midnight; empty if start == end."""
    if start <= end:
        return start <= now < end
    return now >= start or now < end


def night_changes_in_s(now: time, start: time, end: time) -> float:
    """Seconds from now until the quiet night next starts or ends (a day when it never does)."""
    day = 86400.0

    def of(moment: time) -> float:
        return moment.hour * 3600.0 + moment.minute * 60.0 + moment.second + \
            moment.microsecond / 1e6

    waits = [(of(boundary) - of(now)) % day for boundary in (start, end) if start != end]
    return min((wait or day for wait in waits), default=day)


def status_light(state: PanelState) -> Pattern:
    """The status light: connection and faults."""
    if state.fault:
        return FAULT if state.online else OFFLINE_FAULT
    return ONLINE if state.online else OFFLINE


def alert_light(state: PanelState) -> Pattern:
    """The alert light: blinking while any alert is open."""
    return ALERT_LIGHT if state.alert_open else QUIET


def buzzer(state: PanelState, night: bool) -> Pattern:
    """The buzzer: an open alert always sounds; a fault beeps, but not at night."""
    if state.alert_open:
        return ALERT_SOUND
    if state.fault and not night:
        return FAULT_SOUND
    return QUIET


def chirp() -> Blink:
    """The buzzer's answer to a new SOS: two short beeps, then back to the pattern."""
    return CHIRP


def signals(state: PanelState, now: time, night_start: time, night_end: time) -> PanelSignals:
    """Everything the panel shows for state at local time now."""
    night = is_night(now, night_start, night_end)
    return PanelSignals(status_light(state), alert_light(state), buzzer(state, night))
