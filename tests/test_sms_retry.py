"""The retry policy of texts and of the modem, as values."""

from __future__ import annotations

from edge.sms.retry import (
    FOLLOW_UP_TRIES,
    keeps_trying,
    message_retry_s,
    readiness_poll_s,
    recipient_retry_s,
)


def test_a_number_that_cannot_take_texts_is_tried_at_30_s_2_min_then_every_10_min() -> None:
    assert [recipient_retry_s(n) for n in range(1, 7)] == [30, 120, 600, 600, 600, 600]


def test_an_open_alerts_sos_is_tried_until_it_closes_other_texts_a_few_times() -> None:
    for kind in ("sos", "escalated", "unanswered"):
        assert keeps_trying(kind, alert_open=True, attempts_done=500)
        assert not keeps_trying(kind, alert_open=False, attempts_done=FOLLOW_UP_TRIES)
    for kind in ("taken", "cancelled", "notice"):
        assert keeps_trying(kind, alert_open=True, attempts_done=FOLLOW_UP_TRIES - 1)
        assert not keeps_trying(kind, alert_open=True, attempts_done=FOLLOW_UP_TRIES)


def test_modem_faults_do_not_push_the_text_back_and_busy_waits_a_moment() -> None:
    assert message_retry_s("config", 5) == 0 and message_retry_s("dead", 5) == 0
    assert message_retry_s("busy", 1) == 2.0
    assert [message_retry_s("transient", n) for n in (1, 2, 3, 4, 9)] == [1, 2, 4, 8, 8]


def test_the_modem_is_polled_fast_in_the_first_minute_of_a_fault() -> None:
    assert max(readiness_poll_s(age / 10) for age in range(600)) == 2.0
    waits = [readiness_poll_s(60 * minute) for minute in range(1, 8)]
    assert waits == sorted(waits) and waits[-1] == 60.0
