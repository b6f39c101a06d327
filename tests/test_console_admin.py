"""The console's administration: a community's administrator edits the roster, which goes
to that community's hubs at once and to no other; names who answers for each building;
makes and removes accounts and API tokens. Secrets appear once. Nobody else may do any of
it, and every JSON endpoint the server has answers 401 to a caller without a login."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from starlette.routing import Route

from cloud_sync.server.receiver import Receiver
from tests.mqtt_broker import Broker
from tests.test_receiver_helpers import COMMUNITY, HubClient, until

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MAC = "A4:C1:38:12:34:56"


class Desk:
    """A person logged in to the console over HTTP, as the page's scripts call it."""

    def __init__(self, base: str, username: str, password: str) -> None:
        self.base, self.session = base, requests.Session()
        answer = self.session.post(f"{base}/login", data={"username": username,
                                                          "password": password}, timeout=5)
        assert answer.status_code == 200 and answer.url == f"{base}/", answer.text
        found = re.search(r'name="csrf" content="([^"]+)"', answer.text)
        assert found is not None
        self.csrf = found.group(1)

    def call(self, method: str, path: str, body: Any = None, *, csrf: bool = True
             ) -> requests.Response:
        headers = {"X-CSRF-Token": self.csrf} if csrf else {}
        return self.session.request(method, f"{self.base}{path}", json=body, headers=headers,
                                    timeout=5)


@pytest.fixture
def server(broker: Broker, tmp_path: Path) -> Iterator[Receiver]:
    running = Receiver(broker.url, f"sqlite:///{tmp_path / 'server.db'}", http=("127.0.0.1", 0))
    running.start()
    yield running
    running.stop()


def base_of(server: Receiver) -> str:
    host, port = server.http_address or ("", 0)
    return f"http://{host}:{port}"


def people(server: Receiver) -> dict[str, tuple[str, str]]:
    now = time.time()
    made = {"admin": ("zhou", "周站长", "admin", COMMUNITY), "desk": ("wang", "王主任", "desk", COMMUNITY),
            "other_admin": ("chen", "陈站长", "admin", "heping")}
    return {role: (username, server.people.add(username, name, kind, community, now=now))
            for role, (username, name, kind, community) in made.items()}


def test_a_roster_edit_goes_to_this_communitys_hubs_only(broker: Broker, server: Receiver) -> None:
    logins = people(server)
    admin = Desk(base_of(server), *logins["admin"])
    ours, theirs = HubClient(broker.port, "hub-3"), HubClient(broker.port, "hub-3", "heping")
    away = HubClient(broker.port, "hub-5")
    try:
        for hub in (ours, theirs):
            hub.send_status("online")
        away.send_status("offline")
        until(lambda: len(server.store.hubs(now=time.time())) == 3)
        answer = admin.call("POST", "/api/roster/residents",
                            {"entry": {"id": "r-101", "name": "张桂兰", "room": "101"}})
        assert answer.status_code == 200 and answer.json() == {
            "version": "r1", "hubs_told": 0, "waiting_for": "watches and contacts"}
        answer = admin.call("POST", "/api/roster/contacts", {"entry": {
            "id": "c1", "name": "李娜", "phone": "+8613800138001", "role": "grid_worker",
            "tier": 1}})
        assert answer.json() == {"version": "r2", "hubs_told": 0, "waiting_for": "watches"}
        answer = admin.call("POST", "/api/roster/watches", {
            "entry": {"mac": MAC, "resident": "r-101", "label": "X3"}, "key": "generate"})
        key = answer.json()["key"]
        assert answer.json() == {"version": "r3", "hubs_told": 1, "key": key}
        (pushed,) = ours.wait_for("roster")  # a hub takes only a roster with both
        assert pushed["version"] == "r3" and pushed["watches"] == [
            {"mac": MAC, "resident": "r-101", "key": key, "label": "X3"}]
        time.sleep(0.3)
        assert theirs.of_type("roster") == [], "another community's hubs get nothing of it"
        assert away.of_type("roster") == [] and server.store.take_commands(COMMUNITY, "hub-5") \
            == [], "an offline hub is not sent (nor kept) a roster per save ..."
        away.send_status("online")
        assert away.wait_for("roster")[0]["version"] == "r3", "... it gets the latest when back"

        roster = admin.call("GET", "/api/roster").json()
        assert roster["watches"] == [{"mac": MAC, "resident": "r-101", "label": "X3",
                                      "key_set": True}] and key not in str(roster)
        ours.send_status("online", roster_version="r3")  # the hub took it: not sent again
        time.sleep(0.3)
        assert len(ours.of_type("roster")) == 1

        refused = admin.call("POST", "/api/roster/contacts", {"entry": {
            "id": "c2", "name": "赵大爷", "phone": "+8613800138002", "role": "neighbour",
            "tier": 2, "resident": "r-9"}})
        assert refused.status_code == 400 and "contacts[1].resident" in refused.json()["error"]
        answer = admin.call("POST", "/api/roster/residents", {"entry": {
            "id": "r-101", "name": "张桂兰", "room": "102", "phone": "+8613900000001"}})
        assert ours.wait_for("roster", 2)[1]["residents"] == [
            {"id": "r-101", "name": "张桂兰", "room": "102", "phone": "+8613900000001"}]
        removed = admin.call("DELETE", f"/api/roster/watches/{MAC}").json()
        assert removed == {"version": "r5", "hubs_told": 0, "waiting_for": "watches"}
        time.sleep(0.3)
        assert len(ours.of_type("roster")) == 2, "the hub keeps its roster, with the watch"
    finally:
        ours.close()
        theirs.close()
        away.close()


