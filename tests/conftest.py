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
