"""The wired panel: [panel] config, the pure light/buzzer policy, and GpioPanel on MockFactory."""

from __future__ import annotations

import itertools
import time as systime
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any

import pytest
from gpiozero import LED
from gpiozero.exc import GPIOPinInUse
from gpiozero.pins.mock import MockFactory

from cloud_sync.contract.schema import Place, build
from edge.clock import FakeClock
from edge.config.panel import PanelSection, PullCordEntry, check_panel, parse_hhmm
from edge.domain import AlertState
from edge.errors import ConfigError
from firmware_bridge.panel.gpio_panel import GpioPanel, PanelError
from firmware_bridge.panel.policy import (
    Blink,
    Off,
    PanelState,
    Steady,
    chirp,
    is_night,
    night_changes_in_s,
    signals,
)
from tests.building import make_building

STATUS, ALERT, BUZZER, ON_SITE, TEST, MAINS, BATTERY, CORD_A, CORD_B = (
    5, 6, 13, 19, 26, 20, 21, 17, 27)
NOON, MIDNIGHT = time(12, 0), time(0, 30)
NIGHT = (time(22, 0), time(7, 0))
TOLERANCE_S = 0.06


def wired_section(**overrides: Any) -> PanelSection:
    values: dict[str, Any] = {
        "status_led": STATUS, "alert_led": ALERT, "buzzer": BUZZER, "on_site_button": ON_SITE,
        "test_button": TEST, "mains_good": MAINS, "battery_low": BATTERY,
        "pull_cords": (PullCordEntry(CORD_A, "r1", "bathroom 101"), PullCordEntry(CORD_B, "r2"))}
    values.update(overrides)
    return PanelSection(**values)


@dataclass
class Calls:
    """What the panel called back, in order."""

    seen: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)

    def recorder(self, name: str) -> Callable[..., None]:
        return lambda *args: self.seen.append((name, args))


@pytest.fixture
def factory() -> Iterator[MockFactory]:
    made = MockFactory()
    yield made
    made.reset()


@pytest.fixture
def calls() -> Calls:
    return Calls()


def open_panel(factory: MockFactory, calls: Calls, section: PanelSection | None = None,
               **options: Any) -> GpioPanel:
    return GpioPanel(
        section or wired_section(), factory,
        on_site=calls.recorder("on_site"), test=calls.recorder("test"),
        pull_cord=calls.recorder("pull_cord"), mains_changed=calls.recorder("mains"),
        battery_low_changed=calls.recorder("battery"), **options)


def history(factory: MockFactory, number: int) -> list[tuple[bool, float]]:
    """The pin's states as (state, seconds since the previous change or the pin's start)."""
    return [(bool(s.state), s.timestamp) for s in factory.pin(number).states]


def assert_history(factory: MockFactory, number: int, expected: list[tuple[bool, float]]) -> None:
    actual = history(factory, number)
    assert [state for state, _ in actual] == [state for state, _ in expected], actual
    for (_, got), (_, want) in zip(actual[2:], expected[2:]):  # the first change: any time
        assert got == pytest.approx(want, abs=TOLERANCE_S), actual


# -- [panel] configuration ------------------------------------------------------------


def load(data: dict[str, Any]) -> PanelSection:
    return build(PanelSection, data, Place("t.toml").key("panel"), Path("."))


def test_an_empty_panel_section_wires_nothing_and_is_quiet_from_22_to_7() -> None:
    section = load({})
    assert list(section.wired()) == []
    assert section.night == (time(22, 0), time(7, 0))


def test_a_full_panel_section_reads_pins_night_hours_and_pull_cords() -> None:
    section = load({
        "status_led": 5, "buzzer": 13, "mains_good": 20, "night_start": "21:30",
        "night_end": "06:00",
        "pull_cords": [{"pin": 17, "resident": "r1", "label": "bathroom"}, {"pin": 27, "resident": "r2"}],
    })
    assert (section.status_led, section.alert_led, section.buzzer) == (5, None, 13)
    assert section.night == (time(21, 30), time(6, 0))
    assert section.pull_cords == (PullCordEntry(17, "r1", "bathroom"), PullCordEntry(27, "r2", ""))


@pytest.mark.parametrize("text", ["22", "24:00", "7:0", "22:60", "ten", ""])
def test_a_bad_night_time_names_the_key_and_the_form(text: str) -> None:
    with pytest.raises(ConfigError, match=r"t\.toml: panel\.night_start: expected .*HH:MM"):
        load({"night_start": text})


