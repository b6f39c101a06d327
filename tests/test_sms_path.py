"""The offline SOS path end to end: watch press, bleak, hub, SMS queue, modem on a pty."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest

from edge.domain import AlertState
from edge.sms.texts import SmsStore
from edge.storage.store import Store
from firmware_bridge.sms.pdu import Submit, decode_pdu, encode_status_report
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

Scenario = Callable[[SmsBuilding], Awaitable[None]]


def play(tmp_path: Path, scenario: Scenario, **sms: object) -> SmsBuilding:
    return run_scenario(SmsBuilding(tmp_path, **sms), scenario)


def test_press_texts_tier_one_and_always_contacts_in_chinese(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        b.air.press(mac_for(0), repeats=3)
        await b.advance(5)
        assert b.inbox() == {}  # still inside the cancel window
        await b.advance(6)
        await b.settle()

    b = play(tmp_path, scenario)
    inbox = b.inbox()
    assert set(inbox) == {DESK, GRID, SON}
    text = inbox[GRID][0]
    assert text.startswith("【SOS A001】王秀英")
    assert "住址幸福里路18号3号楼101" in text and "回复1" in text


def test_each_text_about_an_alert_is_an_event_for_the_server(tmp_path) -> None:
    """The duty desk's timeline shows who was texted and when: one alert.texted event per
    text the modem took, naming the contact, in the outbox with the alert's own."""
    async def scenario(b: SmsBuilding) -> None:
        b.air.press(mac_for(0), repeats=3)
        await b.advance(11)
        await b.settle()
        assert b.app is not None
        rows = b.app.store.db.execute(
            "SELECT body FROM outbox WHERE type = 'alert.texted' ORDER BY seq").fetchall()
        told = [json.loads(body) for (body,) in rows]
        (alert,) = b.app.store.alerts()
        assert {(t["to"]["name"], t["to"]["tier"], t["kind"]) for t in told} == {
            ("值班室", 1, "sos"), ("李娜", 1, "sos"), ("王强", 2, "sos")}
        assert {t["alert"]["uid"] for t in told} == {alert.uid}

    play(tmp_path, scenario)


