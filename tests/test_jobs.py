"""The periodic jobs: monotonic intervals, and one failing job never stops another."""

from __future__ import annotations

import logging

import pytest

from edge.clock import FakeClock
from edge.supervision.jobs import Jobs


def make_jobs() -> tuple[FakeClock, Jobs, list[str]]:
    clock = FakeClock()
    return clock, Jobs(clock), []


def test_a_job_runs_once_per_interval_on_the_monotonic_clock() -> None:
    clock, jobs, ran = make_jobs()
    jobs.every(60, "tick", lambda: ran.append("tick"))
    clock.advance(59)
    jobs.run_pending()
    assert ran == []
    clock.advance(1)
    jobs.run_pending()
    assert ran == ["tick"]
    jobs.run_pending()
    assert ran == ["tick"]
    clock.advance(60)
    jobs.run_pending()
    assert ran == ["tick", "tick"]


def test_fractional_intervals_are_kept() -> None:
    clock, jobs, ran = make_jobs()
    jobs.every(0.5, "half", lambda: ran.append("half"))
    clock.advance(0.5)
    jobs.run_pending()
    assert ran == ["half"]


def test_a_wall_clock_jump_forward_does_not_run_a_job_early() -> None:
    clock, jobs, ran = make_jobs()
    jobs.every(600, "modem check", lambda: ran.append("modem"))
    clock.jump_wall(10 * 86400)  # NTP sync on a Pi that booted in the past
    jobs.run_pending()
    assert ran == []
    clock.advance(600)
    jobs.run_pending()
    assert ran == ["modem"]


def test_a_wall_clock_jump_back_does_not_delay_a_job() -> None:
    clock, jobs, ran = make_jobs()
    jobs.every(60, "watch silence", lambda: ran.append("silence"))
    clock.jump_wall(-86400)
    clock.advance(60)
    jobs.run_pending()
    assert ran == ["silence"]
    assert jobs.idle_seconds() == pytest.approx(60)


def test_a_failing_job_is_logged_and_the_others_still_run(caplog) -> None:
    clock, jobs, ran = make_jobs()

    def broken() -> None:
        raise OSError("the modem port vanished")

    jobs.every(60, "modem check", broken)
    jobs.every(60, "watch silence", lambda: ran.append("silence"))
    for _ in range(3):
        clock.advance(60)
        with caplog.at_level(logging.ERROR, logger="edge.supervision.jobs"):
            jobs.run_pending()
    assert ran == ["silence"] * 3
    assert jobs.failures == {"modem check": 3, "watch silence": 0}
    assert jobs.runs["modem check"] == 3
    assert ("Periodic job 'modem check' failed: OSError: the modem port vanished; "
            "it runs again in 1 min.") in caplog.messages


def test_a_failing_job_keeps_its_schedule() -> None:
    clock, jobs, _ = make_jobs()
    calls: list[float] = []

    def broken() -> None:
        calls.append(clock.monotonic())
        raise RuntimeError("boom")

    jobs.every(30, "broken", broken)
    for _ in range(4):
        clock.advance(30)
        jobs.run_pending()
    assert calls == [1030.0, 1060.0, 1090.0, 1120.0]


def test_bad_intervals_and_duplicate_names_are_refused() -> None:
    _, jobs, _ = make_jobs()
    with pytest.raises(ValueError, match="more than 0"):
        jobs.every(0, "never", lambda: None)
    jobs.every(1, "once", lambda: None)
    with pytest.raises(ValueError, match="already scheduled"):
        jobs.every(1, "once", lambda: None)