def test_a_sensor_is_refused_when_its_mac_is_taken_naming_the_field(server: Receiver) -> None:
    logins = people(server)
    base = base_of(server)
    ours, theirs = Desk(base, *logins["admin"]), Desk(base, *logins["other_admin"])
    for admin, resident in ((ours, "r-101"), (theirs, "r-7")):
        assert admin.call("POST", "/api/roster/residents", {"entry": {
            "id": resident, "name": "张桂兰", "room": "101"}}).ok
    assert ours.call("POST", "/api/roster/watches", {"entry": {"mac": MAC, "resident": "r-101"},
                                                     "key": "generate"}).ok
    door = {"mac": "B0:C7:DE:00:03:01", "resident": "r-101", "kind": "door", "place": "卫生间门"}
    added = ours.call("POST", "/api/roster/sensors", {"entry": door, "key": "generate"})
    assert added.ok and re.fullmatch(r"[0-9a-f]{32}", added.json()["key"])
    assert added.headers["cache-control"] == "no-store"
    refusals = [
        (theirs, "sensors", {**door, "resident": "r-7"},
         "sensors: B0:C7:DE:00:03:01 is registered to another community; expected"),
        (theirs, "watches", {"mac": door["mac"], "resident": "r-7"},
         "watches: B0:C7:DE:00:03:01 is registered to another community"),
        (theirs, "sensors", {**door, "mac": MAC, "resident": "r-7"},
         f"sensors: {MAC} is registered to another community"),
        (ours, "sensors", {**door, "mac": MAC},
         f"sensors[1].mac: {MAC} is also a [[watches]] entry"),
    ]
    for admin, kind, entry, error in refusals:
        answer = admin.call("POST", f"/api/roster/{kind}", {"entry": entry, "key": "generate"})
        assert answer.status_code == 400 and answer.json()["error"].startswith(error), answer.text
    assert theirs.call("GET", "/api/roster").json()["sensors"] == []
    (kept,) = ours.call("GET", "/api/roster").json()["sensors"]
    assert kept == {**door, "key_set": True}


def test_only_this_communitys_administrators_may_change_it(server: Receiver) -> None:
    logins = people(server)
    base = base_of(server)
    admin, desk = Desk(base, *logins["admin"]), Desk(base, *logins["desk"])
    elsewhere = Desk(base, *logins["other_admin"])
    entry = {"entry": {"id": "r-1", "name": "王奶奶", "room": "201"}}
    for path in ("/api/roster", "/api/people"):
        assert desk.call("GET", path).status_code == 403
    assert desk.call("POST", "/api/roster/residents", entry).status_code == 403
    assert admin.call("POST", "/api/roster/residents", entry, csrf=False).status_code == 403
    assert desk.session.get(f"{base}/admin", timeout=5).status_code == 403
    assert admin.call("GET", "/api/roster").json()["residents"] == []

    assert elsewhere.call("POST", "/api/roster/residents", entry).status_code == 200
    assert admin.call("GET", "/api/roster").json()["residents"] == [], "heping's, not ours"
    assert elsewhere.call("DELETE", "/api/people/wang").status_code == 400  # not theirs
    taken = elsewhere.call("POST", "/api/people", {"username": "wang", "name": "冒名",
                                                   "role": "admin"})
    assert taken.status_code == 400 and "taken" in taken.json()["error"]
    assert elsewhere.call("POST", "/api/people/wang/password").status_code == 400
    Desk(base, *logins["desk"])  # wang's password still works: nothing was reset