def test_cancel_in_window_sends_nothing(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        b.air.press(mac_for(0))
        await b.advance(3)
        b.air.long_press(mac_for(0))
        await b.advance(60)
        await b.settle()

    assert play(tmp_path, scenario).inbox() == {}


def test_escalates_tier_by_tier_then_repeats_until_acknowledged(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        b.air.press(mac_for(0))
        await b.advance(11)
        await b.settle()
        await b.advance(119)
        await b.settle()
        assert NEIGHBOUR not in b.inbox()
        await b.advance(2)  # tier 1 had 120 s
        await b.settle()
        inbox = b.inbox()
        assert inbox[NEIGHBOUR][0].startswith("【SOS A001】")
        assert "无人回复，已通知赵大爷、王强" in inbox[GRID][1]
        await b.advance(301)  # last tier's wait, then "still unanswered" every 30 s
        await b.settle()
        for _ in range(3):
            await b.advance(31)
            await b.settle()
        assert sum("无人接手】" in t for t in b.inbox()[DESK]) == 3  # 3 fast rounds...
        await b.advance(570)
        await b.settle()
        assert sum("无人接手】" in t for t in b.inbox()[DESK]) == 4  # ...then every 10 min
        b.reply(GRID, "1")
        await _acknowledged(b)
        def about_the_alert() -> int:
            return sum("A001" in text for texts in b.inbox().values() for text in texts)

        before = about_the_alert()
        await b.advance(3600)  # (supervision meanwhile reports the silent watches)
        await b.settle()
        assert about_the_alert() == before

    b = play(tmp_path, scenario)
    alert_texts = [t for t in b.inbox()[DESK] if "A001" in t]
    assert alert_texts[-1] == "【A001】王秀英的求助已由李娜接手处理，谢谢。"
    assert all("李娜接手" not in t for t in b.inbox()[GRID])


async def _acknowledged(b: SmsBuilding) -> None:
    assert b.app is not None
    store = b.app.store
    await until(lambda: store.alerts()[0].state is AlertState.ACKNOWLEDGED, timeout=5)
    await b.settle()


def test_reply_from_unknown_number_changes_nothing(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        b.air.press(mac_for(0))
        await b.advance(11)
        await b.settle()
        b.reply("+8613999999999", "1")
        b.reply(GRID, "谁啊？")
        await asyncio.sleep(0.5)
        await b.advance(1)
        assert b.app is not None
        assert b.app.store.alerts()[0].state is AlertState.ACTIVE
        assert b.modem.stored == {}  # read, stored, then deleted from the SIM
        notes = b.app.store.db.execute("SELECT note FROM sms_in ORDER BY id").fetchall()
        assert [n[0] for n in notes] == ["not a notified number", "not understood"]

    play(tmp_path, scenario)


def test_reply_after_restart_is_processed_once(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        b.air.press(mac_for(0))
        await b.advance(11)
        await b.settle()
        await b.stop()
        b.reply(SON, "收到！")  # arrives while the hub is down
        await b.start()
        await _acknowledged(b)
        await b.restart()
        assert b.app is not None
        rows = b.app.store.db.execute("SELECT state FROM sms_in").fetchall()
        assert rows == [("done",)]

    b = play(tmp_path, scenario)
    assert "王强" in b.inbox()[GRID][-1]


def test_crash_before_sending_resumes_after_restart(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        b.modem.hang()
        b.air.press(mac_for(0))
        await b.advance(11)
        await asyncio.sleep(0.3)
        await b.stop()  # the hub dies with the texts queued
        b.modem.unhang()
        await b.start()
        await b.advance(2)  # the failed try set the next one a second later
        await b.settle()

    b = play(tmp_path, scenario)
    assert set(b.inbox()) == {DESK, GRID, SON}
    assert all(len(texts) == 1 for texts in b.inbox().values())


def test_timeout_after_ctrl_z_resends_with_the_same_reference(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        b.modem.timeout_after_ctrl_z_next()
        b.air.press(mac_for(0))
        await b.advance(11)
        await b.settle()

    b = play(tmp_path, scenario)
    assert len(b.modem.ambiguous_sent) == 1
    assert set(b.inbox()) == {DESK, GRID, SON}


def test_a_network_error_is_retried_within_seconds_once_the_modem_can_send(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        b.modem.fail_next("CMGS", cms=42)  # congestion
        b.air.press(mac_for(0))
        await b.advance(11)
        await until(lambda: len(b.inbox()) == 2, timeout=10)
        await b.advance(1)
        await until(lambda: len(b.inbox()) == 3, timeout=10)

    b = play(tmp_path, scenario)
    assert set(b.inbox()) == {DESK, GRID, SON}


@pytest.mark.parametrize("cms", [27, 21])
def test_a_phone_that_cannot_take_texts_is_tried_again_with_back_off_until_it_can(
        tmp_path, cms: int) -> None:
    """27: the phone is off; 21: the transfer was rejected. Neither is the number's fault."""
    tries: list[int] = []

    async def scenario(b: SmsBuilding) -> None:
        assert b.app is not None
        b.modem.refuse_number(GRID, cms=cms)
        b.air.press(mac_for(0))
        await b.advance(11)
        await until(lambda: set(b.inbox()) == {DESK, SON}, timeout=10)  # the others go on
        for wait in (29, 1, 119, 1):  # tried at 30 s, then 2 min after that
            await b.advance(wait)
            await b.settle()
            tries.append(sum(1 for c in b.modem.commands if c.startswith("AT+CMGS")))
        assert b.app.sms.outgoing("failed") == []
        b.modem.accept_number(GRID)  # switched on again
        await b.advance(600)
        await until(lambda: GRID in b.inbox(), timeout=10)

    b = play(tmp_path, scenario)
    assert tries[0] == tries[1] - 1 and tries[2] == tries[3] - 1  # exactly on the back-off
    sos = [t for t in b.inbox()[GRID] if "回复1" in t]
    assert len(sos) >= 1


def test_a_phone_off_does_not_hold_back_escalation(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        b.modem.refuse_number(GRID)
        b.air.press(mac_for(0))
        await b.advance(11)
        await b.settle()
        await b.advance(120)  # tier 1 had its time
        await until(lambda: NEIGHBOUR in b.inbox(), timeout=10)

    b = play(tmp_path, scenario)
    assert NEIGHBOUR in b.inbox()


def test_texts_to_a_phone_that_is_off_stop_when_the_alert_is_closed(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        assert b.app is not None
        b.modem.refuse_number(GRID)
        b.air.press(mac_for(0))
        await b.advance(11)
        await b.settle()
        b.reply(DESK, "1")
        await until(lambda: b.app is not None and not b.app.store.open_alerts(), timeout=10)
        for _ in range(8):
            await b.advance(600)
            await b.settle()
        given_up = [row for row in b.app.sms.outgoing("failed") if row[1] == GRID]
        assert given_up and b.app.sms.queue_depth() == 0

    play(tmp_path, scenario)


def test_a_wrong_number_stops_and_the_duty_desk_is_told(tmp_path) -> None:
    events: list[dict] = []

    async def scenario(b: SmsBuilding) -> None:
        assert b.app is not None
        b.modem.refuse_number(GRID, cms=1)  # unassigned number: a typo in the roster
        b.air.press(mac_for(0))
        await b.advance(11)
        await until(lambda: any("号码有误" in t for t in b.inbox().get(DESK, [])), timeout=10)
        events.extend(e.body for e in b.app.store.pending_events(1000)
                      if e.type == "sms.undeliverable")
        failed = b.app.sms.outgoing("failed")
        assert [(row[1], row[2]) for row in failed] == [(GRID, "sos")]

    b = play(tmp_path, scenario)
    assert events and events[0]["to"] == GRID and events[0]["name"] == "李娜"
    assert GRID not in b.inbox()


def test_storage_full_is_cleared_and_the_text_sent(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        b.modem.fail_next("CMGS", cms=322)
        b.air.press(mac_for(0))
        await b.advance(11)
        await b.settle()

    b = play(tmp_path, scenario)
    assert set(b.inbox()) == {DESK, GRID, SON}
    assert any(c.upper().startswith("AT+CMGD=1,4") for c in b.modem.commands)


def test_no_sim_keeps_texts_queued_until_a_sim_is_inserted(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        assert b.app is not None and b.app.worker is not None
        b.modem.sim = "NOT INSERTED"
        b.modem.reboot()
        await until(lambda: b.app is not None and b.app.worker is not None
                    and "No SIM card" in b.app.worker.fault, timeout=5)
        b.air.press(mac_for(0))
        await b.advance(11)
        await asyncio.sleep(0.3)
        assert b.inbox() == {} and b.app.sms.queue_depth() == 3
        b.modem.sim = "READY"
        await until(lambda: b.app is not None and b.app.sms.queue_depth() == 0, timeout=5)

    b = play(tmp_path, scenario)
    assert set(b.inbox()) == {DESK, GRID, SON}


def test_restart_between_two_parts_sends_only_the_missing_part(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        assert b.app is not None
        await b.stop()
        long_text = "【SOS A009】" + "测试分段短信" * 30

        store = Store.open(tmp_path / "hub.db")
        sms = SmsStore(store)
        with store.transaction():  # what a crash after part 1 leaves behind
            text_id = sms.enqueue(DESK, "sos", long_text, b.clock.now())
        sms.part_sent(text_id, 1, 3, mr=9, now=b.clock.now())
        store.close()
        await b.start()
        await b.settle()

    b = play(tmp_path, scenario)
    sent = [bytes.fromhex(p) for p in b.modem.submitted]
    parts = [decode_pdu(p, with_smsc=False, direction="sent") for p in sent]
    assert [p.concat.sequence for p in parts if isinstance(p, Submit) and p.concat] == [2, 3]


def test_delivery_report_is_recorded_against_the_sent_part(tmp_path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        b.air.press(mac_for(0))
        await b.advance(11)
        await b.settle()
        assert b.app is not None
        mr = b.app.store.db.execute("SELECT mr FROM sms_parts ORDER BY sent_at LIMIT 1"
                                    ).fetchone()[0]
        stamp = datetime(2026, 11, 21, 8, 0, tzinfo=timezone.utc)
        b.modem.status_report(encode_status_report(mr, DESK, status=0, sc_timestamp=stamp,
                                                   discharge_time=stamp))
        await until(lambda: b.app is not None and b.app.store.db.execute(
            "SELECT count(*) FROM sms_parts WHERE report_status = 0").fetchone()[0] == 1)

    play(tmp_path, scenario)


def test_pull_cord_on_the_panel_reaches_the_responders_phones(tmp_path) -> None:
    from dataclasses import replace

    from gpiozero.pins.mock import MockFactory

    from edge.config.loader import HubConfig
    from edge.config.panel import PanelSection, PullCordEntry

    class WiredBuilding(SmsBuilding):
        def config(self) -> HubConfig:
            cords = (PullCordEntry(pin=17, resident="r2", label="bathroom"),)
            return replace(super().config(), panel=PanelSection(buzzer=13, pull_cords=cords))

    building = WiredBuilding(tmp_path)
    factory = building.pin_factory = MockFactory()

    async def scenario(b: WiredBuilding) -> None:
        factory.pin(17).drive_low()  # 李桂兰 pulls the cord in her bathroom
        await until(lambda: b.app is not None and bool(b.app.store.alerts()))
        factory.pin(17).drive_high()
        await b.advance(11)
        await b.settle()

    run_scenario(building, scenario)
    texts = building.inbox()
    assert set(texts) == {DESK, GRID}  # the building's tier 1 (the son is 王秀英's)
    assert texts[DESK][0].startswith("【SOS A001】李桂兰")
    assert "住址" in texts[DESK][0]


def test_a_phones_back_off_starts_at_30_s_whatever_the_modem_did_before(tmp_path) -> None:
    """Network blips before the refusal count as the modem's, not the number's."""
    waits: list[float] = []

    async def scenario(b: SmsBuilding) -> None:
        assert b.app is not None
        b.modem.fail_next("CMGS", cms=42, count=2)  # congestion, twice
        b.modem.refuse_number(GRID)  # then the phone is off
        with b.app.store.transaction():
            b.app.sms.enqueue(GRID, "notice", "测试", b.clock.now(), contact_id="grid")
        def tried(times: int) -> bool:
            assert b.app is not None
            return b.app.store.db.execute("SELECT attempts FROM sms_out").fetchone()[0] >= times

        for times in (1, 2, 3):
            await until(lambda: tried(times), timeout=10)  # the modem is checked meanwhile
            if times < 3:
                await b.advance(8)  # past the text's own short wait
        row = b.app.store.db.execute(
            "SELECT attempts, refusals, next_try_at, last_error FROM sms_out").fetchone()
        assert row[0] == 3 and row[1] == 1 and "out of service" in row[3]
        waits.append(row[2] - b.clock.now())

    play(tmp_path, scenario)
    assert waits == [30.0]


def test_the_text_gives_the_residents_own_number_and_a_date_once_it_is_not_today(
        tmp_path) -> None:
    from firmware_bridge.sms.pdu import count_parts

    async def scenario(b: SmsBuilding) -> None:
        b.air.press(mac_for(1))
        await b.advance(11)
        await b.settle()
        first = b.inbox()[DESK][0]
        assert "李桂兰（13905710102）" in first and "月" not in first.split("求助")[0]
        assert count_parts(first) == 1  # no fix: one part
        for _ in range(3):  # nobody answers: a day goes by with "still unanswered" texts
            await b.advance(43_200)
            await b.settle()
        late = [t for t in b.inbox()[DESK] if "无人接手】" in t][-1]
        assert "月" in late and "日" in late  # the press was yesterday: its date is given

    play(tmp_path, scenario)
