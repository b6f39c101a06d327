from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.building import SimBuilding, make_building


@pytest.fixture
def building(tmp_path) -> SimBuilding:
    return make_building(tmp_path)


@pytest.fixture
def broker(tmp_path):
    from tests.mqtt_broker import Broker

    running = Broker(tmp_path).start()
    yield running
    running.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A receiver database URL: each test runs on SQLite and on PostgreSQL."""
    from tests.test_receiver_helpers import database_url

    with database_url(request.param, tmp_path) as url:
        yield url


def _hypothesis_profile() -> None:
    """One profile for every property test: no timing-based failures on a busy CI machine.

    Hypothesis' too_slow health check and per-example deadline measure wall time, which a
    fresh 2-core machine without a `.hypothesis` cache (and with brokers starting in other
    tests) cannot promise; the properties themselves are unchanged.
    """
    from hypothesis import HealthCheck, settings

    settings.register_profile("edge-hub", deadline=None,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile("edge-hub")


_hypothesis_profile()
