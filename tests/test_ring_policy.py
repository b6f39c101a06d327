"""The pure rules of ring calls: night hours, who is called after which text, how a call
stands from AT+CLCC; and the call setting carried by the roster the server pushes."""

from __future__ import annotations

from datetime import time

import pytest

from cloud_sync.contract.roster_file import parse_roster
from cloud_sync.server.roster import roster_fields
from edge.calls.policy import progress, wants_call
from edge.clock import parse_span
from edge.domain import CallWhen, Contact, Role
from firmware_bridge.modem.at_replies import CallLine

GRID = Contact("grid", "李娜", "+8613800138001", Role.GRID_WORKER, 1)


def test_night_hours_may_run_over_midnight() -> None:
    night = parse_span("22:00-07:00")
    assert night.contains(time(23, 59)) and night.contains(time(0, 0))
    assert night.contains(time(6, 59)) and not night.contains(time(7, 0))
    assert not night.contains(time(21, 59)) and night.contains(time(22, 0))
    day = parse_span("9:00-17:30")
    assert str(day) == "09:00-17:30" and day.contains(time(12)) and not day.contains(time(18))
    for bad in ("22-07", "22:00", "22:00-22:00", "24:00-07:00", "22:60-07:00", "late"):
        with pytest.raises(ValueError):
            parse_span(bad)


@pytest.mark.parametrize(("call", "kind", "at", "expected"), [
    (CallWhen.ALWAYS, "sos", time(12), True), (CallWhen.ALWAYS, "unanswered", time(12), True),
    (CallWhen.ALWAYS, "escalated", time(12), True), (CallWhen.ALWAYS, "taken", time(12), False),
    (CallWhen.ALWAYS, "cancelled", time(3), False), (CallWhen.NIGHT, "sos", time(3), True),
    (CallWhen.NIGHT, "sos", time(12), False), (CallWhen.NEVER, "sos", time(3), False)])
def test_who_is_called_after_which_text(call: CallWhen, kind: str, at: time,
                                        expected: bool) -> None:
    contact = Contact(GRID.id, GRID.name, GRID.phone, GRID.role, GRID.tier, call=call)
    assert wants_call(contact, kind, parse_span("22:00-07:00"), at) is expected


def test_how_a_call_stands() -> None:
    ringing = CallLine(1, True, "ringing", True, GRID.phone)
    active = CallLine(1, True, "active", True, GRID.phone)
    incoming = CallLine(2, False, "incoming", True, "+861")
    assert progress([ringing], "", ring_over=False) is None
    assert progress([ringing], "", ring_over=True) == "no_answer"
    assert progress([active], "", ring_over=True) == "answered"
    assert progress([], "busy", ring_over=False) == "busy"
    assert progress([incoming], "", ring_over=False) == "dropped"  # ours is gone


def test_the_pushed_roster_carries_each_contacts_call_setting() -> None:
    data = {"residents": [{"id": "r1", "name": "王秀英", "room": "101"}],
            "contacts": [{"id": "grid", "name": "李娜", "phone": GRID.phone,
                          "role": "grid_worker", "tier": 1, "call": "always"},
                         {"id": "desk", "name": "值班室", "phone": "+8613800138000",
                          "role": "duty_desk", "tier": 1}]}
    roster = parse_roster(data, source="roster", default_address="幸福里")
    assert [c.call for c in roster.contacts] == [CallWhen.ALWAYS, CallWhen.NEVER]
    pushed = roster_fields(roster, "v2")  # what the server sends the hub
    assert [c.get("call") for c in pushed["contacts"]] == ["always", None]
    again = parse_roster(pushed, source="roster", default_address="幸福里")
    assert again.contacts == roster.contacts
