"""The systemd unit, the modem's udev rules and install.sh, checked as a Pi would use them."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SYSTEMD = Path(__file__).resolve().parent.parent / "systemd"
UNIT = SYSTEMD / "edge-hub.service"
RULES = SYSTEMD / "99-edge-hub-modem.rules"
INSTALL = SYSTEMD / "install.sh"


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """Sections of a unit file, each key with every value it was given, in order."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


@pytest.fixture(scope="module")
def service() -> dict[str, list[str]]:
    return parse_unit(UNIT.read_text())["Service"]


# ------------------------------------------------------------------- the unit

def test_the_hub_reports_ready_and_alive_and_is_always_restarted(service) -> None:
    assert service["Type"] == ["notify"]
    assert service["NotifyAccess"] == ["main"]
    assert service["WatchdogSec"] == ["60"]
    assert service["Restart"] == ["always"]
    assert service["RestartSec"] == ["5"]
    assert service["ExecStart"] == [
        "/opt/edge-hub/venv/bin/edge-hub run --config /etc/edge-hub/hub.toml"]
    unit = parse_unit(UNIT.read_text())["Unit"]
    assert unit["StartLimitIntervalSec"] == ["0"]  # never give up restarting an SOS hub
    assert "bluetooth.service" in unit["After"][0] and "network-online.target" in unit["After"][0]
    assert unit["Wants"] == ["network-online.target"]


def test_the_hub_runs_as_its_own_user_with_only_the_device_groups(service) -> None:
    assert service["User"] == ["edge-hub"] and service["Group"] == ["edge-hub"]
    assert service["SupplementaryGroups"][0].split() == ["bluetooth", "dialout", "gpio"]
    assert service["StateDirectory"] == ["edge-hub"]
    assert service["StateDirectoryMode"] == ["0750"]
    assert service["ConfigurationDirectory"] == ["edge-hub"]
    assert service["UMask"] == ["0077"]


@pytest.mark.parametrize("key, value", [
    ("ProtectSystem", "strict"), ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
    ("NoNewPrivileges", "yes"), ("CapabilityBoundingSet", ""),
    ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
    ("ProtectKernelTunables", "yes"), ("ProtectKernelModules", "yes"),
    ("ProtectKernelLogs", "yes"), ("ProtectControlGroups", "yes"),
    ("RestrictNamespaces", "yes"), ("LockPersonality", "yes"),
    ("MemoryDenyWriteExecute", "yes"), ("RestrictRealtime", "yes"),
    ("SystemCallArchitectures", "native"), ("DevicePolicy", "closed"),
])
def test_the_sandbox_is_on(service, key, value) -> None:
    assert service[key] == [value]


def test_only_the_modem_and_gpio_devices_are_reachable(service) -> None:
    allowed = {entry.rsplit(" ", 1)[0]: entry.rsplit(" ", 1)[1] for entry in service["DeviceAllow"]}
    for device in ("char-ttyUSB", "char-ttyACM", "/dev/ttyAMA0", "/dev/serial0", "char-gpiochip"):
        assert allowed[device] == "rw"


def _verifiable_copy(tmp_path: Path) -> Path:
    """The unit with ExecStart= on an executable that exists here (verify checks it)."""
    edge_hub = Path(sys.executable).parent / "edge-hub"
    if not edge_hub.exists():
        pytest.skip(f"{edge_hub} is not installed; run make")
    text = UNIT.read_text().replace("/opt/edge-hub/venv/bin/edge-hub", str(edge_hub))
    copy = tmp_path / "edge-hub.service"
    copy.write_text(text)
    return copy