def test_a_pin_outside_the_header_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"panel\.buzzer: expected a BCM GPIO number"):
        load({"buzzer": 40})


def test_pull_cords_must_be_an_array_of_tables_with_a_resident() -> None:
    with pytest.raises(ConfigError, match=r"\[\[pull_cords\]\]"):
        load({"pull_cords": 17})
    with pytest.raises(ConfigError, match=r"panel\.pull_cords\[0\]\.resident: missing"):
        load({"pull_cords": [{"pin": 17}]})


def test_a_pin_used_twice_or_a_cord_for_nobody_is_refused() -> None:
    place = Place("t.toml").key("panel")
    twice = load({"buzzer": 17, "pull_cords": [{"pin": 17, "resident": "r1"}]})
    with pytest.raises(ConfigError, match=r"panel\.pull_cords\[0\]\.pin: GPIO17 is already used by buzzer"):
        check_panel(twice, place)
    nobody = load({"pull_cords": [{"pin": 17, "resident": "r9"}]})
    check_panel(nobody, place)
    with pytest.raises(ConfigError, match=r"panel\.pull_cords\[0\]\.resident: no resident with id 'r9'"):
        check_panel(nobody, place, resident_ids={"r1", "r2"})


def test_parse_hhmm() -> None:
    assert parse_hhmm("07:05") == parse_hhmm("7:05") == time(7, 5)  # one rule for every time
    with pytest.raises(ValueError):
        parse_hhmm("7:5")


# -- the pure policy --------------------------------------------------------------------


@pytest.mark.parametrize(("now", "start", "end", "night"), [
    (time(23, 0), time(22, 0), time(7, 0), True),
    (time(0, 30), time(22, 0), time(7, 0), True),
    (time(7, 0), time(22, 0), time(7, 0), False),
    (time(12, 0), time(22, 0), time(7, 0), False),
    (time(22, 0), time(22, 0), time(7, 0), True),
    (time(13, 0), time(12, 0), time(14, 0), True),
    (time(15, 0), time(12, 0), time(14, 0), False),
    (time(3, 0), time(0, 0), time(0, 0), False),
])
def test_is_night_handles_windows_across_midnight(now: time, start: time, end: time, night: bool) -> None:
    assert is_night(now, start, end) is night


ALL_STATES = [PanelState(*flags) for flags in itertools.product([True, False], repeat=3)]


def test_each_distinct_state_shows_a_distinct_pattern_by_day() -> None:
    shown = {signals(state, NOON, *NIGHT) for state in ALL_STATES}
    assert len(shown) == len(ALL_STATES)


def test_the_status_light_says_online_offline_and_fault() -> None:
    def status(online: bool, fault: bool) -> object:
        return signals(PanelState(online, False, fault), NOON, *NIGHT).status_led

    assert status(True, False) == Steady()
    assert status(False, False) == Blink(0.2, 2.8)
    assert status(True, True) == Blink(0.2, 0.2)
    assert len({status(o, f) for o, f in itertools.product([True, False], repeat=2)}) == 4


def test_an_open_alert_blinks_the_alert_light_and_sounds_day_and_night() -> None:
    for now in (NOON, MIDNIGHT):
        shown = signals(PanelState(True, True, False), now, *NIGHT)
        assert shown.alert_led == Blink(0.5, 0.5)
        assert shown.buzzer == Blink(0.3, 2.7)
    assert signals(PanelState(True, False, False), NOON, *NIGHT).alert_led == Off()


def test_fault_beeps_once_a_minute_by_day_and_are_quiet_at_night() -> None:
    fault = PanelState(True, False, True)
    assert signals(fault, NOON, *NIGHT).buzzer == Blink(0.05, 59.95)
    assert signals(fault, MIDNIGHT, *NIGHT).buzzer == Off()
    assert signals(PanelState(True, True, True), MIDNIGHT, *NIGHT).buzzer == Blink(0.3, 2.7)


def test_a_chirp_is_two_short_beeps() -> None:
    assert chirp() == Blink(0.1, 0.1, n=2)
    assert chirp().duration_s == pytest.approx(0.4)
    with pytest.raises(ValueError):
        Blink(0.0, 1.0)


# -- GpioPanel on gpiozero's MockFactory --------------------------------------------------


def test_pressing_the_on_site_and_test_buttons_calls_back(factory: MockFactory, calls: Calls) -> None:
    with open_panel(factory, calls):
        factory.pin(ON_SITE).drive_low()
        factory.pin(ON_SITE).drive_high()
        factory.pin(TEST).drive_low()
    assert calls.seen == [("on_site", ()), ("test", ())]


