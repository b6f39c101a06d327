"""The edge-hub command line, run as an installer would run it."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from edge.tools.cli import main
from firmware_bridge.ble.bthome import BTHomeKey, encode_frame
from firmware_bridge.ble.gnss_fix import GnssFix, pack_fix
from firmware_bridge.sms.pdu import decode_pdu

ROOT = Path(__file__).resolve().parents[1]
KEY_HEX = "231d39c1d7cc1ab1aee224cd096db932"
MAC = "54:48:E6:8F:80:A5"


def sos_frame(counter: int = 7) -> str:
    frame = encode_frame([(0x00, 3), (0x01, 88), (0x3A, "press")], mac=MAC,
                         key=BTHomeKey.from_hex(KEY_HEX), counter=counter)
    return frame.hex()


def test_decode_prints_objects_counter_and_meaning(capsys) -> None:
    assert main(["decode", "--mac", MAC.lower(), "--key", KEY_HEX, sos_frame()]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["encrypted"] is True and result["mic_verified"] is True
    assert result["counter"] == 7
    assert [(o["name"], o["value"]) for o in result["objects"]] == [
        ("packet_id", 3), ("battery", 88), ("button", "press")]
    assert result["meaning"]["sos"] is True and result["meaning"]["battery"] == 88


def test_decode_shows_a_position_fix(capsys) -> None:
    raw = pack_fix(GnssFix(31.2304, 121.4737, 9, 40))
    frame = encode_frame([(0x54, raw)], mac=MAC, key=BTHomeKey.from_hex(KEY_HEX), counter=9)
    assert main(["decode", "--mac", MAC, "--key", KEY_HEX, frame.hex()]) == 0
    fix = json.loads(capsys.readouterr().out)["meaning"]["fix"]
    assert fix["lat"] == pytest.approx(31.2304) and fix["age_s"] == 40


def test_decode_of_a_plaintext_frame_with_a_key_says_the_hub_refuses_it(capsys) -> None:
    plain = encode_frame([(0x00, 3), (0x3A, "press")], mac=MAC, key=None)
    assert main(["decode", "--mac", MAC, "--key", KEY_HEX, plain.hex()]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["hub_accepts"] is False and result["meaning"] is None
    assert "downgrade" in result["refused"]
    assert result["would_mean"]["sos"] is True  # what it claims, shown apart


def test_decode_of_a_plaintext_frame_without_a_key_is_what_an_insecure_watch_sends(
        capsys) -> None:
    plain = encode_frame([(0x3A, "hold_press")], mac=MAC, key=None)
    assert main(["decode", "--mac", MAC, plain.hex()]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["hub_accepts"] is True and result["meaning"]["sos"] is True
    assert result["meaning"]["button"] == "hold_press"


def test_decode_with_wrong_key_says_why(capsys) -> None:
    assert main(["decode", "--mac", MAC, "--key", "00" * 16, sos_frame()]) == 1
    assert "MIC check failed" in capsys.readouterr().err


def test_decode_encrypted_without_key_says_to_add_it(capsys) -> None:
    assert main(["decode", "--mac", MAC, sos_frame()]) == 1
    assert "no key" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [
    (["decode", "--mac", "nope", "40"], "expected a MAC address like"),
    (["decode", "--mac", MAC, "--key", "abc", "40"], "expected 32 hex digits"),
    (["decode", "--mac", MAC, "zz"], "expected hex digits"),
])
def test_bad_arguments_name_the_field(args: list[str], message: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_check_config_summarises_the_demo_building(capsys) -> None:
    assert main(["check-config", "--config", str(ROOT / "config" / "demo.toml")]) == 0
    assert "valid" in capsys.readouterr().out


def test_check_config_reports_a_bad_file(tmp_path, capsys) -> None:
    bad = tmp_path / "hub.toml"
    bad.write_text("[hub]\nid = 3\n")
    assert main(["check-config", "--config", str(bad)]) == 1
    assert "hub.id" in capsys.readouterr().err


def test_offline_demo_runs_the_scenario_and_writes_events(tmp_path) -> None:
    events, pdus = tmp_path / "events.jsonl", tmp_path / "pdus.txt"
    done = subprocess.run(
        [sys.executable, "-m", "edge.tools.cli", "demo", "--offline", "--events",
         str(events), "--pdu-log", str(pdus)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in events.read_text(encoding="utf-8").splitlines()]
    types = [line["type"] for line in lines]
    raised = [line["alert"].get("kind", "sos") for line in lines if line["type"] == "alert.raised"]
    assert raised == ["sos", "sos", "sos", "welfare"]  # three presses, then one welfare check
    assert "alert.active" in types and "alert.cancelled" in types
    assert "alert.acknowledged" in types and "alert.resolved" in types
    assert "watch.fix" in types and types.count("watch.battery") >= 12
    assert len({line["event_id"] for line in lines}) == len(lines)
    assert "replays refused 1" in done.stdout
    assert "is active: responders must come" in done.stdout
    texts = [decode_pdu(bytes.fromhex(line), with_smsc=False, direction="sent")
             for line in pdus.read_text().split()]
    assert len(texts) >= 10
    assert any("回复1" in getattr(t, "text", "") for t in texts)
    assert "texts received by responders" in done.stdout and "still queued: 0" in done.stdout
    assert "【关怀提醒 A004】张桂兰今天10:00前未检测到活动" in done.stdout
    assert done.stdout.count("📞 ") == 1  # one ring call, to the son who asked for them
    assert "📞 张伟 (张桂兰之子) +8613800138021: ring call answered" in done.stdout
    (called,) = [line for line in lines if line["type"] == "alert.called"]
    assert called["outcome"] == "answered" and called["to"]["contact"] == "family-zhang-wei"
    assert every_alert_was_taken(done.stdout)
    assert "📱 3号楼值班室 +8613800138001: 【关怀提醒 A004】" in done.stdout


def every_alert_was_taken(out: str) -> bool:
    """Every alert in the demo's summary was taken, closed on site or cancelled."""
    summary = out.split("▶ Summary")[1]
    alerts = [line for line in summary.splitlines() if line.strip().startswith("alert ")]
    return bool(alerts) and all(any(f" {how} by " in line for how in (
        "acknowledged", "resolved", "cancelled")) for line in alerts)


