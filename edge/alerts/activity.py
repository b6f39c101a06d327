"""What a verified frame from an activity sensor says: someone moved, a door opened or closed."""

from __future__ import annotations

from enum import StrEnum

from firmware_bridge.ble.bthome import Frame

MOTION_OBJECTS = frozenset({"motion", "occupancy", "moving", "presence"})
OPENING_OBJECTS = frozenset({"opening", "window", "door"})


class Activity(StrEnum):
    """One thing a sensor saw, as the activity table keeps it."""

    MOTION = "motion"
    DOOR_OPEN = "door_open"
    DOOR_CLOSED = "door_closed"
    CHECK_IN = "check_in"  # the resident's daily "I'm fine" on the watch


def read_activity(frame: Frame) -> tuple[Activity, ...]:
    """The activity in a sensor's frame; a cleared motion flag, light or battery is none."""
    seen: list[Activity] = []
    for obj in frame.objects:
        if obj.name in MOTION_OBJECTS and obj.value is True:
            seen.append(Activity.MOTION)
        elif obj.name in OPENING_OBJECTS and isinstance(obj.value, bool):
            seen.append(Activity.DOOR_OPEN if obj.value else Activity.DOOR_CLOSED)
    return tuple(dict.fromkeys(seen))
