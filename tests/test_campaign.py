"""The fault campaign, small: every part runs in `make test` at the sizes the issue asks of
CI; `make campaign` runs the long version and prints its table (tests/campaign/run.py)."""

from __future__ import annotations

import logging

import pytest

from tests.campaign import Result, broker, disk, fuzz, kill9, modem_faults
from tests.campaign.run import SMALL


def clean(result: Result) -> bool:
    print(result.row())
    return result.clean


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL)


def test_kill_9_after_a_press_loses_no_alert(tmp_path) -> None:
    result = kill9.run(tmp_path, SMALL["kill9"])
    assert clean(result) and result.runs == SMALL["kill9"], result.notes


def test_broker_restarts_during_drains_lose_no_event(tmp_path, broker_binary) -> None:
    result = broker.run(tmp_path, SMALL["broker"])
    assert clean(result) and result.runs == SMALL["broker"], result.notes


def test_every_quick_modem_fault_is_followed_by_a_delivered_sos(tmp_path) -> None:
    result, lines = modem_faults.run(tmp_path, modem_faults.QUICK)
    assert clean(result) and result.runs == len(modem_faults.QUICK), result.notes + lines


def test_a_full_or_read_only_disk_still_texts_the_sos(tmp_path) -> None:
    result = disk.run(tmp_path)
    if result.runs == 0:
        pytest.skip("; ".join(result.notes))
    assert clean(result), result.notes


def test_fuzzed_adverts_pdus_and_at_lines_never_escape(tmp_path) -> None:
    for result in (fuzz.adverts(tmp_path, SMALL["adverts"]), fuzz.pdus(tmp_path, SMALL["pdus"]),
                   fuzz.at_lines(SMALL["at"])):
        assert clean(result), result.notes


@pytest.fixture
def broker_binary() -> None:
    from cloud_sync.uplink.local_broker import mosquitto_binary

    if mosquitto_binary() is None:
        pytest.fail("Mosquitto is needed: make test installs it, or run "
                    "sudo apt-get install mosquitto")