def _analyze(*args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    return subprocess.run(["systemd-analyze", *args], check=False, capture_output=True, text=True,
                          timeout=60)


def test_systemd_analyze_verify_finds_nothing_to_say(tmp_path: Path) -> None:
    result = _analyze("verify", str(_verifiable_copy(tmp_path)))
    ours = [line for line in (result.stdout + result.stderr).splitlines()
            if "edge-hub" in line]
    assert result.returncode == 0 and ours == [], result.stdout + result.stderr


def test_verify_would_catch_a_misspelt_directive(tmp_path: Path) -> None:
    copy = _verifiable_copy(tmp_path)
    copy.write_text(copy.read_text().replace("ProtectHome=yes", "ProtectHom=yes"))
    result = _analyze("verify", str(copy))
    assert "Unknown key 'ProtectHom'" in result.stderr


def test_systemd_rates_the_sandbox_well(tmp_path: Path) -> None:
    result = _analyze("security", "--offline=yes", str(_verifiable_copy(tmp_path)))
    found = re.search(r"Overall exposure level for edge-hub.service: (\d+\.\d)", result.stdout)
    if found is None:
        pytest.skip(f"this systemd-analyze cannot rate a unit offline: {result.stderr.strip()}")
    assert float(found.group(1)) <= 2.0, result.stdout


# ------------------------------------------------------------------ udev rules

MATCH_OPS = ("==", "!=")
TOKEN = re.compile(r'\s*([A-Z_]+)(?:\{([^}]+)\})?\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*(?:,|$)')
MATCH_KEYS = {"ACTION", "SUBSYSTEM", "SUBSYSTEMS", "KERNEL", "ATTRS", "ATTR", "ENV"}
ASSIGN_KEYS = {"ENV", "SYMLINK", "GROUP", "MODE", "IMPORT", "GOTO", "LABEL"}


def parse_rules(text: str) -> list[list[tuple[str, str | None, str, str]]]:
    """Each rule line as (key, {attribute}, operator, value) tokens; a syntax error fails."""
    rules = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        tokens, position = [], 0
        while position < len(line):
            token = TOKEN.match(line, position)
            assert token, f"line {number}: cannot parse from {line[position:]!r}"
            key, attribute, op, value = token.groups()
            allowed = MATCH_KEYS if op in MATCH_OPS else ASSIGN_KEYS
            assert key in allowed, f"line {number}: {key}{op} is not a valid udev key"
            tokens.append((key, attribute, op, value))
            position = token.end()
        rules.append(tokens)
    return rules


def run_rules(device: dict[str, str], parents: dict[str, str]) -> dict[str, str]:
    """What the rules make of a tty device: a small udev for the keys this file uses."""
    env, result = dict(device), {}
    rules, skip_to = parse_rules(RULES.read_text()), None
    for tokens in rules:
        if skip_to is not None:
            skip_to = None if ("LABEL", None, "=", skip_to) in tokens else skip_to
            continue
        matches = [t for t in tokens if t[2] in MATCH_OPS]
        if not all(_matches(t, env, parents) for t in matches):
            continue
        for key, attribute, op, value in tokens:
            if key == "GOTO":
                skip_to = value
            elif key == "ENV" and op == "=":
                env[attribute or ""] = value
            elif key in ("SYMLINK", "GROUP", "MODE"):
                result[key] = value
    return {**result, **{k: v for k, v in env.items() if k.startswith("ID_MM")}}


def _matches(token: tuple[str, str | None, str, str], env: dict[str, str],
             parents: dict[str, str]) -> bool:
    key, attribute, op, value = token
    if key == "ENV":
        actual = env.get(attribute or "", "")
    elif key == "ATTRS":
        actual = parents.get(attribute or "", "")
    elif key == "SUBSYSTEMS":
        actual = value if value in parents.get("subsystems", "") else ""
    else:
        actual = env.get(key, "")
    return (actual == value) == (op == "==")


def usb_tty(vendor: str, product: str, interface: str) -> tuple[dict[str, str], dict[str, str]]:
    device = {"ACTION": "add", "SUBSYSTEM": "tty", "ID_VENDOR_ID": vendor,
              "ID_MODEL_ID": product, "ID_USB_INTERFACE_NUM": interface}
    return device, {"idVendor": vendor, "idProduct": product, "subsystems": "usb-serial usb"}


def test_every_rule_line_is_valid_udev_syntax_and_every_goto_has_its_label() -> None:
    rules = parse_rules(RULES.read_text())
    labels = {v for tokens in rules for k, _, _, v in tokens if k == "LABEL"}
    gotos = {v for tokens in rules for k, _, _, v in tokens if k == "GOTO"}
    assert gotos and gotos <= labels


@pytest.mark.parametrize("vendor, product", [("1e0e", "9001"), ("2c7c", "0125"), ("2c7c", "0121")])
def test_the_at_port_of_a_known_modem_gets_the_stable_name(vendor, product) -> None:
    assert run_rules(*usb_tty(vendor, product, "02")) == {
        "SYMLINK": "edge-hub-modem", "GROUP": "dialout", "MODE": "0660",
        "ID_MM_DEVICE_IGNORE": "1"}


@pytest.mark.parametrize("interface", ["00", "01", "03"])
def test_the_modems_other_ports_are_hidden_from_modemmanager_but_not_named(interface) -> None:
    assert run_rules(*usb_tty("1e0e", "9001", interface)) == {"ID_MM_DEVICE_IGNORE": "1"}


def test_an_unknown_usb_serial_adapter_is_left_alone() -> None:
    assert run_rules(*usb_tty("1a86", "7523", "02")) == {}  # a CH340 (or a SIM800 on one)


def test_a_removed_modem_is_not_renamed() -> None:
    device, parents = usb_tty("1e0e", "9001", "02")
    assert run_rules({**device, "ACTION": "remove"}, parents) == {}


# ---------------------------------------------------------------- install.sh

def install(*args: str, user: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*(user or []), "bash", str(INSTALL), *args], check=False,
                          capture_output=True, text=True, timeout=30)


