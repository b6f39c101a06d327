"""[panel]: the hub's wired lights, buzzer, buttons, pull-cords and power inputs."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import time

from cloud_sync.contract.schema import TEXT, Place, Rule, meta
from edge.clock import parse_hhmm

_OUTPUTS = ("status_led", "alert_led", "buzzer")
_INPUTS = ("on_site_button", "test_button", "mains_good", "battery_low")


def _hhmm(text: str) -> str:
    return parse_hhmm(text).strftime("%H:%M")


def _bcm(number: int) -> int:
    if not 0 <= number <= 27:
        raise ValueError(number)
    return number


BCM = Rule("a BCM GPIO number from 0 to 27 (the GPIO number, not the header pin)", _bcm)
HHMM = Rule('a 24-hour time like "22:00" (HH:MM)', _hhmm)


@dataclass(frozen=True, slots=True)
class PullCordEntry:
    """[[panel.pull_cords]]: one wired pull-cord or panic button and whose it is."""

    pin: int = field(metadata=meta("BCM pin the cord switches to ground", BCM))
    resident: str = field(metadata=meta("id of the resident the cord raises an alert for", TEXT))
    label: str = field(default="", metadata=meta('where the cord hangs, like "bathroom 101"'))


@dataclass(frozen=True, slots=True)
class PanelSection:
    """[panel]: BCM pins of the hub's panel; a pin left out is not wired."""

    status_led: int | None = field(default=None, metadata=meta("status light (online, faults)", BCM))
    alert_led: int | None = field(default=None, metadata=meta("alert light (an alert is open)", BCM))
    buzzer: int | None = field(default=None, metadata=meta("active buzzer", BCM))
    on_site_button: int | None = field(
        default=None, metadata=meta("button a responder presses on site: takes every open alert",
                                    BCM))
    test_button: int | None = field(default=None, metadata=meta("installer's test button", BCM))
    mains_good: int | None = field(
        default=None, metadata=meta("input, high while mains power is present", BCM))
    battery_low: int | None = field(
        default=None, metadata=meta("input, high while the UPS battery is low", BCM))
    night_start: str = field(
        default="22:00", metadata=meta("fault beeps are quiet from this local time...", HHMM))
    night_end: str = field(
        default="07:00", metadata=meta("...until this one (alert beeps never are)", HHMM))
    pull_cords: tuple[PullCordEntry, ...] = field(
        default=(), metadata=meta("wired pull-cords, each as a [[panel.pull_cords]] table"))

    @property
    def night(self) -> tuple[time, time]:
        """The quiet hours as (start, end) local times."""
        return parse_hhmm(self.night_start), parse_hhmm(self.night_end)

    def wired(self) -> Iterator[tuple[str, int]]:
        """Every wired pin as (key, BCM number), pull-cords as "pull_cords[i].pin"."""
        for name in _OUTPUTS + _INPUTS:
            pin = getattr(self, name)
            if pin is not None:
                yield name, pin
        for index, cord in enumerate(self.pull_cords):
            yield f"pull_cords[{index}].pin", cord.pin


def check_panel(section: PanelSection, place: Place,
                resident_ids: Collection[str] | None = None) -> None:
    """Checks across keys: no pin used twice, every pull-cord names a known resident."""
    used: dict[int, str] = {}
    for key, pin in section.wired():
        if pin in used:
            here = Place(place.source, f"{place.path}.{key}" if place.path else key)
            raise here.error(f"GPIO{pin} is already used by {used[pin]}; expected each pin once")
        used[pin] = key
    if resident_ids is None:
        return
    for index, cord in enumerate(section.pull_cords):
        if cord.resident not in resident_ids:
            here = place.key("pull_cords").index(index).key("resident")
            raise here.error(f"no resident with id {cord.resident!r}; "
                             "expected the id of a [[residents]] entry")