def test_readme_decode_example_works(capsys) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index(".venv/bin/edge-hub decode")
    command = readme[start:readme.index("```", start)].replace("\\\n", " ").split()
    assert main(command[1:]) == 0
    assert json.loads(capsys.readouterr().out)["mic_verified"] is True


def test_online_demo_confirms_by_server_then_texts_during_the_outage(tmp_path) -> None:
    events = tmp_path / "events.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "edge.tools.cli", "demo", "--events", str(events)],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    first = out[out.index("The internet is up"):out.index("takes alert")]
    assert "confirmed to the hub" in first
    assert "📱 3号楼值班室" not in first and "📱 张伟" in first  # only the always-SMS son
    outage = out[out.index("Outage:"):out.index("The broker is back")]
    assert "📱 3号楼值班室" in outage and "replied '1'" in outage
    assert "events waiting for the uplink: 0" in out
    lines = [json.loads(line) for line in events.read_text(encoding="utf-8").splitlines()]
    stored = int(out.split("events stored by the community server: ")[1].split()[0])
    assert stored == len(lines) and "alert.acknowledged" in [e["type"] for e in lines]
    check = out[out.index("The next morning"):out.index("That was the scenario")]
    assert "takes check A003" in check and "ignored" not in check
    assert "Alert A003 for 张桂兰 was taken by 3号楼值班室" in check
    assert every_alert_was_taken(out)


MINIMAL_HUB = """
[hub]
id = "hub-9"
community = "幸福里社区"
building = "9号楼"
address = "幸福里路 9 号"
database = "{db}"

[[residents]]
id = "r1"
name = "王秀英"
room = "101"

[[watches]]
mac = "A4:C1:38:00:00:01"
resident = "r1"
key = "{key}"

[[contacts]]
id = "desk"
name = "值班室"
phone = "+8613800138000"
role = "duty_desk"
tier = 1
"""