def tree(root: Path) -> dict[str, tuple[str, str]]:
    """Every path under root with its mode and content hash."""
    return {str(path.relative_to(root)): (oct(path.stat().st_mode & 0o7777),
                                          hashlib.sha256(path.read_bytes()).hexdigest()
                                          if path.is_file() else "dir")
            for path in sorted(root.rglob("*"))}


def test_install_into_a_root_lays_out_the_system_and_is_idempotent(tmp_path: Path) -> None:
    first = install("--root", str(tmp_path))
    assert first.returncode == 0, first.stderr
    once = tree(tmp_path)
    again = install("--root", str(tmp_path))
    assert again.returncode == 0, again.stderr

    assert tree(tmp_path) == once
    assert "kept existing" in again.stdout and "up to date" in again.stdout
    assert once["etc/systemd/system/edge-hub.service"][0] == "0o644"
    assert once["etc/udev/rules.d/99-edge-hub-modem.rules"][0] == "0o644"
    assert once["etc/edge-hub"][0] == "0o750" and once["var/lib/edge-hub"][0] == "0o750"
    assert once["etc/edge-hub/hub.toml"][0] == "0o640"
    assert (tmp_path / "etc/systemd/system/edge-hub.service").read_text() == UNIT.read_text()
    passwd = (tmp_path / "etc/passwd").read_text().splitlines()
    assert [line for line in passwd if line.startswith("edge-hub:")] == [
        "edge-hub:x:999:999:edge-hub SOS hub:/var/lib/edge-hub:/usr/sbin/nologin"]
    assert "skipped the virtual environment" in first.stdout
    assert "skipped udevadm and systemctl" in first.stdout


def test_an_edited_config_survives_a_reinstall(tmp_path: Path) -> None:
    install("--root", str(tmp_path))
    config = tmp_path / "etc/edge-hub/hub.toml"
    config.write_text("# this building\n")
    assert install("--root", str(tmp_path)).returncode == 0
    assert config.read_text() == "# this building\n"


def test_uninstall_keeps_config_and_alerts_unless_purged(tmp_path: Path) -> None:
    install("--root", str(tmp_path))
    (tmp_path / "var/lib/edge-hub/hub.db").write_bytes(b"alerts")

    removed = install("--uninstall", "--root", str(tmp_path))
    assert removed.returncode == 0, removed.stderr
    assert not (tmp_path / "etc/systemd/system/edge-hub.service").exists()
    assert not (tmp_path / "etc/udev/rules.d/99-edge-hub-modem.rules").exists()
    assert (tmp_path / "etc/edge-hub/hub.toml").exists()
    assert (tmp_path / "var/lib/edge-hub/hub.db").read_bytes() == b"alerts"

    purged = install("--uninstall", "--purge", "--root", str(tmp_path))
    assert purged.returncode == 0, purged.stderr
    assert not (tmp_path / "etc/edge-hub").exists()
    assert not (tmp_path / "var/lib/edge-hub").exists()
    assert "edge-hub:" not in (tmp_path / "etc/passwd").read_text()


def test_a_wrong_option_or_a_lone_purge_is_refused(tmp_path: Path) -> None:
    wrong = install("--rot", str(tmp_path))
    assert wrong.returncode != 0 and "unknown option: --rot" in wrong.stderr
    lone = install("--purge", "--root", str(tmp_path))
    assert lone.returncode != 0 and "--purge only goes with --uninstall" in lone.stderr


