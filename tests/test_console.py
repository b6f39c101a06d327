"""The duty-desk console in a real browser (Debian's chromium, driven by Playwright): log
in, see a press appear live, claim it and see the hub told, take it on site; a person of
another community sees nothing of it; and the page's session and actions are locked."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from cloud_sync.server.receiver import Receiver
from tests.mqtt_broker import Broker
from tests.test_receiver_helpers import COMMUNITY, alert_event, batch, event

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed; run: "
                                "sudo apt-get install chromium (make test does it as root)")


class Server:
    """The server with its HTTP front, a hub's login, and two people of two communities."""

    def __init__(self, broker: Broker, folder: Path) -> None:
        self.receiver = Receiver(broker.url, f"sqlite:///{folder / 'server.db'}",
                                 http=("127.0.0.1", 0))
        self.receiver.start()
        host, port = self.receiver.http_address or ("", 0)
        self.base = f"http://{host}:{port}"
        now = time.time()
        self.hub = (f"{COMMUNITY}/hub-3", self.receiver.access.add_hub(COMMUNITY, "hub-3", now=now))
        people = self.receiver.people
        self.desk = ("wang", people.add("wang", "王主任", "desk", COMMUNITY, now=now))
        self.stranger = ("li", people.add("li", "李医生", "desk", "heping", now=now))

    def press(self, seq: int = 1) -> None:
        """The hub posts an SOS, as its HTTPS fallback does."""
        self.post([alert_event(seq, "u-7", ref="A007")])

    def post(self, events: list[dict[str, Any]]) -> None:
        answer = requests.post(f"{self.base}/ingest", json=batch(events), auth=self.hub, timeout=5)
        assert answer.status_code == 200, answer.text

    def hub_commands(self) -> list[dict[str, Any]]:
        answer = requests.get(f"{self.base}/commands", auth=self.hub, timeout=5)
        assert answer.status_code == 200, answer.text
        return list(answer.json()["commands"])


@pytest.fixture
def server(broker: Broker, tmp_path: Path) -> Iterator[Server]:
    running = Server(broker, tmp_path)
    yield running
    running.receiver.stop()


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def log_in(browser: Any, server: Server, who: tuple[str, str]) -> Any:
    page = browser.new_page()
    page.goto(f"{server.base}/")  # not logged in: sent to the login page
    assert page.url.endswith("/login")
    page.fill("#username", who[0])
    page.fill("#password", who[1])
    page.click("#login")
    page.wait_for_url(f"{server.base}/")
    return page


def test_a_press_appears_live_and_is_claimed_then_taken_on_site(server: Server, browser: Any) -> None:
    page = log_in(browser, server, server.desk)
    page.wait_for_selector("text=目前没有待处理的求助", state="visible")
    page.wait_for_selector("text=● 实时")
    pressed = time.monotonic()
    server.press()
    page.wait_for_selector("tr[data-alert='C1']", timeout=5000)
    shown_after_s = time.monotonic() - pressed
    assert shown_after_s < 1.0, f"the alert took {shown_after_s:.2f} s to appear"
    text = page.locator("tr[data-alert='C1']").inner_text()  # found again if redrawn
    assert "张桂兰" in text and "101" in text and "hub-3" in text and "无人接手" in text
    assert page.get_attribute("tr[data-alert='C1']", "class") == "unclaimed"  # flashing
    assert page.get_attribute("tr[data-alert='C1'] a[target]", "href").startswith(
        "https://www.openstreetmap.org/?mlat=30.27415")

    page.click("tr[data-alert='C1'] button.claim")
    page.wait_for_selector("tr[data-alert='C1']:has-text('王主任 (正在赶去)')")
    assert page.get_attribute("tr[data-alert='C1']", "class") != "unclaimed"
    claimed = [c for c in server.hub_commands() if c["type"] == "alert_claimed"]
    assert claimed and claimed[0]["by"] == "王主任" and claimed[0]["for_s"] == 1200

    page.click("tr[data-alert='C1'] button.ack")  # on site: the hubs are told it is taken
    page.wait_for_selector("tr[data-alert='C1']:has-text('王主任 (已接手)')")
    acks = [c for c in server.hub_commands() if c["type"] == "alert_ack"]
    assert acks and acks[0]["by"] == "王主任" and acks[0]["alert"] == "u-7"

    page.select_option("tr[data-alert='C1'] select.outcome", "fall")
    page.fill("tr[data-alert='C1'] input.note", "在卫生间滑倒，已送社区医院")
    page.click("tr[data-alert='C1'] button.close")
    page.wait_for_selector("tr[data-alert='C1']", state="detached")  # closed: off the board
    (closed,) = server.receiver.store.alerts()
    assert (closed["outcome"], closed["closed_by"], closed["note"]) == (
        "fall", "王主任", "在卫生间滑倒，已送社区医院")

    page.click("#lang")
    page.wait_for_selector("text=No open alerts.")


