"""The benchmark scripts keep working (figures are read from their output, not asserted)."""

from __future__ import annotations

from tests.bench import (
    drain,
    enqueue,
    footprint,
    idle,
    ingest,
    server,
    sos_latency,
    startup,
    welfare_week,
)


def test_ingest_benchmark_runs_and_prints_its_figures(capsys) -> None:
    assert ingest.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "(a) foreign adverts discarded" in out and "bthome-ble" in out
    assert "(b) encrypted frames verified" in out and "ratio" in out
    assert "(d) sensors mixed in" in out and "sensor frames" in out


def test_enqueue_benchmark_runs_and_prints_both_rates_and_the_goal(capsys) -> None:
    assert enqueue.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "hub telemetry enqueue" in out and "raw SQLite, same rows" in out
    assert "goal >= 0.8x" in out and "2,000 outbox rows" in out


def test_sos_latency_benchmark_runs_and_prints_percentiles(capsys) -> None:
    assert sos_latency.main(["--presses", "5"]) == 0
    out = capsys.readouterr().out
    assert "p50" in out and "p99" in out and "AT+CMGS" in out
    assert "the alert's PUBLISH at a subscriber" in out and "busy p50" in out


def test_drain_benchmark_runs_and_prints_both_rates(capsys) -> None:
    assert drain.main(["--events", "3000", "--runs", "2"]) == 0
    out = capsys.readouterr().out
    assert "raw paho" in out and "ratio" in out and "receiver stored 3,000" in out


def test_footprint_benchmark_runs_and_prints_both_figures(capsys) -> None:
    footprint.main(["--quick"])  # PASS or FAIL is the benchmark's verdict, not the test's
    out = capsys.readouterr().out
    assert "edge-hub --help: min" in out and "python -c pass" in out
    assert "running hub RSS" in out and "MB lower" in out


def test_server_benchmark_runs_and_prints_both_figures(capsys) -> None:
    assert server.main(["--alerts", "3", "--batches", "10"]) == 0
    out = capsys.readouterr().out
    assert "(a) SOS publish -> console live feed, 3 of 3 alerts" in out and "p99" in out
    assert "(b) events stored on PostgreSQL" in out and "ratio" in out


def test_startup_benchmark_runs_and_prints_both_figures(capsys) -> None:
    startup.main(["--watches", "100", "--runs", "1"])  # the verdict is the benchmark's
    out = capsys.readouterr().out
    assert "config load, 100 residents/watches/contacts" in out and "tomli alone" in out
    assert "start-up to READY=1, 100 watches: fresh database" in out and "restart" in out


def test_idle_benchmark_runs_and_prints_cpu_and_memory(capsys) -> None:
    idle.main(["--seconds", "1", "--windows", "2"])  # the verdict is the benchmark's
    out = capsys.readouterr().out
    assert "300 watches, one heartbeat each every 30 s" in out and "watches silent" in out
    assert "2 windows of 1 s each, min/median/max" in out and "commits its counter" in out
    assert "the hub alone (VmRSS less those modules)" in out


def test_welfare_week_benchmark_runs_and_prints_its_checks(capsys) -> None:
    assert welfare_week.main(["--days", "2"]) == 0
    out = capsys.readouterr().out
    assert "2 simulated days (normal, late)" in out and "day 2 10:00 not_up" in out
    assert "wall time" in out
