"""The hub's wired panel over gpiozero: lights, buzzer, buttons, pull-cords, power inputs.

Every device gets the pin factory it is given (never the global one), so tests run the
same code on gpiozero's MockFactory. gpiozero calls back on its own threads: every
callback is handed to `call` (the app passes loop.call_soon_threadsafe).
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable, Sequence
from datetime import time
from typing import Any, Protocol, Self

from gpiozero import LED, Button, Buzzer, DigitalInputDevice
from gpiozero.exc import GPIOZeroError
from gpiozero.pins import Factory

from firmware_bridge.errors import HubError
from firmware_bridge.panel.policy import (
    Blink,
    PanelSignals,
    PanelState,
    Pattern,
    Steady,
    chirp,
    night_changes_in_s,
    signals,
)

BOUNCE_S = 0.05


class PullCord(Protocol):
    """A wired pull-cord: its BCM pin and the resident it raises an alert for."""

    @property
    def pin(self) -> int: ...
    @property
    def resident(self) -> str: ...


class PanelWiring(Protocol):
    """Which BCM pin each part of the panel is on (None: not wired) and the quiet night
    hours; the hub's [panel] section has this form."""

    @property
    def status_led(self) -> int | None: ...
    @property
    def alert_led(self) -> int | None: ...
    @property
    def buzzer(self) -> int | None: ...
    @property
    def on_site_button(self) -> int | None: ...
    @property
    def test_button(self) -> int | None: ...
    @property
    def mains_good(self) -> int | None: ...
    @property
    def battery_low(self) -> int | None: ...
    @property
    def pull_cords(self) -> Sequence[PullCord]: ...
    @property
    def night(self) -> tuple[time, time]: ...


class PanelError(HubError):
    """The GPIO panel could not be set up; the message says which pin and why."""


def _direct(callback: Callable[..., object], *args: Any) -> None:
    callback(*args)


def _ignore(*_args: Any) -> None:
    pass


def play(device: Any, pattern: Pattern) -> None:
    """Put a gpiozero output device into pattern (blinking in gpiozero's background thread)."""
    if isinstance(pattern, Blink):
        device.blink(on_time=pattern.on_s, off_time=pattern.off_s, n=pattern.n, background=True)
    elif isinstance(pattern, Steady):
        device.on()
    else:
        device.off()


