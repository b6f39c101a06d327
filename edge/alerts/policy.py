"""Alert policy, pure: what a press, a long press or the passing of time does to an alert."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from edge.domain import Alert, AlertState
from edge.errors import AlertError

ALLOWED: dict[AlertState, frozenset[AlertState]] = {
    AlertState.RAISED: frozenset(
        {AlertState.ACTIVE, AlertState.CANCELLED, AlertState.ACKNOWLEDGED}
    ),
    AlertState.ACTIVE: frozenset(
        {AlertState.ACKNOWLEDGED, AlertState.RESOLVED, AlertState.CANCELLED}
    ),
    AlertState.ACKNOWLEDGED: frozenset({AlertState.RESOLVED}),
    AlertState.CANCELLED: frozenset(),
    AlertState.RESOLVED: frozenset(),
}


class PressOutcome(StrEnum):
    """What one SOS press means for the resident."""

    RAISE = "raise"
    JOIN = "join"
    REPEAT = "repeat"


class CancelOutcome(StrEnum):
    """What a long press (cancel) means for the resident."""

    CANCEL = "cancel"
    TOO_LATE = "too_late"
    NOTHING_OPEN = "nothing_open"


@dataclass(frozen=True, slots=True)
class PressMemory:
    """The last accepted press of one watch, on the monotonic clock."""

    at_mono: float
    packet_id: int | None


def judge_press(
    open_alert: Alert | None,
    last: PressMemory | None,
    now_mono: float,
    packet_id: int | None,
    repeat_window_s: float,
) -> PressOutcome:
    """A press is a repeat of the last one, joins the open alert, or raises a new one.

    A repeat carrying the same packet id is the same press even after a cancel; without
    packet ids a press inside the window raises again when nothing is open (safer).
    """
    if last is not None and now_mono - last.at_mono <= repeat_window_s:
        same_packet = packet_id is not None and packet_id == last.packet_id
        unnumbered = packet_id is None or last.packet_id is None
        if same_packet or (unnumbered and open_alert is not None):
            return PressOutcome.REPEAT
    return PressOutcome.JOIN if open_alert is not None else PressOutcome.RAISE


def judge_cancel(open_alert: Alert | None, now: float) -> CancelOutcome:
    """A long press cancels an alert still in its cancel window, and nothing else."""
    if open_alert is None:
        return CancelOutcome.NOTHING_OPEN
    if open_alert.state is AlertState.RAISED and now <= open_alert.cancel_until:
        return CancelOutcome.CANCEL
    return CancelOutcome.TOO_LATE


def transition(alert: Alert, to: AlertState, at: float, by: str = "") -> Alert:
    """The alert in its new state, or AlertError if its state does not allow the change."""
    if to not in ALLOWED[alert.state]:
        raise AlertError(
            f"alert {alert.ref} is {alert.state.value}; it cannot become {to.value}"
        )
    closed_by = by if not to.is_open else alert.closed_by
    return replace(alert, state=to, updated_at=at, closed_by=closed_by)


def join_press(alert: Alert, at: float) -> Alert:
    """The alert with one more press counted."""
    return replace(alert, press_count=alert.press_count + 1, updated_at=at)


def activation_due(alert: Alert, now: float, window_s: float) -> float:
    """Seconds until a raised alert becomes active (0 = now), clamped to the window.

    The clamp keeps a wall-clock jump (NTP on a Pi without RTC) from stretching the
    cancel window after a restart.
    """
    remaining = alert.cancel_until - now
    return max(0.0, min(remaining, window_s))