def test_the_timeline_shows_who_was_texted_and_what_people_did(server: Server,
                                                               browser: Any) -> None:
    texted = event(2, "alert.texted", alert={"uid": "u-7", "ref": "A007"}, kind="sos",
                   to={"contact": "grid", "name": "李娜", "role": "grid_worker", "tier": 1})
    server.post([alert_event(1, "u-7", ref="A007"), texted])
    page = log_in(browser, server, server.desk)
    page.click("tr[data-alert='C1'] button.claim")
    page.wait_for_selector("tr[data-alert='C1']:has-text('正在赶去')")
    page.click("tr[data-alert='C1'] a.id")
    page.wait_for_function("document.querySelectorAll('ol.timeline li').length === 4")
    steps = page.eval_on_selector_all("ol.timeline li", "items => items.map(i => i.textContent)")
    whats = [next(word for word in ("按下求助", "短信通知", "服务器收到", "接手") if word in step)
             for step in steps]
    assert whats == ["按下求助", "短信通知", "服务器收到", "接手"], steps
    assert "张桂兰" in steps[0] and "李娜 (第1级) · hub-3" in steps[1] and "王主任" in steps[3]
    later = event(3, "alert.texted", alert={"uid": "u-7", "ref": "A007"}, kind="sos",
                  to={"contact": "nb", "name": "赵大爷", "role": "neighbour", "tier": 2})
    server.post([later])  # a text the hub sent after the timeline was opened
    page.wait_for_selector("ol.timeline:has-text('赵大爷 (第2级)')")
    page.click("#lang")  # the open timeline stays open through the live updates
    page.wait_for_selector("ol.timeline:has-text('texted · 李娜 (tier 1)')")


def test_the_timeline_shows_a_ring_call_and_how_it_went(server: Server, browser: Any) -> None:
    called = event(2, "alert.called", alert={"uid": "u-7", "ref": "A007"}, outcome="answered",
                   to={"contact": "grid", "name": "李娜", "role": "grid_worker", "tier": 1})
    server.post([alert_event(1, "u-7", ref="A007"), called])
    page = log_in(browser, server, server.desk)
    page.click("tr[data-alert='C1'] a.id")
    page.wait_for_selector("ol.timeline:has-text('电话提醒 · 李娜 (第1级) · hub-3 · 已接听（不算接手）')")
    page.click("#lang")
    page.wait_for_selector("ol.timeline:has-text('ring call · 李娜 (tier 1) · hub-3 · answered "
                           "(not an acknowledgement)')")


def test_closing_an_alert_nobody_took_tells_the_hubs_first(server: Server, browser: Any) -> None:
    server.press()
    page = log_in(browser, server, server.desk)
    csrf = page.get_attribute("meta[name='csrf']", "content")
    bad = page.request.post(f"{server.base}/api/alerts/C1/close", headers={"X-CSRF-Token": csrf},
                            data={"outcome": "nothing"})
    assert bad.status == 400 and "expected one of fall" in bad.json()["error"]
    answer = page.request.post(f"{server.base}/api/alerts/C1/close",
                               headers={"X-CSRF-Token": csrf},
                               data={"outcome": "false_alarm", "note": "电话确认：误按"})
    assert answer.status == 200
    acks = [c for c in server.hub_commands() if c["type"] == "alert_ack"]
    assert acks and acks[0]["by"] == "王主任"  # a person vouched for it: SMS escalation stops


