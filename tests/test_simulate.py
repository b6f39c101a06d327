"""edge-hub simulate: the production hub in its own process, driven from outside."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.simulated import DESK, GRID, ROOT, SON, SimulatedHub


@pytest.fixture
def hub(tmp_path: Path):
    running = SimulatedHub(tmp_path).start()
    yield running
    running.kill()


def test_a_press_through_the_api_reaches_tier_one_and_sigterm_stops_cleanly(hub) -> None:
    pressed = hub.post("/press", {"resident": "r-101"})
    assert pressed["alert"]["state"] == "raised" and pressed["kind"] == "press"
    ref = pressed["alert"]["ref"]
    hub.wait_for(lambda: hub.sos_to(ref) == {DESK, SON, GRID}, what="tier 1 texted")
    state = hub.state()
    assert [(a["ref"], a["state"]) for a in state["alerts"]] == [(ref, "active")]
    assert state["modem"]["ready"] and state["storage"]["mode"] == "disk"
    assert {t["to"] for t in state["texts"] if t["kind"] == "sos"} == {DESK, SON, GRID}
    assert hub.terminate() == 0
    assert "Simulated building stopped" in hub.log.read_text()


def test_a_reply_by_sms_takes_the_alert(hub) -> None:
    ref = hub.post("/press", {"resident": "r-101"})["alert"]["ref"]
    hub.wait_for(lambda: GRID in hub.sos_to(ref), what="the grid worker texted")
    assert hub.post("/sms", {"from": GRID, "text": "1"})["parts"] == 1
    hub.wait_for(lambda: hub.state()["alerts"] == [], what="the alert taken")
    assert any(a["state"] == "acknowledged" for a in hub.state()["recent_alerts"])


def test_the_api_refuses_without_the_token_and_names_bad_fields(hub) -> None:
    status, answer = hub.call("POST", "/press", {"resident": "r-101"}, token="wrong")
    assert status == 401 and "Bearer" in answer["error"]
    assert hub.state()["alerts"] == []
    cases = [("POST", "/press", {"resident": "nobody"}, "resident:"),
             ("POST", "/press", {"resident": "r-101", "kind": "tap"}, "kind:"),
             ("POST", "/press", {"mac": "00:11:22:33:44:55"}, "mac:"),
             ("POST", "/sms", {"from": "+86138", "text": ""}, "from, text:"),
             ("POST", "/modem/fault", {"name": "meteor"}, "name:"),
             ("POST", "/modem/fault", {"name": "stall", "speed": 3}, "speed:"),
             ("POST", "/modem/fault", {"name": "no_sim", "for_s": -1}, "for_s:")]
    for method, path, body, field in cases:
        status, answer = hub.call(method, path, body)
        assert status == 400 and answer["error"].startswith(field), (body, answer)
    assert hub.call("GET", "/nowhere")[0] == 404


def test_the_fault_catalogue_is_listed_and_a_fault_holds_the_sos_until_it_clears(hub) -> None:
    status, catalogue = hub.call("GET", "/modem/faults")
    names = {fault["name"] for fault in catalogue}
    assert status == 200 and {"no_sim", "stall", "cms_error", "hang", "port_vanish"} <= names
    assert hub.post("/modem/fault", {"name": "no_sim", "for_s": 3})["clears_in_s"] == 3
    ref = hub.post("/press", {"resident": "r-101"})["alert"]["ref"]
    time.sleep(2)
    assert hub.sos_to(ref) == set()
    hub.wait_for(lambda: hub.sos_to(ref) == {DESK, SON, GRID}, timeout=20,
                 what="texted once the SIM is back")


def test_counters_survive_kill_9_and_a_battery_swap_is_heard(tmp_path: Path) -> None:
    hub = SimulatedHub(tmp_path).start()
    try:
        first = hub.post("/press", {"resident": "r-101"})["alert"]["ref"]
        hub.wait_for(lambda: hub.sos_to(first), what="first SOS")
        hub.post("/sms", {"from": GRID, "text": "1"})
        hub.wait_for(lambda: hub.state()["alerts"] == [], what="first alert taken")
        hub.kill()
        hub.start()  # the same database and counters
        second = hub.post("/press", {"resident": "r-101"})["alert"]
        assert second is not None and second["ref"] != first
        hub.wait_for(lambda: GRID in hub.sos_to(second["ref"]), what="second SOS")
        hub.post("/sms", {"from": GRID, "text": "1"})
        hub.wait_for(lambda: hub.state()["alerts"] == [], what="second alert taken")
        assert hub.post("/battery-swap", {"resident": "r-101"})["counter"] == 1
        third = hub.post("/press", {"resident": "r-101", "kind": "hold"})["alert"]
        assert third is not None and third["state"] == "raised"
    finally:
        hub.kill()


def test_the_demo_ships_with_the_package(tmp_path: Path) -> None:
    """After `pip install .` (as systemd/install.sh installs) the demo building is there.

    The wheel goes into a venv of its own (pip --python), never into the one running the
    tests; its dependencies come from that one on PYTHONPATH.
    """
    wheels, venv = tmp_path / "wheels", tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w",
                    str(wheels), str(ROOT)], check=True, capture_output=True, timeout=600)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                    "--quiet", "--no-deps", *map(str, wheels.glob("*.whl"))],
                   check=True, capture_output=True, timeout=300)
    assert (venv / "share" / "edge-hub" / "demo.toml").exists()
    ours = next(Path(p) for p in sys.path if p.endswith("site-packages"))
    found = subprocess.run(
        [str(python), "-c", "import edge.tools.cli, json; print(json.dumps("
         "[edge.tools.cli.__file__, str(edge.tools.cli.DEMO_CONFIG)]))"],
        cwd=tmp_path, env={"PYTHONPATH": str(ours), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    module, demo = json.loads(found.stdout)
    assert Path(module).is_relative_to(venv) and Path(demo) == venv / "share/edge-hub/demo.toml"
    checked = subprocess.run([str(venv / "bin" / "edge-hub"), "check-config", "--config", demo],
                             cwd=tmp_path, env={"PYTHONPATH": str(ours), "PATH": "/usr/bin:/bin"},
                             capture_output=True, text=True)
    assert checked.returncode == 0 and "valid" in checked.stdout, checked.stderr


def test_activity_is_scripted_through_the_api_and_shown_in_the_state(hub) -> None:
    opened = hub.post("/activity", {"resident": "r-101", "event": "door_open"})
    assert (opened["place"], opened["event"]) == ("卫生间门", "door_open")
    planned = hub.post("/activity", {"resident": "r-101", "pattern": "normal",
                                     "day": "2026-12-07"})
    assert planned["planned"] > 20  # a whole day of getting up, trips and going out
    hub.wait_for(lambda: [a["kind"] for a in hub.state()["activity"]][:1] == ["door_open"],
                 what="the door event stored")
    out = hub.post("/activity", {"resident": "r-101", "pattern": "out", "day": "2026-01-05"})
    assert out["planned"] == 6  # a day gone by: played at once, in order, and stored
    hub.wait_for(lambda: [a["kind"] for a in hub.state()["activity"]][:7] == [
        "motion", "door_closed", "door_open", "door_closed", "door_open", "motion", "door_open"],
        what="the day out played and stored")
    cases = [({"resident": "r-102", "event": "motion"}, "resident:"),  # no sensors
             ({"resident": "r-101", "event": "jump"}, "event:"),
             ({"resident": "r-101", "pattern": "party"}, "pattern:"),
             ({"resident": "r-101", "pattern": "still", "days": 99}, "days:")]
    for body, field in cases:
        status, answer = hub.call("POST", "/activity", body)
        assert status == 400 and answer["error"].startswith(field), (body, answer)
