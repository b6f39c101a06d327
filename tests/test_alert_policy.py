"""The alert policy as pure functions: no store, no radio, no clock object."""

from __future__ import annotations

import pytest

from edge.alerts.policy import (
    CancelOutcome,
    PressMemory,
    PressOutcome,
    activation_due,
    join_press,
    judge_cancel,
    judge_press,
    transition,
)
from edge.domain import Alert, AlertState
from edge.errors import AlertError


def alert(state: AlertState = AlertState.RAISED, cancel_until: float = 130.0) -> Alert:
    return Alert(1, "u1", "A001", "r1", "A4:C1:38:00:00:01", state, 100.0, cancel_until, 1, 100.0)


def test_first_press_raises() -> None:
    assert judge_press(None, None, 0.0, 5, 10.0) is PressOutcome.RAISE


def test_same_packet_inside_window_is_a_repeat_even_after_cancel() -> None:
    last = PressMemory(at_mono=50.0, packet_id=5)
    assert judge_press(alert(), last, 55.0, 5, 10.0) is PressOutcome.REPEAT
    assert judge_press(None, last, 55.0, 5, 10.0) is PressOutcome.REPEAT


def test_new_packet_joins_open_alert_even_inside_window() -> None:
    last = PressMemory(at_mono=50.0, packet_id=5)
    assert judge_press(alert(), last, 51.0, 6, 10.0) is PressOutcome.JOIN


def test_unnumbered_press_in_window_repeats_only_while_open() -> None:
    last = PressMemory(at_mono=50.0, packet_id=None)
    assert judge_press(alert(), last, 55.0, None, 10.0) is PressOutcome.REPEAT
    assert judge_press(None, last, 55.0, None, 10.0) is PressOutcome.RAISE


def test_press_after_window_is_new() -> None:
    last = PressMemory(at_mono=50.0, packet_id=5)
    assert judge_press(alert(), last, 61.0, 5, 10.0) is PressOutcome.JOIN
    assert judge_press(None, last, 61.0, 5, 10.0) is PressOutcome.RAISE


@pytest.mark.parametrize(("state", "now", "expected"), [
    (AlertState.RAISED, 129.0, CancelOutcome.CANCEL),
    (AlertState.RAISED, 130.0, CancelOutcome.CANCEL),
    (AlertState.RAISED, 131.0, CancelOutcome.TOO_LATE),
    (AlertState.ACTIVE, 120.0, CancelOutcome.TOO_LATE),
])
def test_cancel_only_inside_the_window(state: AlertState, now: float,
                                       expected: CancelOutcome) -> None:
    assert judge_cancel(alert(state), now) is expected


def test_cancel_with_nothing_open() -> None:
    assert judge_cancel(None, 0.0) is CancelOutcome.NOTHING_OPEN


def test_transitions_follow_the_state_machine() -> None:
    active = transition(alert(), AlertState.ACTIVE, 131.0)
    assert active.state is AlertState.ACTIVE and active.closed_by == ""
    taken = transition(active, AlertState.ACKNOWLEDGED, 140.0, "李娜")
    assert taken.closed_by == "李娜" and taken.updated_at == 140.0
    done = transition(taken, AlertState.RESOLVED, 150.0, "李娜")
    for target in AlertState:
        with pytest.raises(AlertError, match="A001 is resolved"):
            transition(done, target, 160.0)


def test_join_counts_presses() -> None:
    assert join_press(join_press(alert(), 101.0), 102.0).press_count == 3


def test_activation_is_clamped_to_the_window() -> None:
    assert activation_due(alert(cancel_until=130.0), 110.0, 30.0) == 20.0
    assert activation_due(alert(cancel_until=130.0), 200.0, 30.0) == 0.0
    assert activation_due(alert(cancel_until=5000.0), 110.0, 30.0) == 30.0
