"""POST /activity of edge-hub simulate: one sensor event now, or days of a daily-life
pattern (firmware_bridge.simulators.daily_life) played on the hub's clock."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from edge.app import HubApp
from edge.domain import Sensor, SensorKind
from edge.simulated.simulate_control import BadRequest
from firmware_bridge.simulators.daily_life import PATTERNS, DailyLife, Home
from firmware_bridge.simulators.virtual_air import VirtualAir

EVENTS = ("motion", "door_open", "door_closed")
PLAY_EVERY_S = 1.0
_BATHROOM_WORDS = ("卫生间", "厕所", "浴室", "bath", "toilet", "wc")


def home_of(sensors: list[Sensor]) -> Home:
    """A resident's sensors by role: the first motion sensor is the room; a door whose
    place names a bathroom is the bathroom door, the first other door the front door."""
    motion = [s.mac for s in sensors if s.kind is SensorKind.MOTION]
    doors = [s for s in sensors if s.kind is SensorKind.DOOR]
    bathroom = [s.mac for s in doors if any(w in s.place.lower() for w in _BATHROOM_WORDS)]
    front = [s.mac for s in doors if s.mac not in bathroom]
    return Home(next(iter(motion), None), next(iter(bathroom), None), next(iter(front), None))


class ActivityScript:
    """Scripts the residents' sensors of a simulated building."""

    def __init__(self, app: HubApp, air: VirtualAir) -> None:
        self.app, self.air = app, air
        self.zone = ZoneInfo(app.config.sms.timezone)
        self.life = DailyLife(air, self.zone)
        self._player: asyncio.Task[None] | None = None

    async def handle(self, body: dict[str, Any]) -> tuple[int, Any]:
        resident = body.get("resident")
        sensors = [s for s in self.app.store.sensors() if s.resident_id == resident]
        if not sensors:
            raise BadRequest(f"resident: expected a resident with [[sensors]], got {resident!r}")
        if "pattern" in body:
            return 200, self._plan(str(resident), sensors, body)
        return 200, self._now(str(resident), sensors, body)

    def _now(self, resident: str, sensors: list[Sensor], body: dict[str, Any]) -> dict[str, Any]:
        event = body.get("event")
        if event not in EVENTS:
            raise BadRequest(f"event: expected one of {', '.join(EVENTS)} (or a pattern: "
                             f"{', '.join(PATTERNS)}), got {event!r}")
        kind = SensorKind.MOTION if event == "motion" else SensorKind.DOOR
        wanted = str(body.get("mac", "")).upper()
        found = [s for s in sensors if s.kind is kind and (not wanted or s.mac == wanted)]
        if not found:
            raise BadRequest(f"mac: expected a {kind.value} sensor of {resident}")
        sensor = found[0]
        if event == "motion":
            self.air.motion(sensor.mac)
        else:
            self.air.door(sensor.mac, event == "door_open")
        return {"resident": resident, "sensor": sensor.mac, "place": sensor.place,
                "event": event}

    def _plan(self, resident: str, sensors: list[Sensor], body: dict[str, Any]) -> dict[str, Any]:
        pattern, days = body["pattern"], body.get("days", 1)
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 31:
            raise BadRequest(f"days: expected a whole number from 1 to 31, got {days!r}")
        try:
            first = date.fromisoformat(str(body["day"])) if "day" in body else \
                datetime.fromtimestamp(self.app.clock.now(), self.zone).date()
        except ValueError:
            raise BadRequest(f"day: expected a date like 2026-12-07, got {body['day']!r}") \
                from None
        self.life.homes[resident] = home_of(sensors)
        try:
            planned = self.life.plan_days(resident, first, [str(pattern)] * days)
        except ValueError as error:
            raise BadRequest(str(error)) from None
        if self._player is None or self._player.done():
            self._player = asyncio.get_running_loop().create_task(self._play(), name="life")
        return {"resident": resident, "pattern": pattern, "from": first.isoformat(),
                "days": days, "planned": planned}

    async def _play(self) -> None:
        """Put each planned event on the air when the hub's clock reaches it."""
        while self.life.next_at() is not None:
            self.life.play_until(self.app.clock.now())
            await asyncio.sleep(PLAY_EVERY_S)
