"""Replies by SMS through the production hub: only a clear yes takes an alert."""

from __future__ import annotations

import asyncio
from pathlib import Path

from edge.domain import AlertState
from tests.building import mac_for
from tests.sms_building import (
    DESK,
    GRID,
    NEIGHBOUR,
    SON,
    SmsBuilding,
    run_scenario,
    until,
)


def play(tmp_path: Path, scenario) -> SmsBuilding:  # type: ignore[no-untyped-def]
    return run_scenario(SmsBuilding(tmp_path), scenario)


async def sos(b: SmsBuilding, index: int = 0) -> str:
    """A press, the cancel window, the texts: the alert's reference."""
    assert b.app is not None
    b.air.press(mac_for(index))
    await b.advance(11)
    await b.settle()
    alert = b.app.store.open_alert_for(f"r{index + 1}")
    assert alert is not None and alert.state is AlertState.ACTIVE
    return alert.ref


async def answered(b: SmsBuilding, phone: str, words: str) -> str:
    await until(lambda: any(words in t for t in b.inbox().get(phone, [])), timeout=10)
    return next(t for t in b.inbox()[phone] if words in t)


def test_got_it_but_i_cannot_go_is_a_decline_not_a_take(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        assert b.app is not None
        ref = await sos(b)
        b.reply(GRID, "收到，但我去不了")
        text = await answered(b, GRID, "不能前往")
        assert ref in text
        assert b.app.store.open_alert_for("r1") is not None  # still waiting for a person
        declines = [e.body for e in b.app.store.pending_events(1000) if e.type == "alert.declined"]
        assert declines and declines[0]["by"] == "李娜"

    play(tmp_path, scenario)


def test_when_all_of_a_tier_decline_the_next_tier_is_texted_at_once(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        await sos(b)
        assert NEIGHBOUR not in b.inbox()
        b.reply(GRID, "去不了")
        await answered(b, GRID, "不能前往")
        await b.advance(1)
        assert NEIGHBOUR not in b.inbox()  # the duty desk has not answered yet
        b.reply(DESK, "sorry, not available")
        await answered(b, DESK, "不能前往")
        await b.advance(1)  # a tick, far less than tier 1's 120 s
        await until(lambda: NEIGHBOUR in b.inbox(), timeout=10)

    play(tmp_path, scenario)


def test_an_unclear_reply_changes_nothing_and_says_how_to_take_the_alert(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        assert b.app is not None
        ref = await sos(b)
        b.reply(GRID, "1?")
        text = await answered(b, GRID, f"1 {ref}")
        assert "去不了" in text
        assert b.app.store.open_alert_for("r1") is not None

    play(tmp_path, scenario)


def test_a_reference_the_sender_was_not_texted_about_changes_nothing(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        assert b.app is not None
        ref = await sos(b)
        b.reply(GRID, "1 A0ZZ")
        text = await answered(b, GRID, "A0ZZ")
        assert ref in text
        assert b.app.store.open_alert_for("r1") is not None

    play(tmp_path, scenario)


def test_a_bare_yes_takes_the_alert_waiting_longest_and_says_how_to_take_the_other(
        tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        assert b.app is not None
        first = await sos(b, 0)
        await b.advance(5)
        second = await sos(b, 1)
        b.reply(GRID, "1")
        text = await answered(b, GRID, f"1 {second}")
        assert first in text
        taken = b.app.store.alert(first)
        assert taken is not None and taken.state is AlertState.ACKNOWLEDGED
        assert b.app.store.open_alert_for("r2") is not None
        b.reply(GRID, f"1 {second}")
        await until(lambda: b.app is not None and not b.app.store.open_alerts(), timeout=10)

    play(tmp_path, scenario)


def test_a_number_that_only_ends_like_a_contacts_is_not_that_contact(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        assert b.app is not None
        await sos(b)
        b.reply("+62813800138001", "1")  # the same last 11 digits as the grid worker
        await asyncio.sleep(0.5)
        await b.advance(1)
        assert b.app.store.open_alert_for("r1") is not None
        assert "+62813800138001" not in b.inbox()  # strangers are not answered either
        b.reply("008613800138001", "好的我马上到")  # the grid worker, written another way
        await until(lambda: b.app is not None and not b.app.store.open_alerts(), timeout=10)
        await until(lambda: any("李娜" in t for t in b.inbox().get(DESK, [])), timeout=10)

    b = play(tmp_path, scenario)
    assert any("李娜" in t for t in b.inbox()[DESK])  # told who took it
    assert SON in b.inbox()


def test_an_auto_responder_cannot_start_a_ping_pong(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        assert b.app is not None
        ref = await sos(b)
        before = len(b.inbox()[GRID])
        for _ in range(5):  # a phone that answers every text with the same words
            b.reply(GRID, "Sorry, I can't talk right now.")
            await b.advance(1)
            await b.settle()
        for _ in range(5):
            b.reply(GRID, "[Auto-reply] I am driving")
            await b.advance(1)
            await b.settle()
        answers = b.inbox()[GRID][before:]
        assert sum("不能前往" in t for t in answers) == 1, answers
        assert sum(f"1 {ref}" in t for t in answers) == 1, answers
        declines = [e for e in b.app.store.pending_events(1000) if e.type == "alert.declined"]
        assert len(declines) == 1

    play(tmp_path, scenario)


def test_a_persons_different_mistakes_are_each_answered(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        assert b.app is not None
        ref = await sos(b)
        b.reply(GRID, "1?")
        await answered(b, GRID, f"1 {ref}")
        await b.advance(60)
        b.reply(GRID, "1 A0ZZ")  # a minute later, a reference they were not texted about
        text = await answered(b, GRID, "A0ZZ")
        assert ref in text and b.app.store.open_alert_for("r1") is not None

    play(tmp_path, scenario)
