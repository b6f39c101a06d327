"""Away mode: an SMS from the resident's own numbers, or edge-hub resident away|back,
pauses the welfare rules; the server hears of it."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edge.sms.away import BACK, DAY_S, read_away
from edge.tools.cli import main
from edge.tools.cli_resident import AwayError, parse_until
from tests.building import mac_for
from tests.sms_building import DESK, SON, SmsBuilding, run_scenario
from tests.test_cli_tools import DEMO, hub_with_alert

ZONE = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize(("text", "meant"), [
    ("离家 3天", 3 * DAY_S), ("离家３天", 3 * DAY_S), ("外出2周", 14 * DAY_S),
    ("away 3 days", 3 * DAY_S), ("Away 1 week", 7 * DAY_S), ("回家", BACK), ("back", BACK),
    ("离家", None), ("离家 0天", None), ("离家 365天", None), ("1", None), ("离家三天", None),
])
def test_an_away_text_is_read_as_people_write_it(text: str, meant: object) -> None:
    assert read_away(text) == meant


def test_family_texts_away_and_back_the_desk_and_strangers_cannot(tmp_path: Path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        assert b.app is not None
        store = b.app.store
        b.reply("+8613700000000", "离家 3天")  # not in the roster
        b.reply(DESK, "离家 3天")  # serves everyone: cannot say who is away
        await b.advance(1)
        await b.settle()
        assert store.db.execute("SELECT count(*) FROM welfare_residents WHERE away_until "
                                "IS NOT NULL").fetchone()[0] == 0
        b.reply(SON, "离家 3天")
        await b.advance(1)
        await b.settle()
        assert store.watched("r1", b.clock.now()).away_until == pytest.approx(
            b.clock.now() - 1 + 3 * DAY_S, abs=2)
        assert b.inbox()[SON][-1].startswith("已记录：王秀英离家至")
        b.reply(SON, "回家")
        await b.advance(1)
        await b.settle()
        assert store.watched("r1", b.clock.now()).away_until is None
        assert b.inbox()[SON][-1] == "已记录：王秀英已回家，关怀提醒恢复。"
        events = [e.body for e in store.pending_events(1000) if e.type == "resident.away"]
        assert [(e["resident"], e["by"], e["away_until"] is None) for e in events] == [
            ("r1", "王强", False), ("r1", "王强", True)]

    run_scenario(SmsBuilding(tmp_path), scenario)


def test_a_responder_texted_about_an_open_alert_is_answering_it_not_setting_away(
        tmp_path: Path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        assert b.app is not None
        store = b.app.store
        b.air.press(mac_for(0))
        await b.advance(11)  # active: the son, who wants every alert, is texted
        await b.settle()
        assert SON in b.inbox()
        b.reply(SON, "外出3天")  # "I'm away three days": he cannot come
        await b.advance(1)
        await b.settle()
        assert store.db.execute("SELECT count(*) FROM welfare_residents WHERE away_until "
                                "IS NOT NULL").fetchone()[0] == 0, "no away spell"
        assert store.open_alert_for("r1") is not None  # and nothing closed

    run_scenario(SmsBuilding(tmp_path), scenario)


def test_back_from_someone_who_was_not_away_changes_nothing(tmp_path: Path) -> None:
    async def scenario(b: SmsBuilding) -> None:
        assert b.app is not None
        store = b.app.store
        since = store.write(lambda: store.watched("r1", b.clock.now())).since
        await b.advance(3600)
        b.reply(SON, "回家")
        await b.advance(1)
        await b.settle()
        assert store.watched("r1", b.clock.now()).since == since, "the day's rules go on"

    run_scenario(SmsBuilding(tmp_path), scenario)


def test_the_away_command_sets_and_ends_a_spell(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "hub.db"
    hub_with_alert(db)
    common = ["--config", str(DEMO), "--db", str(db)]
    assert main(["resident", "away", "r-101", "--until", "2099-12-10 18:00", *common]) == 0
    assert "is away until 2099-12-10 18:00" in capsys.readouterr().out
    assert main(["resident", "back", "r-101", *common]) == 0
    assert "is back" in capsys.readouterr().out
    assert main(["resident", "away", "nobody", "--until", "2099-12-10", *common]) == 1
    assert "no resident 'nobody'" in capsys.readouterr().err


def test_until_must_be_a_local_time_to_come() -> None:
    now = datetime(2026, 12, 7, 12, 0, tzinfo=ZONE).timestamp()
    # a day alone is the day they are back: the checks resume at its end, as the console's
    assert parse_until("2026-12-10", ZONE, now) == datetime(2026, 12, 11, tzinfo=ZONE).timestamp()
    assert parse_until("2026-12-07", ZONE, now) == datetime(2026, 12, 8, tzinfo=ZONE).timestamp()
    assert parse_until("2026-12-10 18:00", ZONE, now) == \
        datetime(2026, 12, 10, 18, tzinfo=ZONE).timestamp()
    for bad, says in [("next week", "expected a local date or time"), ("2026-12-01", "has passed"),
                      ("2026-12-07 11:00", "has passed")]:
        with pytest.raises(AwayError, match=says):
            parse_until(bad, ZONE, now)