def test_accounts_and_tokens_are_made_shown_once_and_taken_away(server: Receiver) -> None:
    logins = people(server)
    base = base_of(server)
    admin = Desk(base, *logins["admin"])
    made = admin.call("POST", "/api/people", {"username": "liu", "name": "刘师傅",
                                              "role": "worker", "contact": "c1"}).json()
    worker = Desk(base, "liu", made["password"])
    listed = admin.call("GET", "/api/people").json()
    assert {p["username"]: p["role"] for p in listed["people"]} == {
        "liu": "worker", "wang": "desk", "zhou": "admin"}
    assert made["password"] not in str(listed) and "hash" not in str(listed)
    again = admin.call("POST", "/api/people", {"username": "liu", "name": "刘", "role": "desk"})
    assert again.status_code == 400 and "new password" in again.json()["error"]
    renewed = admin.call("POST", "/api/people/liu/password").json()
    assert worker.call("GET", "/api/board").status_code == 401  # the old session ended
    worker = Desk(base, "liu", renewed["password"])
    assert {p["username"]: (p["role"], p["contact"]) for p in admin.call(
        "GET", "/api/people").json()["people"]}["liu"] == ("worker", "c1"), "nothing else changed"
    bad = admin.call("POST", "/api/people", {"username": "x y", "name": "?", "role": "desk"})
    assert bad.status_code == 400 and "username" in bad.json()["error"]
    assert admin.call("DELETE", "/api/people/zhou").status_code == 400  # not oneself
    assert admin.call("DELETE", "/api/people/liu").status_code == 200
    assert worker.call("GET", "/api/board").status_code == 401  # their session ended at once

    secret = admin.call("POST", "/api/tokens", {"name": "duty-desk-screen"}).json()["token"]
    bearer = {"Authorization": f"Bearer {secret}"}
    assert requests.get(f"{base}/api/hubs", headers=bearer, timeout=5).status_code == 200
    (token,) = admin.call("GET", "/api/people").json()["tokens"]
    assert token["name"] == "duty-desk-screen" and token["id"] not in secret
    assert admin.call("DELETE", f"/api/tokens/{token['id']}").json() == {
        "revoked": "duty-desk-screen"}
    assert requests.get(f"{base}/api/hubs", headers=bearer, timeout=5).status_code == 401
    assert admin.call("DELETE", f"/api/tokens/{token['id']}").status_code == 400


def test_buildings_get_their_first_and_backup_workers(server: Receiver) -> None:
    admin = Desk(base_of(server), *people(server)["admin"])
    assert admin.call("PUT", "/api/buildings/hub-3", {"first": "c1", "backup": "c2"}).ok
    assert admin.call("GET", "/api/roster").json()["duty"] == [
        {"hub": "hub-3", "first": "c1", "backup": "c2"}]
    same = admin.call("PUT", "/api/buildings/hub-3", {"first": "c1", "backup": "c1"})
    assert same.status_code == 400 and same.json()["error"].startswith("backup: expected")
    assert server.duty.buildings_of(COMMUNITY, "c2") == {"hub-3"}


def test_every_json_endpoint_answers_401_without_a_login(server: Receiver) -> None:
    base = base_of(server)
    routes = [route for route in server.http_app.routes  # type: ignore[union-attr]
              if isinstance(route, Route) and route.path.startswith("/api/")]
    assert len(routes) >= 15
    for route in routes:
        path = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: "claim" if m.group(1) == "action" else "x",
                      route.path)
        for method in sorted(route.methods or ()):
            if method == "HEAD":
                continue
            answer = requests.request(method, f"{base}{path}", json={}, timeout=5,
                                      cookies={"edge_session": "forged"})
            assert answer.status_code == 401, (method, path, answer.text)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed; run: sudo apt-get "
                    "install chromium (make test does it as root)")