def test_a_person_of_another_community_sees_nothing_and_cannot_act(server: Server,
                                                                   browser: Any) -> None:
    server.press()
    page = log_in(browser, server, server.stranger)
    page.wait_for_selector("text=目前没有待处理的求助", state="visible")
    assert page.query_selector("tr[data-alert='C1']") is None
    csrf = page.get_attribute("meta[name='csrf']", "content")
    answer = page.request.post(f"{server.base}/api/alerts/C1/claim", headers={"X-CSRF-Token": csrf})
    assert answer.status == 404 and not [c for c in server.hub_commands()
                                         if c["type"] == "alert_claimed"]
    assert page.request.get(f"{server.base}/api/alerts").json() == []


def test_the_session_cookie_is_locked_and_actions_need_the_csrf_token(server: Server,
                                                                     browser: Any) -> None:
    server.press()
    page = log_in(browser, server, server.desk)
    (cookie,) = page.context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # scripts cannot read it
    answer = page.request.post(f"{server.base}/api/alerts/C1/claim")
    assert answer.status == 403 and "X-CSRF-Token" in answer.json()["error"]
    page.click("#logout-form button")
    page.wait_for_url(f"{server.base}/login")
    assert page.request.get(f"{server.base}/api/alerts").status == 401


def test_wrong_passwords_are_refused_then_the_account_waits(server: Server, browser: Any) -> None:
    page = browser.new_page()
    for _ in range(5):
        page.goto(f"{server.base}/login")
        page.fill("#username", "wang")
        page.fill("#password", "not-the-password")
        page.click("#login")
        page.wait_for_selector("text=wrong username or password")
    page.fill("#username", "wang")
    page.fill("#password", server.desk[1])  # the right one, too late
    page.click("#login")
    page.wait_for_selector("text=too many wrong passwords")
    assert page.url.endswith("/login")


def test_text_now_asks_the_hub_to_text_at_once(server: Server, browser: Any) -> None:
    server.press()
    page = log_in(browser, server, server.desk)
    page.click("tr[data-alert='C1'] button.text-now")
    for _ in range(50):
        asked = [c for c in server.hub_commands() if c["type"] == "alert_text_now"]
        if asked:
            break
        time.sleep(0.1)
    assert asked and asked[0]["by"] == "王主任" and asked[0]["alert"] == "u-7"


def test_simulate_with_a_server_gives_a_trainer_a_desk_to_watch(tmp_path: Path) -> None:
    """`edge-hub simulate --server`: the building, a broker, the server and its console in
    one command; a press on the simulated building appears on the desk."""
    import re

    from cloud_sync.uplink.local_broker import free_port
    from tests.simulated import SimulatedHub

    console_port = free_port()

    class WithServer(SimulatedHub):
        def command(self) -> list[str]:
            where = super().command()
            return [*where[:where.index("--offline")], "--server", f"127.0.0.1:{console_port}"]

    hub = WithServer(tmp_path).start()
    try:
        said = re.search(r"log in as desk with password (\S+) ", hub.log.read_text())
        assert said is not None, hub.log.read_text()[-2000:]
        desk = requests.Session()
        base = f"http://127.0.0.1:{console_port}"
        assert desk.post(f"{base}/login", data={"username": "desk", "password": said.group(1)},
                         timeout=5).status_code == 200
        hub.wait_for(lambda: hub.state()["uplink"] == "connected", what="the hub on the broker")
        ref = hub.post("/press", {"resident": "r-101"})["alert"]["ref"]
        hub.wait_for(lambda: any(h["ref"] == ref for a in desk.get(f"{base}/api/board", timeout=5)
                                 .json() for h in a["hubs"]), what="the press on the desk")
        assert hub.terminate() == 0
    finally:
        hub.kill()


