"""Escalation and message texts as pure functions."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.domain import Contact, Fix, Location, Role
from edge.sms.escalation import (
    Escalation,
    EscalationPlan,
    advance,
    begin,
    is_due,
    next_step_at,
)
from edge.sms.messages import MessageContext, check_template, compact, render
from firmware_bridge.sms.gsm7 import is_gsm7
from firmware_bridge.sms.pdu import count_parts

DESK = Contact("desk", "值班室", "+8613800138000", Role.DUTY_DESK, 1)
GRID = Contact("grid", "李娜", "+8613800138001", Role.GRID_WORKER, 1)
NEIGHBOUR = Contact("nb", "赵大爷", "+8613800138002", Role.NEIGHBOUR, 2)
SON = Contact("son", "王强", "+8613800138003", Role.FAMILY, 3, "r1", always_sms=True)
ALL = [DESK, GRID, NEIGHBOUR, SON]
PLAN = EscalationPlan((180.0, 300.0), 30.0, 16, 600.0)


def test_begin_texts_lowest_tier_and_always_contacts() -> None:
    step = begin(7, ALL, PLAN, now=1000.0)
    assert [(n.contact.id, n.kind) for n in step.notices] == [
        ("desk", "sos"), ("grid", "sos"), ("son", "sos")]
    assert step.state == Escalation(7, 1, 0, 1180.0, 180.0)


def test_advance_tells_next_tier_and_escalates_to_those_told() -> None:
    first = begin(7, ALL, PLAN, 1000.0)
    told = [DESK, GRID, SON]
    second = advance(first.state, ALL, told, PLAN, 1180.0)
    assert [(n.contact.id, n.kind) for n in second.notices] == [
        ("nb", "sos"), ("desk", "escalated"), ("grid", "escalated"), ("son", "escalated")]
    assert second.state.tier == 2 and second.state.next_at == 1480.0
    third = advance(second.state, ALL, told + [NEIGHBOUR], PLAN, 1480.0)
    assert third.state.tier == 3 and third.state.next_at == 1780.0  # last wait repeats
    assert [n.kind for n in third.notices] == ["escalated"] * 4  # son (tier 3) already told


def test_after_last_tier_resends_16_times_30s_then_every_10_minutes() -> None:
    state = Escalation(7, 3, 0, 2000.0, 300.0)
    now, intervals = 2000.0, []
    for _ in range(20):
        step = advance(state, ALL, ALL, PLAN, now)
        assert {n.kind for n in step.notices} == {"unanswered"} and len(step.notices) == 4
        intervals.append(step.state.next_at - now)
        now, state = step.state.next_at, step.state
    assert intervals == [30.0] * 15 + [600.0] * 5


def test_due_when_time_passed_or_clock_jumped_back() -> None:
    state = Escalation(1, 1, 0, next_at=1180.0, interval_s=180.0)
    assert not is_due(state, 1100.0)
    assert is_due(state, 1180.0)
    assert is_due(state, 500.0)  # NTP moved the clock back: do not wait longer than planned


def test_no_contacts_means_no_notices() -> None:
    assert begin(1, [], PLAN, 0.0).notices == ()


def context(location: Location, phone: str = "13905710101") -> MessageContext:
    return MessageContext("A00K", "王秀英", "幸福里小区 3号楼", "101",
                          "幸福里路 18 号 3号楼 1单元 101", "08:15", location,
                          phone=phone)


FIX = Fix("A4:C1:38:00:00:01", 30.27415, 120.15515, 8, 1000.0, 1000.0)
MAP = "https://uri.amap.com/marker?position={lon:.5f},{lat:.5f}&coordinate=wgs84"
HOME = "幸福里路 18 号 3号楼 2单元 102"
DEMO = Path(__file__).resolve().parents[1] / "config" / "demo.toml"


def test_sos_text_in_chinese_with_map_link_and_fix_age_fits_two_parts() -> None:
    location = Location(HOME, "101", FIX, 120.0)
    text = render("sos", context(location), {}, "zh", MAP)
    assert text.startswith("【SOS A00K】王秀英（13905710101）08:15求助")
    assert "position=120.15515,30.27415" in text and "（2分钟前，±8米）" in text
    assert "回复1" in text
    assert count_parts(text) <= 2


@pytest.mark.parametrize(("time", "age_s", "stale"), [
    ("08:15", 120.0, False),
    ("11月28日23:50", 120.0, False),  # a press from another day gives its date
    ("08:15", 7_200.0, True),  # an old fix gives the home address too
])
def test_an_sos_with_a_fix_and_the_residents_number_fits_two_parts(
        time: str, age_s: float, stale: bool) -> None:
    from dataclasses import replace

    from edge.config.loader import load_config

    longest = max((r.address for r in load_config(DEMO).roster.residents), key=len)
    location = Location(longest, "101", FIX, age_s, stale)
    for kind in ("sos", "unanswered") if not stale else ("sos",):
        text = render(kind, replace(context(location), time=time), {}, "zh", MAP)
        assert "13905710101" in text and time in text and "position=" in text
        assert (compact(longest) in text) is stale
        assert ("，2小时前在" in text) is stale  # an old fix's age in whole hours
        assert count_parts(text) == 2, (len(text), text)


def test_check_config_warns_of_an_address_too_long_for_an_sos_with_an_old_fix(
        tmp_path, capsys) -> None:
    from edge.tools.cli import main

    assert main(["check-config", "--config", str(DEMO)]) == 0
    assert "warning" not in capsys.readouterr().out
    config = tmp_path / "hub.toml"
    config.write_text(DEMO.read_text(encoding="utf-8").replace(
        '"幸福里路 18 号 3号楼 2单元 102"', '"浙江省杭州市西湖区幸福里路 18 号 3号楼 2单元 102"'),
        encoding="utf-8")
    assert main(["check-config", "--config", str(config)]) == 0
    warnings = [line for line in capsys.readouterr().out.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "resident r-102: an SOS with an old GPS fix leaves out the " \
        "home address" in warnings[0] and "leave out city and district" in warnings[0]


def test_check_config_warns_of_every_kind_of_text_that_would_take_three_parts(
        tmp_path, capsys) -> None:
    """Not only the SOS: the reminder, the escalation (naming a tier's contacts) and the
    welfare texts are written with the resident's longest values too."""
    from edge.tools.cli import main

    demo = DEMO.read_text(encoding="utf-8")
    config = tmp_path / "hub.toml"
    long_reminder = "【SOS {ref}仍无人接手，请尽快前往或转告他人】{name}{tel}{time}求助。{location}。回复1接手"
    config.write_text(demo.replace("[calls]", f'[sms.templates]\nunanswered = "{long_reminder}"'
                                   "\n\n[calls]", 1), encoding="utf-8")
    assert main(["check-config", "--config", str(config)]) == 0
    warnings = [line for line in capsys.readouterr().out.splitlines() if "warning" in line]
    assert warnings and all("the unanswered text can take 3 SMS parts" in line
                            and "shorten the [sms.templates] unanswered text" in line
                            for line in warnings), warnings
    # a tier of many neighbours with long names: the escalation text names them all
    contact = ('\n[[contacts]]\nid = "n-{n}"\nname = "幸福里小区三号楼热心志愿者第{n}号邻居"\n'
               'phone = "+86139057109{n:02d}"\nrole = "neighbour"\ntier = 2\n')
    config.write_text(demo + "".join(contact.format(n=n) for n in range(1, 6)),
                      encoding="utf-8")
    assert main(["check-config", "--config", str(config)]) == 0
    warnings = [line for line in capsys.readouterr().out.splitlines() if "warning" in line]
    assert any("the escalated text can take" in line for line in warnings), warnings
    assert not any("the sos text" in line for line in warnings), warnings


def test_an_sos_with_an_old_fix_leaves_out_a_home_address_that_would_make_three_parts() -> None:
    from dataclasses import replace

    long_home = "浙江省杭州市西湖区幸福里路 18 号 3号楼 2单元 102"
    location = Location(long_home, "102", FIX, 7_200.0, True)
    text = render("sos", replace(context(location), time="11月28日23:50"), {}, "zh", MAP)
    assert count_parts(text) == 2 and "position=" in text and "2小时前在" in text
    assert compact(long_home) not in text
    short = render("sos", context(Location(HOME, "102", FIX, 7_200.0, True)), {}, "zh", MAP)
    assert compact(HOME) in short and count_parts(short) == 2


def test_sos_text_without_fix_gives_the_home_address_once_in_one_part() -> None:
    text = render("sos", context(Location(HOME, "102")), {}, "zh", MAP)
    assert text == ("【SOS A00K】王秀英（13905710101）08:15求助。"
                    "住址幸福里路18号3号楼2单元102。回复1接手")
    assert text.count("102") == 1 and "3号楼" in text and text.count("3号楼") == 1
    assert count_parts(text) == 1


def test_a_resident_without_a_phone_gets_none_in_the_text() -> None:
    text = render("sos", context(Location(HOME, "102"), phone=""), {}, "zh", MAP)
    assert "（" not in text and text.startswith("【SOS A00K】王秀英08:15")


def test_english_texts_use_the_gsm_alphabet_where_the_content_allows() -> None:
    latin = MessageContext("A00K", "Wang Xiuying", "Building 3", "101",
                           "18 Xingfuli Road, Building 3, Unit 2, Flat 102", "08:15",
                           Location("18 Xingfuli Road, Building 3, Unit 2, Flat 102", "102",
                                    FIX, 120.0), phone="13905710101")
    for location in (latin.location, Location(latin.address, "102")):
        text = render("sos", _with(latin, location), {}, "en", MAP)
        assert is_gsm7(text), text
        assert count_parts(text) <= 2 if location.fix else count_parts(text) == 1
    assert "+/-8 m" in render("sos", latin, {}, "en", MAP)


def _with(ctx: MessageContext, location: Location) -> MessageContext:
    from dataclasses import replace

    return replace(ctx, location=location)


def test_english_and_override_templates() -> None:
    ctx = context(Location("Home 1", "101"))
    assert render("sos", ctx, {}, "en", MAP).startswith("SOS A00K: 王秀英 (tel 13905710101)")
    taken = MessageContext("A00K", "王秀英", "b", "101", "a", "t", ctx.location, by="李娜")
    assert render("taken", taken, {"taken": "{ref} 已由 {by} 处理"}, "zh", MAP) == "A00K 已由 李娜 处理"
    assert render("taken", taken, {}, "zh", MAP) == "【A00K】王秀英的求助已由李娜接手处理，谢谢。"


def test_the_time_of_a_press_from_another_day_comes_with_its_date() -> None:
    from zoneinfo import ZoneInfo

    from edge.sms.messages import when

    zone, pressed = ZoneInfo("Asia/Shanghai"), 1_795_000_000.0  # 19:06 in Shanghai
    assert when(pressed, pressed + 3600, zone, "zh") == "19:06"
    assert when(pressed, pressed + 86_400, zone, "zh") == "11月18日19:06"
    assert when(pressed, pressed + 86_400, zone, "en") == "18 Nov 19:06"


def test_template_check_names_unknown_placeholder() -> None:
    with pytest.raises(ValueError, match=r"unknown placeholder \{nme\}"):
        check_template("{nme}")


def test_the_next_step_is_the_earliest_on_the_monotonic_clock_or_at_once_when_due() -> None:
    soon, later = Escalation(1, 1, 0, 1180.0, 180.0), Escalation(2, 1, 0, 1250.0, 300.0)
    assert next_step_at([later, soon], now=1000.0, mono=50.0) == 230.0  # 180 s from now
    assert next_step_at([], now=1000.0, mono=50.0) is None
    assert next_step_at([later, soon], now=1190.0, mono=50.0) == 50.0  # one is due: at once
    assert next_step_at([later], 1000.0, 50.0, overdue=lambda s: s.alert_id == 2) == 50.0
    assert next_step_at([soon], now=500.0, mono=50.0) == 50.0  # the clock jumped back
