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