@pytest.mark.parametrize("delay_s", [0.0, 0.15])
def test_sigterm_while_the_hub_starts_stops_it_cleanly(tmp_path, delay_s: float) -> None:
    import signal
    import time

    config = tmp_path / "hub.toml"
    config.write_text(MINIMAL_HUB.format(db=tmp_path / "hub.db", key=KEY_HEX), encoding="utf-8")
    hub = subprocess.Popen([sys.executable, "-m", "edge.tools.cli", "run", "--config", str(config)],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert hub.stdout is not None
    first = hub.stdout.readline()
    assert "starting as hub hub-9" in first, first
    time.sleep(delay_s)
    hub.send_signal(signal.SIGTERM)
    out = first + hub.communicate(timeout=30)[0]
    assert hub.returncode == 0, out
    assert "Hub hub-9 stopped cleanly" in out
    assert not (tmp_path / "hub.db-wal").exists() or (tmp_path / "hub.db-wal").stat().st_size == 0


# The installed `edge-hub` script, with a SIGTERM sent the moment the command line
# starts to load (before any of the hub's modules): the window in which systemd's stop
# used to kill a starting hub outright.
SIGTERM_WHILE_LOADING = """
import os, signal, sys
from importlib.metadata import entry_points

class SignalWhenTheCommandLineLoads:
    def find_spec(self, name, path=None, target=None):
        if name == "edge.tools.cli":
            os.kill(os.getpid(), signal.SIGTERM)
        return None

main = entry_points(group="console_scripts")["edge-hub"].load()
sys.meta_path.insert(0, SignalWhenTheCommandLineLoads())
sys.argv = ["edge-hub", *sys.argv[1:]]
sys.exit(main())
"""


def test_a_sigterm_before_the_hub_has_loaded_still_stops_it_cleanly(tmp_path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(MINIMAL_HUB.format(db=tmp_path / "hub.db", key=KEY_HEX), encoding="utf-8")
    hub = subprocess.run([sys.executable, "-c", SIGTERM_WHILE_LOADING, "run", "--config",
                          str(config)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    out = hub.stdout + hub.stderr
    assert hub.returncode == 0, out
    assert "Asked to stop (SIGTERM) while starting" in out
    assert "Hub hub-9 stopped cleanly" in out


def test_a_one_shot_command_still_ends_at_once_on_an_early_sigterm(tmp_path) -> None:
    config = tmp_path / "hub.toml"
    config.write_text(MINIMAL_HUB.format(db=tmp_path / "hub.db", key=KEY_HEX), encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", SIGTERM_WHILE_LOADING, "check-config",
                           "--config", str(config)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == -signal.SIGTERM, done.stdout + done.stderr
    assert "valid" not in done.stdout


def run_hub_on_the_journal(tmp_path, extra: str, until: str) -> list[str]:
    """`edge-hub run` as systemd starts it: stdout and stderr on the journal's stream
    (here a file, named in JOURNAL_STREAM as systemd names its socket). Its lines once
    `until` was written, after a SIGTERM."""
    import os
    import signal
    import time

    config = tmp_path / "hub.toml"
    config.write_text(MINIMAL_HUB.format(db=tmp_path / "hub.db", key=KEY_HEX) + extra,
                      encoding="utf-8")
    journal = tmp_path / "journal"
    with journal.open("w") as stream:
        stat = os.fstat(stream.fileno())
        env = {**os.environ, "JOURNAL_STREAM": f"{stat.st_dev}:{stat.st_ino}"}
        hub = subprocess.Popen([sys.executable, "-m", "edge.tools.cli", "run", "--config",
                                str(config)], cwd=ROOT, stdout=stream, stderr=stream, env=env)
        deadline = time.monotonic() + 20
        while until not in journal.read_text(encoding="utf-8") and time.monotonic() < deadline:
            time.sleep(0.1)
        hub.send_signal(signal.SIGTERM)
        assert hub.wait(timeout=30) == 0
    return journal.read_text(encoding="utf-8").splitlines()


def test_on_the_journal_each_line_carries_its_priority_and_no_time(tmp_path) -> None:
    from edge import __version__

    lines = run_hub_on_the_journal(tmp_path, '\n[modem]\nport = "/nonexistent/ttyUSB9"\n',
                                   until="GSM modem")
    assert lines[0] == (f"<6>edge-hub {__version__} starting as hub hub-9 (9号楼) from "
                        f"{tmp_path / 'hub.toml'}: 1 watch (roster from the configuration), "
                        "modem on /nonexistent/ttyUSB9, no uplink (no [uplink] section: SMS "
                        f"only), database {tmp_path / 'hub.db'}."), lines
    modem = [line for line in lines if "GSM modem" in line]
    assert modem and all(line.startswith("<3>") for line in modem), lines
    assert all(re.match(r"<[2-7]>", line) for line in lines), lines
    assert not any(re.match(r"<\d>\d\d:\d\d:\d\d ", line) for line in lines), lines
