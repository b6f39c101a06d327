"""What a decoded watch frame says, in the hub's terms: SOS, cancel, battery, position."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge.domain import Alert, Fix, Watch
from firmware_bridge.ble.bthome import Frame
from firmware_bridge.ble.gnss_fix import GnssFix, is_fix_payload, unpack_fix

SOS_EVENTS = frozenset({"press", "double_press", "triple_press", "hold_press"})
# A long press cancels inside an open alert's cancel window; with nothing open it is a
# person holding the button, and raises an SOS (edge.alerts.hub).
CANCEL_EVENTS = frozenset({"long_press"})
BUTTON_EVENTS = SOS_EVENTS | CANCEL_EVENTS


def has_button(frame: Frame) -> bool:
    """A press, hold or long press is in the frame (WatchReport.pressed, before reading it)."""
    return any(obj.name == "button" and obj.value in BUTTON_EVENTS for obj in frame.objects)


@dataclass(frozen=True, slots=True)
class WatchReport:
    """The meaning of one frame; a frame may carry several of these at once."""

    sos: bool = False
    cancel: bool = False
    battery: int | None = None
    fix: GnssFix | None = None
    packet_id: int | None = None
    ignored: tuple[str, ...] = ()
    button: str | None = None
    odd_battery: int | None = None  # a battery level out of 0-100, as the watch sent it
    check_in: bool = False  # a double press that is the resident's daily "I'm fine"

    @property
    def pressed(self) -> bool:
        """A button frame (press, hold, long press): kept for good in the watch's history."""
        return self.button is not None


def read_report(frame: Frame) -> WatchReport:
    """Interpret the objects of a verified frame; a malformed fix raises FrameError."""
    sos = cancel = False
    battery: int | None = None
    fix: GnssFix | None = None
    packet_id: int | None = None
    button: str | None = None
    odd_battery: int | None = None
    ignored: list[str] = []
    for obj in frame.objects:
        if obj.name == "button" and obj.value in SOS_EVENTS:
            sos, button = True, str(obj.value)
        elif obj.name == "button" and obj.value in CANCEL_EVENTS:
            cancel, button = True, str(obj.value)
        elif obj.name == "battery":
            reported = int(obj.value)  # type: ignore[call-overload]
            battery = max(0, min(100, reported))
            odd_battery = reported if reported != battery else None
        elif obj.name == "packet_id":
            packet_id = int(obj.value)  # type: ignore[call-overload]
        elif obj.name == "raw" and isinstance(obj.value, bytes) and is_fix_payload(obj.value):
            fix = unpack_fix(obj.value)
        elif not (obj.name == "button" and obj.value == "none"):
            ignored.append(f"{obj.name}={obj.value!r}")
    return WatchReport(sos, cancel, battery, fix, packet_id, tuple(ignored), button,
                       odd_battery)



@dataclass(frozen=True, slots=True)
class Heard:
    """What one accepted frame did (edge.alerts.hub): for the demo's narration and tests."""

    watch: Watch
    report: WatchReport
    alert: Alert | None = None
    outcome: str = ""


def battery_event(watch: Watch, percent: int, odd: int | None,
                  changed: bool) -> dict[str, Any] | None:
    """The event of a level (clamped to 0-100) that changed, or that the watch sent out of
    range (flagged); None when it is the same as before."""
    if not changed and odd is None:
        return None
    body: dict[str, Any] = {"watch": watch.mac, "resident": watch.resident_id,
                            "battery": percent}
    if odd is not None:
        body["reported"] = odd
    return body


def fix_event(watch: Watch, report: WatchReport, now: float) -> tuple[Fix, dict[str, Any]]:
    """The watch's fix as the store keeps it, and its event; the report must carry one."""
    gnss = report.fix
    assert gnss is not None
    fix = Fix(watch.mac, gnss.lat, gnss.lon, gnss.accuracy_m, now - gnss.age_s, now)
    return fix, {"watch": watch.mac, "resident": watch.resident_id, "lat": fix.lat,
                 "lon": fix.lon, "accuracy_m": fix.accuracy_m, "fixed_at": fix.fixed_at}
