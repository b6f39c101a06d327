import pytest

from tests.building import SimBuilding, make_building


@pytest.fixture
def building(tmp_path) -> SimBuilding:
    return make_building(tmp_path)