def test_the_desk_sees_its_hubs_and_watches(server: Server, browser: Any) -> None:
    server.post([event(1, "watch.battery", battery=23)])  # a watch heard through hub-3
    page = log_in(browser, server, server.desk)
    page.wait_for_selector("#hubs tr[data-hub='hub-3']")
    hub = page.locator("#hubs tr[data-hub='hub-3']").inner_text()
    assert "在线" in hub and "http" in hub
    page.wait_for_selector("#watches tr[data-watch='A4:C1:38:3A:01:01']")
    watch = page.locator("#watches tr[data-watch='A4:C1:38:3A:01:01']").inner_text()
    assert "张桂兰" in watch and "23%" in watch and "hub-3" in watch
    stranger = log_in(browser, server, server.stranger)
    stranger.wait_for_selector("text=目前没有待处理的求助", state="visible")
    stranger.wait_for_timeout(300)
    assert stranger.query_selector("#hubs tr[data-hub]") is None
    assert stranger.query_selector("#watches tr[data-watch]") is None


def test_the_desk_says_a_resident_is_away_then_back_and_the_hub_is_told(
        server: Server, browser: Any) -> None:
    server.post([event(1, "watch.battery", battery=60)])  # hub-3 (HTTP) hears 张桂兰's watch
    page = log_in(browser, server, server.desk)
    row = "#watches tr[data-watch='A4:C1:38:3A:01:01']"
    page.wait_for_selector(f"{row} button.away")
    back_on = date.today() + timedelta(days=3)
    page.once("dialog", lambda dialog: dialog.accept(back_on.isoformat()))
    page.click(f"{row} button.away")
    page.wait_for_selector(f"#away-note:has-text('张桂兰离家，{back_on.isoformat()}回家')")
    day_ends = datetime.combine(back_on + timedelta(days=1), datetime.min.time(),
                                ZoneInfo("Asia/Shanghai")).timestamp()  # the server's zone
    server.post([event(2, "resident.away", resident="r-101", away_until=day_ends,
                       by="王主任")])  # the hub took it and says so
    paused = datetime.fromtimestamp(day_ends).strftime("%Y-%m-%d %H:%M")  # the browser's zone
    page.wait_for_selector(f"{row} .spell:has-text('离家：关怀提醒暂停至 {paused}')")
    page.click(f"{row} button.back")
    page.wait_for_selector("#away-note:has-text('张桂兰已回家')")
    server.post([event(3, "resident.away", resident="r-101", away_until=None, by="王主任")])
    page.wait_for_selector(f"{row} .spell", state="detached")
    told = [(c["resident"], c.get("until"), c["by"]) for c in server.hub_commands()
            if c["type"] == "resident_away"]
    assert told == [("r-101", day_ends, "王主任"), ("r-101", None, "王主任")]
    away = f"{server.base}/api/residents/r-101/away"
    assert requests.post(away, json={"until": None}, timeout=5).status_code == 401
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert requests.post(away, json={"until": None}, cookies=cookies,
                         timeout=5).status_code == 403  # no CSRF token
    desk = {"X-CSRF-Token": page.get_attribute("meta[name=csrf]", "content")}
    for body, said in (({"back_on": "2026-02-30"}, "back_on: expected a date"),
                       ({"back_on": "2020-01-01"}, "expected a time after now"),
                       ({"until": float("nan")}, "until: expected epoch seconds"),
                       ({"until": 1e300}, "until: expected epoch seconds"),
                       ({"until": True}, "until: expected epoch seconds")):
        wrong = requests.post(away, data=json.dumps(body), headers=desk, cookies=cookies,
                              timeout=5)
        assert wrong.status_code == 400 and said in wrong.json()["error"], (body, wrong.text)
    stranger = log_in(browser, server, server.stranger)  # of another community: no hub there
    csrf = stranger.get_attribute("meta[name=csrf]", "content")
    refused = requests.post(away, json={"until": None}, timeout=5, headers={
        "X-CSRF-Token": csrf}, cookies={c["name"]: c["value"] for c in stranger.context.cookies()})
    assert refused.status_code == 400 and "no hub of community heping" in refused.json()["error"]