def test_an_administrator_edits_the_roster_and_accounts_in_the_browser(server: Receiver) -> None:
    from playwright.sync_api import sync_playwright

    logins = people(server)
    base = base_of(server)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{base}/login")
        page.fill("#username", logins["admin"][0])
        page.fill("#password", logins["admin"][1])
        page.click("#login")
        page.click("#admin-link")
        page.wait_for_url(f"{base}/admin")

        for hub, name in (("hub-3", "3号楼"), ("hub-9", "9号楼")):
            page.fill("#building-form [name=id]", hub)
            page.fill("#building-form [name=name]", name)
            page.fill("#building-form [name=address]", f"幸福里路 18 号 {name}")
            page.click("#building-form button")
            page.wait_for_selector(f"#buildings tr[data-id='{hub}']")
        form = "#resident-form"
        for name, value in (("id", "r-101"), ("name", "张桂兰"), ("room", "101"),
                            ("phone", "+8613900000001")):
            page.fill(f"{form} [name={name}]", value)
        page.select_option(f"{form} [name=building]", "hub-3")
        page.click(f"{form} button")
        page.wait_for_selector("#residents tr[data-id='r-101']:has-text('3号楼')")
        page.select_option("#show", "hub-9")  # one building at a time: 9号楼 has nobody yet
        page.wait_for_selector("#residents tr[data-id='r-101']", state="detached")
        page.select_option("#show", "")
        page.wait_for_selector("#residents tr[data-id='r-101']")
        assert server.rosters.view(COMMUNITY)["residents"][0]["building"] == "hub-3"

        page.fill("#watch-form [name=mac]", MAC)
        page.select_option("#watch-form [name=resident]", "r-101")
        page.select_option("#watch-form [name=key]", "generate")
        page.click("#watch-form button")
        page.wait_for_selector(f"#watches tr[data-id='{MAC}']:has-text('已设置')")
        key = page.inner_text("#message .secret")
        assert re.fullmatch(r"[0-9a-f]{32}", key)
        page.reload()
        page.wait_for_selector(f"#watches tr[data-id='{MAC}']")
        assert key not in page.content(), "the key is shown once, never again"
        push = server.rosters.push_of(COMMUNITY)
        assert push is not None and push.fields["watches"][0]["key"] == key

        page.fill("#watch-form [name=mac]", "A4:C1:38:00:00:09")
        page.select_option("#watch-form [name=key]", "keep")
        page.click("#watch-form button")  # no key, not insecure: the hub would refuse it
        page.wait_for_selector("#error:has-text('no key')")

        door = "B0:C7:DE:00:03:01"
        page.fill("#sensor-form [name=mac]", door.lower())
        page.select_option("#sensor-form [name=resident]", "r-101")
        page.select_option("#sensor-form [name=kind]", "door")
        page.fill("#sensor-form [name=place]", "卫生间门")
        page.select_option("#sensor-form [name=key]", "generate")
        page.click("#sensor-form button")
        row = f"#sensors tr[data-id='{door}']"
        page.wait_for_selector(f"{row}:has-text('卫生间门'):has-text('门窗'):has-text('已设置')")
        assert "传感器" in page.inner_text("#message")
        sensor_key = page.inner_text("#message .secret")
        assert re.fullmatch(r"[0-9a-f]{32}", sensor_key) and sensor_key != key
        push = server.rosters.push_of(COMMUNITY)
        assert push is not None and push.fields["sensors"] == [
            {"mac": door, "resident": "r-101", "kind": "door", "place": "卫生间门",
             "key": sensor_key}]
        page.reload()
        page.wait_for_selector(f"{row}:has-text('已设置')")
        assert sensor_key not in page.content(), "the sensor's key is shown once, never again"
        page.select_option("#show", "hub-9")  # the sensor is in 3号楼, with its resident
        page.wait_for_selector(row, state="detached")
        page.select_option("#show", "")
        asked: list[str] = []
        page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
        page.click(f"{row} button.edit")
        page.select_option("#sensor-form [name=key]", "generate")
        page.click("#sensor-form button")  # a new key for a sensor that has one: asked first
        assert len(asked) == 1 and "传感器要重新写入新钥匙" in asked[0]
        push = server.rosters.push_of(COMMUNITY)
        assert push is not None and push.fields["sensors"][0]["key"] == sensor_key, \
            "declined: the key stands"
        page.once("dialog", lambda dialog: dialog.accept())
        page.click(f"{row} button.remove")
        page.wait_for_selector(row, state="detached")
        assert server.rosters.view(COMMUNITY)["sensors"] == []

        page.fill("#person-form [name=username]", "liu")
        page.fill("#person-form [name=name]", "刘师傅")
        page.select_option("#person-form [name=role]", "desk")
        page.click("#person-form button")
        page.wait_for_selector("#people tr[data-username='liu']")
        Desk(base, "liu", page.inner_text("#message .secret"))  # the password shown works

        page.click("#lang")
        page.wait_for_selector("text=Residents")
        page.wait_for_selector("#sensor-form option:has-text('door or window')", state="attached")
        browser.close()


