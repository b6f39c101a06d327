"""Two server processes on one PostgreSQL, as a community runs them for load and for a
spare: an alert stored by one appears at once on the consoles of the other, and what a
worker does on one is seen on the other."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from cloud_sync.uplink.local_broker import free_port, wait_for_port
from edge.tools.cli import main
from tests.mqtt_broker import Broker
from tests.test_receiver_helpers import COMMUNITY, alert_event, batch, postgres_schema

ROOT = Path(__file__).resolve().parents[1]


def made(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The secret an `edge-hub server add-…` command prints on a line of its own."""
    assert main(argv) == 0
    out = capsys.readouterr().out
    return next(line.strip() for line in out.splitlines()
                if re.fullmatch(r"[A-Za-z0-9_-]{16,}", line.strip()))


@pytest.fixture
def two_servers(broker: Broker, capsys) -> Iterator[tuple[str, str, tuple[str, str], str]]:
    with postgres_schema() as db:
        hub = made(["server", "add-hub", "hub-3", "--community", COMMUNITY, "--db", db], capsys)
        password = made(["server", "add-user", "wang", "--community", COMMUNITY, "--name", "王主任",
                         "--db", db], capsys)
        ports = [free_port(), free_port()]
        processes = [subprocess.Popen(
            [sys.executable, "-m", "edge.tools.cli", "server", "--broker", broker.url, "--db", db,
             "--http", f"127.0.0.1:{port}"], cwd=ROOT, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL) for port in ports]
        try:
            for port in ports:
                wait_for_port(port, timeout=30)
            yield (f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}",
                   (f"{COMMUNITY}/hub-3", hub), password)
        finally:
            for process in processes:
                process.terminate()
                process.wait(30)


def console(base: str, password: str) -> requests.Session:
    session = requests.Session()
    answer = session.post(f"{base}/login", data={"username": "wang", "password": password},
                          timeout=5)
    assert answer.status_code == 200 and "edge_session" in session.cookies
    return session


def test_an_alert_stored_by_one_process_is_live_on_the_others_console(two_servers) -> None:
    first, second, hub, password = two_servers
    desk = console(second, password)
    assert desk.get(f"{second}/api/board", timeout=5).json() == []
    changes: list[float] = []
    listener = requests.Session()  # a connection of its own, as a browser's EventSource
    listener.cookies.update(desk.cookies)
    stream = listener.get(f"{second}/api/stream", stream=True, timeout=30)

    def listen() -> None:
        try:
            for line in stream.iter_lines():
                if line == b"data: changed":
                    changes.append(time.monotonic())
        except (requests.RequestException, OSError):
            return  # the stream closed at the end of the test

    threading.Thread(target=listen, daemon=True).start()
    deadline = time.monotonic() + 5
    while not changes and time.monotonic() < deadline:  # the stream's first word
        time.sleep(0.02)
    posted = time.monotonic()
    answer = requests.post(f"{first}/ingest", json=batch([alert_event(1, "u-7")]), auth=hub,
                           timeout=5)
    assert answer.status_code == 200
    while len(changes) < 2 and time.monotonic() < posted + 5:
        time.sleep(0.02)
    assert len(changes) >= 2 and changes[1] - posted < 1.0, "the other process's console did not " \
        "hear of the alert within a second"
    (alert,) = desk.get(f"{second}/api/board", timeout=5).json()
    assert alert["resident"]["name"] == "张桂兰"

    csrf = re.search(r'name="csrf" content="([^"]+)"', desk.get(f"{second}/", timeout=5).text)
    assert csrf is not None
    claimed = desk.post(f"{second}/api/alerts/{alert['id']}/claim", timeout=5,
                        headers={"X-CSRF-Token": csrf.group(1)})
    assert claimed.status_code == 200
    other = console(first, password)
    (seen,) = other.get(f"{first}/api/board", timeout=5).json()
    assert seen["claimed_by"] == "王主任"


def test_postgresql_tells_every_listener_of_a_change_without_polling() -> None:
    from cloud_sync.server.changes import ListenedChanges
    from cloud_sync.server.store import open_store
    from cloud_sync.server.wire import parse_batch

    with postgres_schema() as db:
        store = open_store(db)  # makes the tables and the trigger
        changes = ListenedChanges(db)
        changes.start()
        try:
            before = changes.version(COMMUNITY)
            time.sleep(0.3)  # listening
            written = time.monotonic()
            store.store_batch(parse_batch(json.dumps(batch([alert_event(1, "u-1")])).encode()),
                              via="http", now=time.time())
            while changes.version(COMMUNITY) == before and time.monotonic() < written + 5:
                time.sleep(0.005)
            assert changes.version(COMMUNITY) != before
            assert time.monotonic() - written < 0.5
            assert changes.version("heping") == 0  # another community is not disturbed
        finally:
            changes.stop()
            store.close()