def test_a_pull_cord_calls_back_with_its_resident_and_pin(factory: MockFactory, calls: Calls) -> None:
    with open_panel(factory, calls):
        factory.pin(CORD_B).drive_low()
        factory.pin(CORD_A).drive_low()
    assert calls.seen == [("pull_cord", ("r2", "GPIO27")), ("pull_cord", ("r1", "GPIO17"))]


def test_mains_and_battery_inputs_report_changes(factory: MockFactory, calls: Calls) -> None:
    with open_panel(factory, calls) as panel:
        assert (panel.mains_good, panel.battery_low) == (False, False)
        factory.pin(MAINS).drive_high()
        factory.pin(BATTERY).drive_high()
        factory.pin(MAINS).drive_low()
        assert (panel.mains_good, panel.battery_low) == (False, True)
    assert calls.seen == [("mains", (True,)), ("battery", (True,)), ("mains", (False,))]


def test_callbacks_are_handed_over_not_run_on_gpiozeros_thread(factory: MockFactory, calls: Calls) -> None:
    queued: list[tuple[Callable[..., object], tuple[Any, ...]]] = []
    with open_panel(factory, calls, call=lambda fn, *args: queued.append((fn, args))):
        factory.pin(CORD_A).drive_low()
        factory.pin(MAINS).drive_high()
    assert calls.seen == []
    for fn, args in queued:
        fn(*args)
    assert calls.seen == [("pull_cord", ("r1", "GPIO17")), ("mains", (True,))]


def test_online_is_steady_and_offline_blinks(factory: MockFactory, calls: Calls) -> None:
    with open_panel(factory, calls) as panel:
        panel.show(PanelState(online=True, alert_open=False, fault=False), NOON)
        systime.sleep(0.3)
        assert_history(factory, STATUS, [(False, 0), (True, 0)])
        factory.pin(STATUS).clear_states()
        panel.show(PanelState(online=False, alert_open=False, fault=False), NOON)
        systime.sleep(0.45)
        assert_history(factory, STATUS, [(True, 0), (False, 0.2)])
        assert_history(factory, ALERT, [(False, 0)])
        assert_history(factory, BUZZER, [(False, 0)])


def test_a_fault_blinks_fast_and_beeps_by_day(factory: MockFactory, calls: Calls) -> None:
    with open_panel(factory, calls) as panel:
        panel.show(PanelState(online=True, alert_open=False, fault=True), NOON)
        systime.sleep(0.5)
        assert_history(factory, STATUS, [(False, 0), (True, 0), (False, 0.2), (True, 0.2)])
        assert_history(factory, BUZZER, [(False, 0), (True, 0), (False, 0.05)])


def test_night_silences_fault_beeps_but_not_alert_beeps(factory: MockFactory, calls: Calls) -> None:
    with open_panel(factory, calls) as panel:
        shown = panel.show(PanelState(online=True, alert_open=False, fault=True), MIDNIGHT)
        systime.sleep(0.2)
        assert shown.buzzer == Off()
        assert_history(factory, BUZZER, [(False, 0)])
        panel.show(PanelState(online=True, alert_open=True, fault=True), MIDNIGHT)
        systime.sleep(0.4)
        buzzer, alert = history(factory, BUZZER), history(factory, ALERT)
        assert [state for state, _ in buzzer[:3]] == [False, True, False], buzzer
        assert buzzer[2][1] == pytest.approx(0.3, abs=TOLERANCE_S), buzzer
        # the alert light came on; on a loaded machine the sleep may overrun into its blink
        assert [state for state, _ in alert[:2]] == [False, True], alert
        assert all(at == pytest.approx(0.5, abs=TOLERANCE_S) for _, at in alert[2:]), alert


def test_show_changes_a_device_only_when_its_pattern_changes(factory: MockFactory, calls: Calls) -> None:
    offline = PanelState(online=False, alert_open=False, fault=False)
    with open_panel(factory, calls) as panel:
        panel.show(offline, NOON)
        systime.sleep(0.1)
        panel.show(offline, NOON)  # a restarted blink would go off and on again here
        systime.sleep(0.05)
        assert_history(factory, STATUS, [(False, 0), (True, 0)])
        assert panel.showing == signals(offline, NOON, *NIGHT)