def test_the_board_as_the_readme_shows_it(server: Server, browser: Any) -> None:
    """A press a minute ago, with a fresh fix; EDGE_HUB_SCREENSHOT=FILE saves the picture."""
    now = time.time()
    fresh = {"source": "gps", "address": "幸福里路 18 号 3号楼 101", "room": "101",
             "lat": 30.27415, "lon": 120.15515, "accuracy_m": 6, "fixed_at": now - 90,
             "age_s": 30.0, "stale": False}
    pressed = alert_event(1, "u-7", ref="A007", location=fresh, at_epoch=now - 60)
    pressed["alert"]["raised_at"] = now - 60
    server.post([pressed, event(2, "watch.battery", battery=76, at_epoch=now - 30)])
    page = log_in(browser, server, server.desk)
    page.set_viewport_size({"width": 1280, "height": 560})
    page.wait_for_selector("tr[data-alert='C1']:has-text('定位于 2 分钟前')")
    page.wait_for_selector("#watches tr[data-watch]:has-text('76%')")
    if os.environ.get("EDGE_HUB_SCREENSHOT"):
        page.screenshot(path=os.environ["EDGE_HUB_SCREENSHOT"])


def test_the_monthly_report_and_the_csv_record_every_alert(server: Server, browser: Any) -> None:
    import csv
    import io

    server.press()
    page = log_in(browser, server, server.desk)
    page.click("tr[data-alert='C1'] button.claim")
    page.wait_for_selector("tr[data-alert='C1']:has-text('正在赶去')")
    page.click("tr[data-alert='C1'] button.ack")
    page.wait_for_selector("tr[data-alert='C1'] select.outcome")
    page.select_option("tr[data-alert='C1'] select.outcome", "fall")
    page.fill("tr[data-alert='C1'] input.note", "=HYPERLINK(\"http://evil\")")
    page.click("tr[data-alert='C1'] button.close")
    page.wait_for_selector("tr[data-alert='C1']", state="detached")
    page.click("#show-report")
    page.wait_for_selector("#report tbody tr")
    line = page.locator("#report tbody tr").inner_text()
    assert "hub-3" in line and "跌倒 1" in line and "\t1\t" in line
    answer = page.request.get(f"{server.base}/api/alerts.csv")
    assert answer.status == 200 and "attachment" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text().lstrip("\ufeff"))))
    assert [(r["alert"], r["outcome"], r["claimed_by"], r["on_site_by"]) for r in rows] == [
        ("C1", "fall", "王主任", "王主任")]
    assert rows[0]["note"].startswith("'=")  # a spreadsheet shows it, never runs it
    assert float(rows[0]["minutes_to_claim"]) >= 0 and rows[0]["hubs"] == "hub-3"
    stranger = browser.new_page()
    assert stranger.request.get(f"{server.base}/api/alerts.csv").status == 401


def test_a_worker_sees_and_acts_on_their_buildings_only(server: Server, browser: Any) -> None:
    people, now = server.receiver.people, time.time()
    server.receiver.duty.assign(COMMUNITY, "hub-3", first="grid", backup="nb")
    mine = ("zhao", people.add("zhao", "赵大爷", "worker", COMMUNITY, now=now, contact="nb"))
    other = ("qian", people.add("qian", "钱师傅", "worker", COMMUNITY, now=now, contact="qian"))
    server.press()
    page = log_in(browser, server, mine)
    page.wait_for_selector("tr[data-alert='C1']")
    page.wait_for_selector("#hubs tr[data-hub='hub-3']")
    page.click("tr[data-alert='C1'] button.claim")
    page.wait_for_selector("tr[data-alert='C1']:has-text('赵大爷 (正在赶去)')")
    assert page.request.get(f"{server.base}/api/report").status == 403

    elsewhere = log_in(browser, server, other)
    elsewhere.wait_for_selector("text=目前没有待处理的求助", state="visible")
    elsewhere.wait_for_timeout(300)
    assert elsewhere.query_selector("tr[data-alert='C1']") is None
    assert elsewhere.query_selector("#hubs tr[data-hub]") is None
    assert elsewhere.request.get(f"{server.base}/api/alerts").json() == []
    csrf = elsewhere.get_attribute("meta[name='csrf']", "content")
    assert elsewhere.request.post(f"{server.base}/api/alerts/C1/ack",
                                  headers={"X-CSRF-Token": csrf}).status == 404
    assert elsewhere.request.get(f"{server.base}/api/alerts/C1/timeline").status == 404


