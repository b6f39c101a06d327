"""SystemdNotifier against a real datagram socket standing in for systemd."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.supervision.systemd_notify import SystemdNotifier


class FakeSystemd:
    """The receiving end of NOTIFY_SOCKET: a bound AF_UNIX datagram socket."""

    def __init__(self, address: str | bytes) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(2)

    def received(self) -> str:
        return self.sock.recv(4096).decode()

    def nothing_more(self) -> bool:
        self.sock.settimeout(0.05)
        try:
            self.sock.recv(4096)
        except TimeoutError:
            return True
        return False


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[tuple[FakeSystemd, dict[str, str]]]:
    path = tmp_path / "notify"
    fake = FakeSystemd(str(path))
    yield fake, {"NOTIFY_SOCKET": str(path)}
    fake.sock.close()


def test_ready_status_watchdog_and_stopping_arrive_as_systemd_reads_them(systemd) -> None:
    fake, environ = systemd
    notifier = SystemdNotifier(environ)

    notifier.ready("scanning on hci0, modem ready")
    notifier.status("uplink down: texting tier 1")
    notifier.watchdog()
    notifier.stopping()

    assert notifier.enabled
    assert fake.received() == "READY=1\nSTATUS=scanning on hci0, modem ready"
    assert fake.received() == "STATUS=uplink down: texting tier 1"
    assert fake.received() == "WATCHDOG=1"
    assert fake.received() == "STOPPING=1"
    assert fake.nothing_more()
    notifier.close()


def test_ready_without_status_is_just_ready(systemd) -> None:
    fake, environ = systemd
    SystemdNotifier(environ).ready()
    assert fake.received() == "READY=1"


def test_a_newline_in_a_status_cannot_forge_another_field(systemd) -> None:
    fake, environ = systemd
    SystemdNotifier(environ).status("modem says\nREADY=1")
    assert fake.received() == "STATUS=modem says READY=1"


def test_an_abstract_socket_is_reached_through_its_at_sign_name() -> None:
    name = f"edge-hub-test-{uuid.uuid4().hex}"
    fake = FakeSystemd(b"\0" + name.encode())
    try:
        SystemdNotifier({"NOTIFY_SOCKET": f"@{name}"}).watchdog()
        assert fake.received() == "WATCHDOG=1"
    finally:
        fake.sock.close()


def test_without_systemd_every_call_is_a_quiet_no_op(caplog) -> None:
    notifier = SystemdNotifier({})
    with caplog.at_level(logging.DEBUG):
        notifier.ready("up")
        notifier.status("x")
        notifier.watchdog()
        notifier.stopping()
        notifier.close()
    assert not notifier.enabled
    assert notifier.watchdog_interval_s is None
    assert caplog.records == []


def test_the_process_environment_is_the_default(monkeypatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not SystemdNotifier().enabled


def test_a_vanished_socket_is_logged_once_and_never_raises(tmp_path: Path, caplog) -> None:
    notifier = SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            notifier.ready()
            notifier.watchdog()
    assert len(caplog.records) == 1
    assert "carrying on without it" in caplog.records[0].getMessage()


def test_watchdog_interval_is_half_of_watchdog_usec(systemd) -> None:
    _, environ = systemd
    notifier = SystemdNotifier({**environ, "WATCHDOG_USEC": "60000000"})
    assert notifier.watchdog_interval_s == 30.0


def test_watchdog_meant_for_this_process_counts(systemd) -> None:
    _, environ = systemd
    mine = {**environ, "WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid())}
    assert SystemdNotifier(mine).watchdog_interval_s == 30.0


@pytest.mark.parametrize("extra", [
    {"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "1"},      # the watchdog is another process's
    {"WATCHDOG_USEC": "0"},
    {"WATCHDOG_USEC": "sixty"},
    {"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "x"},
    {},
])
def test_no_watchdog_interval_when_the_watchdog_is_not_ours(systemd, extra) -> None:
    _, environ = systemd
    assert SystemdNotifier({**environ, **extra}).watchdog_interval_s is None


def test_a_watchdog_without_a_socket_has_no_interval() -> None:
    assert SystemdNotifier({"WATCHDOG_USEC": "60000000"}).watchdog_interval_s is None


def test_an_injected_pid_decides_whose_watchdog_it_is(systemd) -> None:
    _, environ = systemd
    env = {**environ, "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "4242"}
    assert SystemdNotifier(env, pid=4242).watchdog_interval_s == 1.0


@pytest.mark.parametrize("value", ["", "@", "relative/path", "vsock:2:1234"])
def test_a_notify_socket_we_cannot_use_means_disabled(value) -> None:
    assert not SystemdNotifier({"NOTIFY_SOCKET": value}).enabled


def test_log_lines_carry_a_priority_only_on_the_journals_own_stream(tmp_path) -> None:
    """The demo and a terminal keep their time stamps; the journal gets `<N>` and no time."""
    import logging
    import os

    from edge.supervision.journal_log import (
        JournalFormatter,
        is_journal,
        syslog_priority,
    )

    with (tmp_path / "journal").open("w") as journal, (tmp_path / "console").open("w") as other:
        stat = os.fstat(journal.fileno())
        environ = {"JOURNAL_STREAM": f"{stat.st_dev}:{stat.st_ino}"}
        assert is_journal(journal, environ)
        assert not is_journal(other, environ) and not is_journal(journal, {})
    assert [syslog_priority(level) for level in (50, 40, 30, 20, 10)] == [2, 3, 4, 6, 7]
    record = logging.LogRecord("edge", logging.WARNING, __file__, 1, "two\nlines", None, None)
    assert JournalFormatter("%(message)s").format(record) == "<4>two\n<4>lines"
