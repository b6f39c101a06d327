"""[welfare] in hub.toml: building defaults, residents' own rules, mistakes named."""

from __future__ import annotations

import copy
import re
from datetime import time
from pathlib import Path
from typing import Any

import pytest

from edge.alerts.welfare import WelfareRules
from edge.clock import DaySpan
from edge.config.loader import parse_config
from edge.errors import ConfigError
from tests.test_config import building


def welfare(**section: Any) -> dict[str, Any]:
    data = copy.deepcopy(building())
    data["welfare"] = section
    return data


def rules(data: dict[str, Any], resident: str = "r-301") -> WelfareRules:
    config = parse_config(data, source="hub.toml", base_dir=Path("/etc/edge-hub"))
    return config.welfare.rules_for(resident)


def test_the_defaults_are_the_issues() -> None:
    assert rules(building()) == WelfareRules(
        waking=DaySpan(time(7), time(22)), night=DaySpan(time(22), time(6)), quiet_h=12.0,
        up_by=time(10), door_open_min=15.0, check_in_by=None)


def test_a_residents_own_rules_override_the_buildings_and_off_switches_one_off() -> None:
    data = welfare(up_by="09:30", quiet_hours=8, night="23:00-05:30",
                   residents=[{"id": "r-301", "up_by": "off", "check_in_by": "11:00",
                               "door_open_at_night_min": 0}])
    own = rules(data)
    assert (own.up_by, own.check_in_by, own.door_open_min, own.quiet_h) == (
        None, time(11), None, 8.0)
    assert own.night == DaySpan(time(23), time(5, 30))
    other = rules(data, "r-302")
    assert (other.up_by, other.check_in_by, other.door_open_min) == (time(9, 30), None, 15.0)


def test_a_resident_may_have_waking_hours_and_a_night_of_their_own() -> None:
    data = welfare(night="23:00-05:30", residents=[
        {"id": "r-301", "waking_hours": "12:00-04:00", "night": "04:00-11:00",
         "up_by": "12:30"}])
    own, other = rules(data), rules(data, "r-302")
    assert (own.waking, own.night) == (DaySpan(time(12), time(4)), DaySpan(time(4), time(11)))
    assert (other.waking, other.night) == (DaySpan(time(7), time(22)),
                                           DaySpan(time(23), time(5, 30)))
    with pytest.raises(ConfigError, match=re.escape(
            "welfare.residents[0].night: expected a span of the day like")):
        rules(welfare(residents=[{"id": "r-301", "night": "night"}]))


@pytest.mark.parametrize(("section", "key", "night"), [
    ({"up_by": "05:00"}, "welfare.up_by", "22:00-06:00"),
    ({"residents": [{"id": "r-301", "night": "03:00-11:00"}]},  # the building's 10:00
     "welfare.residents[0].up_by", "03:00-11:00"),
    ({"residents": [{"id": "r-301", "night": "03:00-11:00", "up_by": "11:00"}]},
     "welfare.residents[0].up_by", "03:00-11:00"),
])
def test_an_up_by_inside_the_night_is_refused_naming_the_night(
        section: dict[str, Any], key: str, night: str) -> None:
    """Nothing can have happened since the night's end at a time inside it or at its end:
    the check would be raised every day."""
    with pytest.raises(ConfigError, match=re.escape(f"{key}: ")) as refused:
        rules(welfare(**section))
    assert f"is not after the night ({night}) ends" in str(refused.value)
    own = rules(welfare(residents=[{"id": "r-301", "night": "03:00-11:00", "up_by": "12:00"}]))
    assert own.up_by == time(12)


@pytest.mark.parametrize(("section", "expected"), [
    ({"up_by": "10"}, 'hub.toml: welfare.up_by: expected a 24-hour time like "10:00", or "off"'),
    ({"waking_hours": "7-22"}, "welfare.waking_hours: expected a span of the day like"),
    ({"quiet_hours": -1}, "welfare.quiet_hours: expected a number of hours, 0 = off"),
    ({"residents": [{"id": "r-999"}]}, "welfare.residents[0].id: no resident with id 'r-999'"),
    ({"residents": [{"id": "r-301"}, {"id": "r-301"}]}, "welfare.residents[1].id: 'r-301'"),
    ({"check_in": "11:00"}, "welfare.check_in: unknown key"),
])
def test_a_mistake_names_the_key_and_the_expected_form(section: dict[str, Any],
                                                       expected: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(expected)):
        rules(welfare(**section))


def test_the_examples_welfare_section_loads_when_uncommented(tmp_path: Path) -> None:
    from edge.config.loader import load_config

    example = Path(__file__).resolve().parent.parent / "config" / "hub.example.toml"
    text = example.read_text(encoding="utf-8")
    block = re.search(r"^# \[welfare\]\n(?:# .*\n)+", text, re.MULTILINE)
    assert block, "hub.example.toml has no commented-out [welfare]"
    uncommented = re.sub(r"^# ?", "", block.group(0), flags=re.MULTILINE)
    uncommented = "\n".join(line for line in uncommented.splitlines()
                            if "=" in line or line.startswith("[")) + "\n"
    path = tmp_path / "hub.toml"
    path.write_text(text.replace(block.group(0), uncommented), encoding="utf-8")
    own = load_config(path).welfare.rules_for("r-301")
    assert (own.up_by, own.quiet_h, own.check_in_by) == (time(9), 10.0, time(11))
    assert own.waking == DaySpan(time(9), time(23, 30))