def test_the_desk_sees_hub_faults_and_silent_watches_until_they_end(server: Server,
                                                                      browser: Any) -> None:
    watch = "A4:C1:38:3A:01:01"
    server.post([event(1, "watch.battery", battery=15),
                 event(2, "hub.modem_fault", error="SIM NOT INSERTED"),
                 event(3, "watch.silent", watch=watch, name="张桂兰"),
                 event(4, "watch.battery_low", watch=watch, battery=15)])
    page = log_in(browser, server, server.desk)
    page.wait_for_selector("#hubs tr.trouble[data-hub='hub-3']:has-text('短信模块故障')")
    page.wait_for_selector(f"#watches tr.trouble[data-watch='{watch}']:has-text('手表失联')")
    assert "电量低" in page.locator(f"#watches tr[data-watch='{watch}']").inner_text()
    server.post([event(5, "hub.modem_restored"), event(6, "watch.restored", watch=watch),
                 event(7, "watch.battery", battery=95)])  # a new battery
    page.reload()
    page.wait_for_selector(f"#watches tr[data-watch='{watch}']:has-text('95%')")
    assert page.query_selector("#hubs tr.trouble, #watches tr.trouble") is None


def test_faults_fold_in_order_per_hub_and_per_watch() -> None:
    from cloud_sync.server.faults import fold

    m1, m2, m3, m4 = (f"A4:C1:38:00:00:0{n}" for n in range(1, 5))
    rows = [("h1", "hub.storage_fault", "{}", 1.0), ("h1", "hub.mains_lost", "{}", 2.0),
            ("h2", "hub.modem_dead", "{}", 3.0), ("h1", "hub.storage_restored", "{}", 4.0),
            ("h1", "watch.battery_low", f'{{"watch": "{m1}", "battery": 12}}', 5.0),
            ("h1", "watch.battery", f'{{"watch": "{m1}", "battery": 18}}', 6.0),  # still low
            ("h1", "watch.silent", f'{{"watch": "{m2.lower()}"}}', 7.0),  # as the rows name it
            ("h1", "watch.battery_low", f'{{"watch": "{m3}", "battery": 14}}', 8.0),
            ("h1", "watch.battery_low", f'{{"watch": "{m4}", "battery": 9}}', 9.0),
            ("h1", "watch.silent", '{"watch": "not a MAC"}', 10.0)]
    assert fold(rows) == ({"h1": ["mains"], "h2": ["modem"]},
                          {m1: ["battery_low"], m2: ["silent"], m3: ["battery_low"],
                           m4: ["battery_low"]})
    # m3 reported a battery above 30 after its low one, m4 only before it
    assert fold(rows, {m3: 8.5, m4: 8.5})[1] == {
        m1: ["battery_low"], m2: ["silent"], m3: [], m4: ["battery_low"]}


def test_a_claim_that_ran_out_flashes_again_until_someone_goes(server: Server,
                                                               browser: Any) -> None:
    server.press()
    page = log_in(browser, server, server.desk)
    page.click("tr[data-alert='C1'] button.claim")
    page.wait_for_selector("tr[data-alert='C1']:has-text('正在赶去')")
    assert page.get_attribute("tr[data-alert='C1']", "class") != "unclaimed"
    service = server.receiver.service
    service.clock = lambda: time.time() + 21 * 60  # the 20-minute claim ran out, nobody on site
    page.wait_for_selector("tr[data-alert='C1']:has-text('接手已超时，无人到场')", timeout=10000)
    assert page.get_attribute("tr[data-alert='C1']", "class") == "unclaimed"
    notices = [c for c in server.hub_commands() if c["type"] in ("alert_notify", "alert_text_now")]
    assert [c["by"] for c in notices] == ["claim ran out"]  # no backup named: text now
    page.click("tr[data-alert='C1'] button.claim")  # someone goes again
    page.wait_for_selector("tr[data-alert='C1']:has-text('王主任 (正在赶去)')")
