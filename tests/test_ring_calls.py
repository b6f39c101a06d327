"""Ring calls through the whole hub: a press, the SOS texts, then a voice call placed on
the emulated modem over a pty, its outcome recorded, never an acknowledgement."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from edge.domain import AlertState
from tests.building import mac_for
from tests.sms_building import DESK, GRID, NEIGHBOUR, SmsBuilding, run_scenario, until

Scenario = Callable[[SmsBuilding], Awaitable[None]]


def play(tmp_path: Path, scenario: Scenario, calls: dict[str, Any],
         hub: dict[str, Any] | None = None) -> SmsBuilding:
    return run_scenario(SmsBuilding(tmp_path, calls=calls, hub=hub), scenario)


async def pressed(b: SmsBuilding, watch: int = 0) -> None:
    b.air.press(mac_for(watch), repeats=3)
    await b.advance(11)  # past the cancel window: tier 1 is texted
    await b.settle()


def called(b: SmsBuilding) -> list[tuple[str, str]]:
    return [(call.number, call.outcome) for call in b.modem.calls]


def call_events(b: SmsBuilding) -> list[dict[str, Any]]:
    assert b.app is not None
    rows = b.app.store.db.execute(
        "SELECT body FROM outbox WHERE type = 'alert.called' ORDER BY seq").fetchall()
    return [json.loads(body) for (body,) in rows]


def test_a_press_texts_then_rings_and_an_answered_call_is_recorded_not_an_ack(
        tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        b.modem.on_call(GRID, "answer", after_s=0.1)
        await pressed(b)
        await until(lambda: called(b) == [(GRID, "answered")] and len(call_events(b)) == 1)
        assert b.modem.submitted_times[-1] < b.modem.command_times[
            b.modem.commands.index(f"ATD{GRID};")]  # every text went first
        assert b.app is not None
        (alert,) = b.app.store.alerts()
        assert alert.state is AlertState.ACTIVE  # answering is not acknowledging
        (event,) = call_events(b)
        assert event["outcome"] == "answered" and event["to"]["name"] == "李娜"
        assert event["alert"]["uid"] == alert.uid
        await b.advance(120)  # nobody replied: tier 2 is texted, the grid worker too
        await b.settle()
        assert len(b.inbox()[GRID]) == 2
        assert called(b) == [(GRID, "answered")]  # answered once: not called again

    play(tmp_path, scenario, {"contacts": {"grid": "always"}})


def test_a_busy_line_is_recorded_and_called_again_with_the_next_round(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        b.modem.on_call(GRID, "busy", after_s=0.1)
        await pressed(b)
        await until(lambda: called(b) == [(GRID, "busy")])
        await b.advance(5)
        assert called(b) == [(GRID, "busy")]  # no tight loop: only with the next round
        b.modem.on_call(GRID, "no_answer", after_s=0.1)
        await b.advance(120)
        await b.settle()
        await until(lambda: called(b) == [(GRID, "busy"), (GRID, "no_answer")])
        await until(lambda: [e["outcome"] for e in call_events(b)] == ["busy", "no_answer"])

    play(tmp_path, scenario, {"contacts": {"grid": "always"}})


def test_a_tier_2_contact_is_called_only_once_the_alert_reaches_tier_2(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        b.modem.on_call(NEIGHBOUR, "answer", after_s=0.1)
        await pressed(b)
        await b.advance(60)
        await b.settle()
        assert NEIGHBOUR not in b.inbox() and called(b) == []  # tier 1 only so far
        await b.advance(61)  # nobody replied in 120 s: tier 2 is texted, then rung
        await b.settle()
        await until(lambda: called(b) == [(NEIGHBOUR, "answered")])
        assert len(b.inbox()[NEIGHBOUR]) == 1

    play(tmp_path, scenario, {"contacts": {"nb": "always"}})


def test_a_ringing_phone_is_hung_up_after_the_ring_time(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        await pressed(b)
        await until(lambda: b.modem.call_in_progress == GRID)
        await b.advance(19)
        assert b.modem.call_in_progress == GRID
        await b.advance(2)  # 20 s of ringing
        await until(lambda: called(b) == [(GRID, "hung_up")])
        await until(lambda: [e["outcome"] for e in call_events(b)] == ["no_answer"])

    play(tmp_path, scenario, {"contacts": {"grid": "always"}, "ring_s": 20})


def test_a_dropped_call_is_recorded(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        b.modem.on_call(GRID, "drop", after_s=0.1)
        await pressed(b)
        await until(lambda: [e["outcome"] for e in call_events(b)] == ["dropped"])

    play(tmp_path, scenario, {"contacts": {"grid": "always"}})


def test_night_only_contacts_are_called_only_in_the_night_hours(tmp_path) -> None:
    """The fake clock starts at 22:13 in Shanghai; night here is 22:00-23:00."""
    async def scenario(b: SmsBuilding) -> None:
        await pressed(b)
        await until(lambda: b.modem.call_in_progress == GRID)
        await b.advance(31)
        await until(lambda: len(called(b)) == 1)
        b.reply(GRID, "1")  # acknowledged
        await b.advance(1)
        await b.settle()
        await b.advance(3600)  # 23:14: daytime for this contact
        await pressed(b, watch=1)
        await b.advance(5)
        assert [number for number, _ in called(b)] == [GRID]
        assert b.modem.call_in_progress is None

    play(tmp_path, scenario, {"contacts": {"grid": "night"}, "night": "22:00-23:00"})


def test_a_call_never_holds_up_a_text_and_only_one_call_rings_at_a_time(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        await pressed(b)
        await until(lambda: b.modem.call_in_progress is not None)
        first = b.modem.call_in_progress
        sent = len(b.modem.submitted)
        b.air.press(mac_for(1), repeats=3)  # a second resident presses while it rings
        await b.advance(11)
        await until(lambda: len(b.modem.submitted) >= sent + 2)  # texted during the ring
        assert b.modem.call_in_progress == first  # the first call still rings, alone
        await b.advance(30)  # its ring time is over: hung up, then the next call rings
        await until(lambda: called(b) == [(first, "hung_up")]
                    and b.modem.call_in_progress not in (None, first))

    play(tmp_path, scenario, {"contacts": {"grid": "always", "desk": "always"}})


def test_a_call_ringing_when_the_hub_restarts_is_not_placed_again(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        await pressed(b)
        await until(lambda: b.modem.call_in_progress == GRID)
        await b.restart()
        assert b.app is not None
        await until(lambda: b.modem.call_in_progress is None)  # hung up after the restart
        assert b.app.store.db.execute(
            "SELECT phone, state, outcome FROM calls_out").fetchall() == [
                (GRID, "done", "interrupted")]
        await b.advance(5)
        assert b.modem.commands.count(f"ATD{GRID};") == 1

    play(tmp_path, scenario, {"contacts": {"grid": "always"}})


def test_contacts_not_marked_for_calls_are_never_called(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        await pressed(b)
        await b.advance(120)
        await b.settle()
        await b.advance(2)
        assert NEIGHBOUR in b.inbox() and DESK in b.inbox()
        assert not any(c.startswith("ATD") for c in b.modem.commands)

    play(tmp_path, scenario, {})


def test_a_call_still_ringing_when_someone_takes_the_alert_is_hung_up(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        await pressed(b)
        await until(lambda: b.modem.call_in_progress == GRID)
        b.reply(DESK, "1")  # the duty desk takes it while the grid worker's phone rings
        await b.advance(1)
        await until(lambda: [e["outcome"] for e in call_events(b)] == ["not_needed"])
        assert b.modem.call_in_progress is None
        assert b.app is not None
        (alert,) = b.app.store.alerts()
        assert alert.state is AlertState.ACKNOWLEDGED and alert.closed_by == "值班室"

    play(tmp_path, scenario, {"contacts": {"grid": "always"}})


def test_a_modem_that_restarts_during_a_call_ends_it_and_texts_go_on(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        await pressed(b)
        await until(lambda: b.modem.call_in_progress == GRID)
        b.modem.reboot()  # silent while it boots: the call fails or is found interrupted
        await until(lambda: [e["outcome"] for e in call_events(b)] in (["failed"],
                                                                       ["interrupted"]))
        await b.advance(120)  # the next round texts tier 2 and calls again
        await b.settle()
        assert NEIGHBOUR in b.inbox()
        await until(lambda: b.modem.call_in_progress == GRID)

    play(tmp_path, scenario, {"contacts": {"grid": "always"}})


def test_a_call_waits_for_its_text_and_survives_a_restart(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        b.modem.refuse_number(GRID, 27)  # the grid worker's text cannot go out yet
        await pressed(b)
        await b.advance(1)
        assert GRID not in b.inbox() and b.modem.calls == []  # no call before the text
        await b.restart()
        b.modem.accept_number(GRID)
        await b.advance(30)  # the text is tried again, then the call follows
        await until(lambda: GRID in b.inbox() and b.modem.call_in_progress == GRID)
        assert b.modem.commands.count(f"ATD{GRID};") == 1

    play(tmp_path, scenario, {"contacts": {"grid": "always"}})


def test_an_answered_call_stays_answered_when_the_modem_will_not_hang_up(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        b.modem.on_call(GRID, "answer", after_s=0.1)
        b.modem.voice_hangup_ignored()  # ATH leaves the call alone...
        b.modem.fail_next("CHUP", cme=3)  # ...and AT+CHUP is refused once
        await pressed(b)
        await until(lambda: [e["outcome"] for e in call_events(b)] == ["answered"])
        assert "AT+CHUP" in b.modem.commands

    play(tmp_path, scenario, {"contacts": {"grid": "always"}})


def test_a_modem_that_stops_answering_during_a_call_is_set_up_again_and_texts_go_first(
        tmp_path) -> None:
    """The call is not hung up on a silent modem nor the next one dialled: the modem is
    marked down at once, and once it answers, the SOS raised meanwhile is texted before
    any call."""
    async def scenario(b: SmsBuilding) -> None:
        assert b.app is not None and b.app.worker is not None
        worker = b.app.worker
        await pressed(b)
        await until(lambda: b.modem.call_in_progress is not None)
        first = b.modem.call_in_progress
        b.modem.hang()  # answers nothing from now on
        await until(lambda: not worker.ready, timeout=4)  # one short AT+CLCC timeout
        b.air.press(mac_for(1), repeats=3)  # a second resident presses meanwhile
        await b.advance(11)
        waiting = len(b.modem.submitted)
        b.modem.unhang()
        await until(lambda: len(b.modem.submitted) >= waiting + 2, timeout=15)
        await until(lambda: b.modem.call_in_progress not in (None, first), timeout=10)
        texted = b.modem.submitted_times[waiting + 1]
        dialled = [at for command, at in zip(b.modem.commands, b.modem.command_times)
                   if command.startswith("ATD")]
        assert dialled[1] > texted  # the second call waited for the new SOS texts
        assert [e["outcome"] for e in call_events(b)] == ["interrupted"]
        assert called(b)[0] == (first, "hung_up")  # hung up once the modem answered

    play(tmp_path, scenario, {"contacts": {"grid": "always", "desk": "always"}})


def test_a_failing_call_queue_never_stops_replies_from_being_read(tmp_path, caplog) -> None:
    async def scenario(b: SmsBuilding) -> None:
        assert b.app is not None
        b.modem.on_call(GRID, "busy", after_s=0.1)
        await pressed(b)
        await until(lambda: called(b) == [(GRID, "busy")])  # nothing queued until round 2
        b.app.store.db.execute("ALTER TABLE calls_out RENAME TO calls_gone")  # a broken queue
        await b.advance(1)
        await b.advance(1)
        b.reply(DESK, "1")
        await until(lambda: b.app is not None
                    and b.app.store.alerts()[0].state is AlertState.ACKNOWLEDGED)
        failures = [r for r in caplog.records if r.getMessage().startswith("Ring calls failed")]
        assert len(failures) == 1 and "tried again at the next turn" in failures[0].getMessage()
        b.app.store.db.execute("ALTER TABLE calls_gone RENAME TO calls_out")

    play(tmp_path, scenario, {"contacts": {"grid": "always"}})


def calls_in_file(database: Path) -> list[tuple[str, str, str]]:
    from edge.storage.store import Store

    store = Store.open(database)
    try:
        rows = store.db.execute("SELECT phone, state, coalesce(outcome, '') FROM calls_out "
                                "ORDER BY id").fetchall()
        return [(str(p), str(s), str(o)) for p, s, o in rows]
    finally:
        store.close()


def test_ring_calls_go_on_from_memory_when_the_disk_is_full_and_are_written_back(
        tmp_path) -> None:
    """The database reaches its size limit while one call rings and another waits: both
    are carried into memory, ended there, and written back; the next start reports
    nothing again."""
    async def scenario(b: SmsBuilding) -> None:
        assert b.app is not None and b.app.store.guard is not None
        await pressed(b)
        await until(lambda: b.modem.call_in_progress is not None)
        for percent in range(3000):  # telemetry until the database is at its limit
            b.air.battery(mac_for(1), 100 - percent % 90)
            b.app.store.flush_telemetry()
            if b.app.store.storage_health()["mode"] == "memory":
                break
        assert b.app.store.storage_health()["mode"] == "memory"
        assert b.app.store.guard.copy is not None and b.app.store.guard.copy.complete
        await b.advance(31)  # the first call rang out; the one queued on disk rings next
        await until(lambda: len(called(b)) == 1 and b.modem.call_in_progress is not None)
        await b.advance(31)
        await until(lambda: [e["outcome"] for e in call_events(b)] == ["no_answer"] * 2)
        b.app.store.guard.page_limit = None  # the installer gives it room
        b.app.store.recover_storage()
        assert b.app.store.storage_health()["mode"] != "memory"
        await b.restart()
        await b.advance(2)
        assert [e["outcome"] for e in call_events(b)] == ["no_answer"] * 2  # none again

    b = play(tmp_path, scenario, {"contacts": {"grid": "always", "desk": "always"}},
             hub={"max_database_mb": 1.5, "storage_reserve_mb": 0.5, "low_space_mb": 0.2})
    assert [row[1:] for row in calls_in_file(b.database)] == [("done", "no_answer")] * 2