def test_a_new_sos_chirps_then_the_alert_pattern_resumes(factory: MockFactory, calls: Calls) -> None:
    clock = FakeClock()
    alert = PanelState(online=True, alert_open=True, fault=False)
    with open_panel(factory, calls, monotonic=clock.monotonic) as panel:
        panel.sos_received()
        panel.show(alert, NOON)  # during the chirp: the chirp plays on
        systime.sleep(0.45)
        assert_history(factory, BUZZER, [(False, 0), (True, 0), (False, 0.1), (True, 0.1), (False, 0.1)])
        clock.advance(0.4)
        factory.pin(BUZZER).clear_states()
        panel.show(alert, NOON)
        systime.sleep(0.1)
        assert_history(factory, BUZZER, [(False, 0), (True, 0)])


@pytest.mark.parametrize("now, wait", [
    (NOON, 10 * 3600.0), (time(21, 59, 30), 30.0), (time(22), 9 * 3600.0),
    (MIDNIGHT, 6.5 * 3600.0), (time(7), 15 * 3600.0)])
def test_the_panel_knows_when_the_quiet_night_next_starts_or_ends(now: time, wait: float) -> None:
    assert night_changes_in_s(now, *NIGHT) == wait
    assert night_changes_in_s(now, time(22), time(22)) == 86400.0  # never quiet: never changes


def test_the_panel_looks_again_only_when_time_alone_changes_what_it_shows(
        factory: MockFactory, calls: Calls) -> None:
    clock = FakeClock()
    with open_panel(factory, calls, monotonic=clock.monotonic) as panel:
        assert panel.changes_in_s(NOON) == 10 * 3600.0  # by day, nothing until 22:00
        panel.sos_received()
        assert panel.changes_in_s(NOON) == pytest.approx(0.4)  # the chirp ends
        clock.advance(1)
        assert panel.changes_in_s(time(21, 59)) == 60.0


def test_unwired_pins_create_no_device(factory: MockFactory, calls: Calls) -> None:
    with open_panel(factory, calls, PanelSection(alert_led=ALERT)) as panel:
        assert len(panel.devices) == 1
        assert (panel.mains_good, panel.battery_low) == (None, None)
        panel.show(PanelState(online=False, alert_open=True, fault=True), NOON)
        panel.sos_received()
    with open_panel(factory, calls, PanelSection()) as bare:
        assert bare.devices == ()


def test_close_turns_off_and_releases_every_pin(factory: MockFactory, calls: Calls) -> None:
    panel = open_panel(factory, calls)
    panel.show(PanelState(online=True, alert_open=True, fault=True), NOON)
    with pytest.raises(GPIOPinInUse):
        LED(STATUS, pin_factory=factory)
    panel.close()
    panel.close()
    assert panel.devices == ()
    for number in (STATUS, ALERT, BUZZER, ON_SITE, CORD_A, MAINS):
        LED(number, pin_factory=factory).close()
    assert not factory.pin(STATUS).state and not factory.pin(BUZZER).state


def test_a_pin_conflict_is_a_panel_error_and_releases_what_was_opened(
        factory: MockFactory, calls: Calls) -> None:
    with pytest.raises(PanelError, match="check the \\[panel\\] pins"):
        open_panel(factory, calls, wired_section(test_button=STATUS))
    LED(STATUS, pin_factory=factory).close()


# -- the real hub --------------------------------------------------------------------------


def test_a_pull_cord_raises_an_alert_and_the_on_site_button_takes_it(tmp_path: Path) -> None:
    building = make_building(tmp_path)
    factory = MockFactory()
    hub = building.hub
    panel = GpioPanel(
        wired_section(), factory,
        pull_cord=lambda resident, source: hub.raise_from_input(resident, source),
        on_site=lambda: hub.acknowledge_open("on site"))

    def situation() -> PanelState:
        return PanelState(online=True, alert_open=bool(building.store.open_alerts()), fault=False)

    with panel:
        factory.pin(CORD_B).drive_low()
        alert = building.store.open_alert_for("r2")
        assert alert is not None
        assert panel.show(situation(), NOON).alert_led == Blink(0.5, 0.5)
        building.wait(31)
        factory.pin(ON_SITE).drive_low()
        taken = building.store.alert(alert.ref)
        assert taken is not None and taken.state is AlertState.ACKNOWLEDGED
        assert building.store.open_alerts() == []
        assert panel.show(situation(), NOON).alert_led == Off()
    assert "acknowledged" in building.dispatched.states()
    factory.reset()
