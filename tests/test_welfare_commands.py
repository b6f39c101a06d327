"""The server's commands about sensors and away: a roster with [[sensors]], resident_away."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from cloud_sync.server.roster import roster_fields
from edge.domain import Sensor, SensorKind
from edge.uplink.commands import CommandHandler
from tests.building import SimBuilding, key_for, make_building

SENSOR = "B0:C7:DE:00:03:01"


def handler(building: SimBuilding, replies: list[dict[str, Any]]) -> CommandHandler:
    return CommandHandler(building.hub, None,  # type: ignore[arg-type]  # no events here
                          lambda payload: replies.append(json.loads(payload)),
                          default_address="幸福里路 18 号")


def command(kind: str, **fields: Any) -> bytes:
    return json.dumps({"v": 1, "id": f"c-{kind}", "type": kind, **fields}).encode()


def test_a_pushed_roster_with_a_sensor_registers_it_at_the_gate(tmp_path: Path) -> None:
    building, replies = make_building(tmp_path), []
    roster = building.roster
    with_sensor = replace(roster, sensors=(Sensor(SENSOR, "r2", SensorKind.DOOR, "大门",
                                                  key_for(70)),))
    handler(building, replies).handle(command("roster", **roster_fields(with_sensor, "r9")))
    assert replies[-1]["ok"] is True, replies
    building.air.add_watch(SENSOR, key_for(70))
    building.air.door(SENSOR, True)
    building.store.flush_telemetry()
    assert building.store.activity_since("r2", 0) == [
        (SENSOR, "door_open", building.clock.now())]


def test_resident_away_sets_and_ends_a_spell_and_refuses_what_cannot_be(tmp_path: Path) -> None:
    building, replies = make_building(tmp_path), []
    commands, now = handler(building, replies), building.clock.now()
    commands.handle(command("resident_away", resident="r1", by="社区 林", until=now + 86400))
    assert replies[-1]["ok"] is True
    assert building.store.watched("r1", now).away_until == now + 86400
    commands.handle(command("resident_away", resident="r1", by="社区 林"))
    assert building.store.watched("r1", now).away_until is None
    commands.handle(command("resident_away", resident="r9", by="x", until=now + 60))
    assert "no resident 'r9'" in replies[-1]["error"]
    commands.handle(command("resident_away", resident="r1", by="x", until=now - 60))
    assert "has passed" in replies[-1]["error"]
    events = [e.body["away_until"] for e in building.store.pending_events(100)
              if e.type == "resident.away"]
    assert events == [now + 86400, None]