def test_a_source_that_is_not_a_checkout_is_refused(tmp_path: Path) -> None:
    result = install("--root", str(tmp_path / "root"), "--source", str(tmp_path))
    assert result.returncode != 0 and "not an edge-hub checkout" in result.stderr


def test_without_root_and_without_a_scratch_tree_it_says_what_to_run() -> None:
    user: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root and setpriv is missing to drop privileges")
        user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    result = install(user=user)
    assert result.returncode != 0
    assert "needs root; run: sudo" in result.stderr and "--root" in result.stderr


# ------------------------------------------------- install.sh upgrading an installed hub

def upgrade_env(tmp_path: Path) -> dict[str, str]:
    """install.sh with the real venv and pip steps, offline: the release's dependencies
    come from the test environment (PYTHONPATH), and systemctl is a stand-in that records
    each call and says the hub is running."""
    systemctl = tmp_path / "systemctl"
    systemctl.write_text(f'#!/bin/sh\necho "$*" >> {tmp_path / "systemctl.log"}\nexit 0\n')
    systemctl.chmod(0o755)
    ours = next(p for p in sys.path if p.endswith("site-packages"))
    return {**os.environ, "PYTHON": sys.executable, "PIP_NO_DEPS": "1", "PYTHONPATH": ours,
            "EDGE_HUB_SYSTEMCTL": str(systemctl)}


def install_with_venv(root: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(INSTALL), "--root", str(root), "--with-venv"],
                          check=False, capture_output=True, text=True, timeout=300, env=env)


def test_running_it_again_upgrades_in_place_and_restarts_only_after_check_config(
        tmp_path: Path) -> None:
    from tests.test_cli import KEY_HEX, MINIMAL_HUB

    root, env = tmp_path / "pi", upgrade_env(tmp_path)
    calls = tmp_path / "systemctl.log"
    first = install_with_venv(root, env)
    assert first.returncode == 0, first.stderr
    assert "enable edge-hub" in calls.read_text() and "restart" not in calls.read_text()
    venv, releases = root / "opt/edge-hub/venv", root / "opt/edge-hub/releases"
    installed = os.readlink(venv)
    config, data = root / "etc/edge-hub/hub.toml", root / "var/lib/edge-hub/hub.db"
    ours = MINIMAL_HUB.format(db=data, key=KEY_HEX)
    config.write_text(ours, encoding="utf-8")
    data.write_bytes(b"alerts and counters")
    calls.write_text("")

    upgrade = install_with_venv(root, env)
    assert upgrade.returncode == 0, upgrade.stderr
    assert f"the new version accepts {config}: {config}: valid." in upgrade.stdout
    assert os.readlink(venv) != installed and sorted(p.name for p in releases.iterdir()) == \
        sorted([Path(installed).name, Path(os.readlink(venv)).name])  # the one before stays
    assert (venv / "bin" / "edge-hub").exists()
    assert config.read_text(encoding="utf-8") == ours
    assert data.read_bytes() == b"alerts and counters"
    assert "restart edge-hub" in calls.read_text()

    upgraded = os.readlink(venv)
    config.write_text(config.read_text(encoding="utf-8").replace('id = "hub-9"', 'id = "hub 9"'),
                      encoding="utf-8")  # a hub.toml the new version refuses
    calls.write_text("")
    refused = install_with_venv(root, env)
    assert refused.returncode != 0
    assert f"the new version does not accept {config}, so the hub keeps the version it" \
        in refused.stderr and "hub.id" in refused.stderr
    assert os.readlink(venv) == upgraded and len(list(releases.iterdir())) == 2
    assert calls.read_text() == ""  # not restarted, not even reloaded
    assert data.read_bytes() == b"alerts and counters"


def test_an_upgrade_from_a_plain_venv_moves_to_releases(tmp_path: Path) -> None:
    """Hubs installed before releases have a plain venv directory: it is replaced."""
    root, env = tmp_path / "pi", upgrade_env(tmp_path)
    (root / "opt/edge-hub/venv/bin").mkdir(parents=True)
    result = install_with_venv(root, env)
    assert result.returncode == 0, result.stderr
    assert (root / "opt/edge-hub/venv").is_symlink()
    removed = install("--uninstall", "--root", str(root))
    assert removed.returncode == 0 and not (root / "opt/edge-hub").exists()