class GpioPanel:
    """Lights and buzzer that show a PanelState; buttons and inputs that call back.

    Call show() often (every hub tick is right): it touches the devices only when a
    pattern changes, and it is what resumes the buzzer's pattern after a chirp.
    """

    def __init__(
        self,
        section: PanelWiring,
        pin_factory: Factory,
        *,
        on_site: Callable[[], object],
        pull_cord: Callable[[str, str], object],
        test: Callable[[], object] = _ignore,
        mains_changed: Callable[[bool], object] = _ignore,
        battery_low_changed: Callable[[bool], object] = _ignore,
        call: Callable[..., object] = _direct,
        monotonic: Callable[[], float] = _time.monotonic,
    ) -> None:
        self._section = section
        self._factory = pin_factory
        self._call = call
        self._monotonic = monotonic
        self._devices: list[Any] = []
        self._showing: PanelSignals | None = None
        self._buzzer_playing: Pattern | None = None
        self._chirp_ends = float("-inf")
        try:
            self._status = self._output(LED, section.status_led)
            self._alert = self._output(LED, section.alert_led)
            self._buzzer = self._output(Buzzer, section.buzzer)
            self._button(section.on_site_button, on_site)
            self._button(section.test_button, test)
            for cord in section.pull_cords:
                self._button(cord.pin, pull_cord, cord.resident, f"GPIO{cord.pin}")
            self._mains = self._level(section.mains_good, mains_changed)
            self._battery = self._level(section.battery_low, battery_low_changed)
        except GPIOZeroError as error:
            self.close()
            raise PanelError(f"cannot set up the panel: {error}; check the [panel] pins "
                             "(BCM numbers, each used once, not taken by another program)"
                             ) from error

    # -- building -----------------------------------------------------------------

    def _open(self, kind: Callable[..., Any], pin: int, **options: Any) -> Any:
        device = kind(pin, pin_factory=self._factory, **options)
        self._devices.append(device)
        return device

    def _output(self, kind: Callable[..., Any], pin: int | None) -> Any:
        return None if pin is None else self._open(kind, pin, initial_value=False)

    def _button(self, pin: int | None, callback: Callable[..., object], *args: Any) -> None:
        if pin is None:
            return
        button = self._open(Button, pin, pull_up=True, bounce_time=BOUNCE_S)
        button.when_pressed = self._hand_over(callback, *args)

    def _level(self, pin: int | None, changed: Callable[[bool], object]) -> Any:
        if pin is None:
            return None
        device = self._open(DigitalInputDevice, pin, pull_up=False)
        device.when_activated = self._hand_over(changed, True)
        device.when_deactivated = self._hand_over(changed, False)
        return device

    def _hand_over(self, callback: Callable[..., object], *args: Any) -> Callable[[], None]:
        def fire() -> None:  # on a gpiozero thread
            self._call(callback, *args)

        return fire

    # -- showing ------------------------------------------------------------------

    def show(self, state: PanelState, now_local: time) -> PanelSignals:
        """Show state at local time now_local; returns what the panel now shows."""
        start, end = self._section.night
        wanted = signals(state, now_local, start, end)
        before = self._showing
        if self._status is not None and (before is None or before.status_led != wanted.status_led):
            play(self._status, wanted.status_led)
        if self._alert is not None and (before is None or before.alert_led != wanted.alert_led):
            play(self._alert, wanted.alert_led)
        self._showing = wanted
        self._sound(wanted.buzzer)
        return wanted

    def _sound(self, pattern: Pattern) -> None:
        if self._buzzer is None or self._monotonic() < self._chirp_ends:
            return  # a chirp is playing; the next show() resumes the pattern
        if pattern != self._buzzer_playing:
            play(self._buzzer, pattern)
            self._buzzer_playing = pattern

    def changes_in_s(self, now_local: time) -> float:
        """Seconds until what the panel shows may change by time alone: the chirp ends, or
        the quiet night starts or ends (the rest changes only with the hub's state)."""
        start, end = self._section.night
        chirping = self._chirp_ends - self._monotonic()
        night = night_changes_in_s(now_local, start, end)
        return min(night, chirping) if chirping > 0 else night

    def sos_received(self) -> None:
        """A new SOS was heard: chirp, then the buzzer's pattern resumes at the next show()."""
        if self._buzzer is None:
            return
        sound = chirp()
        play(self._buzzer, sound)
        self._buzzer_playing = None
        self._chirp_ends = self._monotonic() + (sound.duration_s or 0.0)

    # -- reading and closing --------------------------------------------------------

    @property
    def showing(self) -> PanelSignals | None:
        """The signals of the last show(), or None before the first."""
        return self._showing

    @property
    def mains_good(self) -> bool | None:
        """True while mains power is present; None if the input is not wired."""
        return None if self._mains is None else bool(self._mains.is_active)

    @property
    def battery_low(self) -> bool | None:
        """True while the UPS says its battery is low; None if the input is not wired."""
        return None if self._battery is None else bool(self._battery.is_active)

    @property
    def devices(self) -> tuple[Any, ...]:
        """Every gpiozero device the panel opened (none for an unwired pin)."""
        return tuple(self._devices)

    def close(self) -> None:
        """Turn everything off and release every pin; safe to call twice."""
        while self._devices:  # outputs first: they go dark at once, buttons take ~0.1 s
            device = self._devices.pop(0)
            try:
                device.close()
            except GPIOZeroError:  # closing must reach every other pin
                pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
