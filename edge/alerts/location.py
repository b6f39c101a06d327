"""Where a resident is: the watch's last fix, or home when there is none or it is too old."""

from __future__ import annotations

from edge.domain import Fix, Location, Resident


def locate(resident: Resident, fix: Fix | None, now: float, stale_after_s: float) -> Location:
    """The location to send help to, with the fix's age computed now."""
    if fix is None:
        return Location(address=resident.address, room=resident.room)
    age = max(0.0, now - fix.fixed_at)
    return Location(
        address=resident.address, room=resident.room, fix=fix, age_s=age,
        stale=age > stale_after_s,
    )


def describe(location: Location) -> str:
    """One plain line for logs and messages."""
    home = location.address
    if location.room not in home:
        home = f"{home} (room {location.room})"
    if location.fix is None:
        return f"no GPS fix; home address {home}"
    fix = location.fix
    age_min = (location.age_s or 0.0) / 60
    stale = ", STALE" if location.stale else ""
    return (
        f"GPS {fix.lat:.5f},{fix.lon:.5f} ±{fix.accuracy_m:.0f} m, "
        f"{age_min:.0f} min old{stale}; home {home}"
    )


def to_json(location: Location) -> dict[str, object]:
    """The location as event fields."""
    data: dict[str, object] = {
        "source": location.source, "address": location.address, "room": location.room,
    }
    if location.fix is not None:
        data.update(
            lat=location.fix.lat, lon=location.fix.lon, accuracy_m=location.fix.accuracy_m,
            fixed_at=location.fix.fixed_at, age_s=round(location.age_s or 0.0, 1),
            stale=location.stale,
        )
    return data
