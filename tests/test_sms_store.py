"""The stored SMS queue: urgency order, parts, inbox kept once."""

from __future__ import annotations

import pytest

from edge.domain import AlertState, Contact, Role
from edge.sms.texts import SmsStore
from edge.storage.store import Store
from tests.building import make_roster


def make(tmp_path) -> SmsStore:
    store = Store.open(tmp_path / "hub.db")
    store.apply_roster(make_roster(1))
    return SmsStore(store)


def test_sos_texts_go_before_anything_queued_earlier(tmp_path) -> None:
    sms = make(tmp_path)
    with sms.store.transaction():
        notice = sms.enqueue("+8613800138000", "notice", "通知", 10.0)
        taken = sms.enqueue("+8613800138000", "taken", "已接手", 11.0)
        sos = sms.enqueue("+8613800138001", "sos", "SOS", 12.0)
    order = []
    while (due := sms.next_due(20.0)) is not None:
        order.append(due.id)
        sms.sent(due.id, 20.0)
    assert order == [sos, taken, notice]


def test_retry_later_holds_a_text_back(tmp_path) -> None:
    sms = make(tmp_path)
    with sms.store.transaction():
        first = sms.enqueue("+8613800138000", "sos", "A", 10.0)
    sms.retry_later(first, 40.0, "+CMS ERROR: 42")
    assert sms.next_due(39.0) is None
    assert sms.next_wake() == 40.0
    due = sms.next_due(40.0)
    assert due is not None and due.attempts == 1


def test_sent_parts_are_remembered_for_resuming(tmp_path) -> None:
    sms = make(tmp_path)
    with sms.store.transaction():
        text = sms.enqueue("+8613800138000", "sos", "long", 10.0)
    sms.part_sent(text, 1, 2, mr=17, now=11.0)
    due = sms.next_due(12.0)
    assert due is not None and due.sent_parts == frozenset({1})
    assert sms.status_report(17, 0, 13.0) == text


def test_inbound_pdu_is_kept_once(tmp_path) -> None:
    sms = make(tmp_path)
    assert sms.save_inbound(b"\x00\x01", 1.0) is True
    assert sms.save_inbound(b"\x00\x01", 2.0) is False
    assert len(sms.inbound_pending()) == 1


@pytest.mark.parametrize(("written", "code", "full", "dialled_as"), [
    ("13800138001", "86", "+8613800138001", "13800138001"),
    ("0086 138 0013 8001", "86", "+8613800138001", "13800138001"),
    ("010-12345678", "86", "+861012345678", "01012345678"),  # Beijing: area code 10
    ("+86 010 12345678", "86", "+861012345678", "01012345678"),
    ("0571-87654321", "86", "+8657187654321", "057187654321"),
    ("+62813800138001", "86", "+62813800138001", "+62813800138001"),
    ("12025550123", "1", "+12025550123", "+12025550123"),
    ("(202) 555-0123", "1", "+12025550123", "+12025550123"),
    ("89161234567", "7", "+79161234567", "89161234567"),
    ("79161234567", "7", "+79161234567", "89161234567"),
])
def test_numbers_in_every_written_form_compare_whole_and_dial_as_phones_do(
        written: str, code: str, full: str, dialled_as: str) -> None:
    from edge.domain import dialled, e164

    assert e164(written, code) == full
    assert dialled(written, code) == dialled_as
    assert e164(dialled_as, code) == full


@pytest.mark.parametrize(("sender", "matches"), [
    ("+8613800138001", True), ("008613800138001", True), ("8613800138001", True),
    ("13800138001", True), ("+86 138-0013-8001", True), ("+62813800138001", False),
    ("+8613800138009", False), ("+18613800138001", False),
])
def test_notified_numbers_are_matched_whole_in_international_form(tmp_path, sender,
                                                                   matches) -> None:
    from edge.domain import e164

    sms = make(tmp_path)
    with sms.store.transaction():
        alert = sms.store.insert_alert("r1", "A4:C1:38:00:00:01", 1.0, 1.0, AlertState.ACTIVE)
        sms.note_notified(alert.id, Contact("g", "李娜", "13800138001", Role.GRID_WORKER, 1),
                          2.0)
    told = sms.told(e164(sender, "86"), "86")
    assert [t.alert.id for t in told] == ([alert.id] if matches else [])