def test_an_administrator_marks_a_contact_for_ring_calls_in_the_browser(
        server: Receiver) -> None:
    from playwright.sync_api import sync_playwright

    logins = people(server)
    base = base_of(server)
    admin = Desk(base, *logins["admin"])
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(f"{base}/login")
        page.fill("#username", logins["admin"][0])
        page.fill("#password", logins["admin"][1])
        page.click("#login")
        page.click("#admin-link")
        page.wait_for_url(f"{base}/admin")
        form = "#contact-form"
        for name, value in (("id", "c1"), ("name", "李娜"), ("phone", "+8613800138001")):
            page.fill(f"{form} [name={name}]", value)
        assert page.input_value(f"{form} [name=call]") == "never"
        page.select_option(f"{form} [name=call]", "night")
        page.click(f"{form} button")
        page.wait_for_selector("#contacts tr[data-id='c1']")
        browser.close()
    (contact,) = admin.call("GET", "/api/roster").json()["contacts"]
    assert contact["call"] == "night"


@pytest.mark.parametrize("trusted, separate", [(("127.0.0.1",), True), (("10.9.9.9",), False)])
def test_behind_a_trusted_proxy_wrong_passwords_count_per_persons_address(
        broker: Broker, tmp_path: Path, trusted: tuple[str, ...], separate: bool) -> None:
    server = Receiver(broker.url, f"sqlite:///{tmp_path / 'server.db'}", http=("127.0.0.1", 0),
                      trusted_proxies=trusted)
    server.start()
    try:
        base = base_of(server)
        password = server.people.add("wang", "王主任", "desk", COMMUNITY, now=time.time())

        def log_in(secret: str, address: str) -> requests.Response:
            return requests.post(f"{base}/login", data={"username": "wang", "password": secret},
                                 headers={"X-Forwarded-For": address,
                                          "X-Forwarded-Proto": "https"},
                                 timeout=5, allow_redirects=False)

        for _ in range(5):  # someone guessing from one place ...
            assert log_in("guess-guess", "203.0.113.7").status_code == 401
        answer = log_in(password, "198.51.100.2")  # ... and the desk, elsewhere
        if separate:  # the proxy is believed: the desk is not locked out, and over HTTPS
            assert answer.status_code == 303 and "secure" in answer.headers["set-cookie"].lower()
        else:  # a proxy nobody named: the header is not believed, the address is the proxy's
            assert answer.status_code == 401 and "too many" in answer.text
    finally:
        server.stop()


def test_answers_with_a_secret_are_not_kept_by_any_cache(server: Receiver) -> None:
    admin = Desk(base_of(server), *people(server)["admin"])
    answers = [admin.call("POST", "/api/tokens", {"name": "screen"}),
               admin.call("POST", "/api/people", {"username": "liu", "name": "刘师傅",
                                                  "role": "desk"}),
               admin.call("POST", "/api/roster/residents", {"entry": {
                   "id": "r-1", "name": "王奶奶", "room": "201"}}),
               admin.call("POST", "/api/roster/watches", {"entry": {
                   "mac": MAC, "resident": "r-1"}, "key": "generate"})]
    for answer in answers:
        assert answer.ok and answer.headers["cache-control"] == "no-store", answer.text


def test_a_trusted_proxy_network_is_given_to_uvicorn_as_it_reads_one() -> None:
    import argparse

    from cloud_sync.server.cli import _proxy

    assert (_proxy("10.0.0.5/24"), _proxy("10.0.0.5"), _proxy("::1")) == (
        "10.0.0.0/24", "10.0.0.5", "::1")
    with pytest.raises(argparse.ArgumentTypeError, match="expected an IP address"):
        _proxy("proxy.example.org")
