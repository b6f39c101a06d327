"""Helpers for the receiver tests: realistic hub payloads, a paho client playing a hub, stores.

No tests live here; the receiver test modules import from it.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

ROOT = "eldercare/v1/"
COMMUNITY = "xingfuli"
PG_BASE = "postgresql://postgres@127.0.0.1:5432/test"
WATCH = "A4:C1:38:3A:01:01"
ZHANG = {"id": "r-101", "name": "张桂兰", "room": "101"}
T0 = 1_795_247_700.0
EPOCH = "5b0e0c1d9f3a4e21"


def event(seq: int, type_: str = "watch.battery", **fields: Any) -> dict[str, Any]:
    """An event as a hub sends it; override any field."""
    body: dict[str, Any] = {"event_id": uuid.uuid4().hex, "seq": seq, "type": type_,
                            "at": "2026-11-21T08:15:00.000Z", "at_epoch": T0 + seq,
                            "clock_synced": True, "hub": "hub-3"}
    if type_ == "watch.battery":
        body.update(watch=WATCH, resident=ZHANG, battery=87)
    body.update(fields)
    return body


def alert_event(seq: int, uid: str, *, ref: str = "A0K3", counter: int = 4711,
                type_: str = "alert.raised", watch: str = WATCH, **fields: Any) -> dict[str, Any]:
    """An alert event heard from `watch` with BTHome press counter `counter`."""
    state = type_.removeprefix("alert.")
    alert = {"uid": uid, "ref": ref, "state": state if state in ("raised", "active") else "active",
             "raised_at": T0, "press_count": 1, "press_counter": counter}
    location = {"source": "gps", "address": "幸福里路 18 号 3号楼 101", "room": "101",
                "lat": 30.27415, "lon": 120.15515, "accuracy_m": 6, "fixed_at": T0 - 20,
                "age_s": 20.0, "stale": False}
    defaults = {"alert": alert, "resident": ZHANG, "watch": watch, "location": location, "by": "",
                "reason": "press"}
    return event(seq, type_, **{**defaults, **fields})


def batch(events: list[dict[str, Any]], *, hub: str = "hub-3", community: str = COMMUNITY,
          floor: int = 0, epoch: str = EPOCH) -> dict[str, Any]:
    return {"v": 1, "hub": hub, "community": community, "epoch": epoch, "floor": floor,
            "events": events}


def status(state: str = "online", *, hub: str = "hub-3", community: str = COMMUNITY,
           queue_depth: int = 12, roster_version: str = "") -> dict[str, Any]:
    return {"v": 1, "hub": hub, "community": community, "state": state, "version": "0.1.0",
            "queue_depth": queue_depth, "dropped": 0, "roster_version": roster_version,
            "at": "2026-11-21T08:15:00.000Z", "at_epoch": T0}


def encode(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until condition() is true, or fail the test."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s")
        time.sleep(0.01)


class HubClient:
    """A plain paho client playing one hub: publishes batches and statuses, records commands."""

    def __init__(self, port: int, hub: str = "hub-3", community: str = COMMUNITY) -> None:
        self.hub, self.community = hub, community
        self.base = f"{ROOT}{community}/{hub}/"
        self.commands: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{hub}-{uuid.uuid4().hex[:6]}",
                                  protocol=mqtt.MQTTv5)
        self.client.reconnect_delay_set(min_delay=1, max_delay=1)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(self.base + "cmd", qos=1)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self._ready.set()
        self.client.on_disconnect = lambda c, u, f, rc, p: self._ready.clear()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=30, clean_start=True)
        self.client.loop_start()
        assert self._ready.wait(5), "the hub client could not subscribe"

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.commands.append(json.loads(message.payload))

    def wait_ready(self, timeout: float = 10.0) -> bool:
        return self._ready.wait(timeout)

    def send(self, payload: dict[str, Any] | bytes, kind: str = "events") -> None:
        data = payload if isinstance(payload, bytes) else encode(payload)
        self.client.publish(self.base + kind, data, qos=1).wait_for_publish(5)

    def send_status(self, state: str = "online", queue_depth: int = 12,
                    roster_version: str = "") -> None:
        self.send(status(state, hub=self.hub, community=self.community, queue_depth=queue_depth,
                         roster_version=roster_version), "status")

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        with self._lock:
            return [c for c in self.commands if c.get("type") == type_]

    def wait_for(self, type_: str, count: int = 1, timeout: float = 5.0) -> list[dict[str, Any]]:
        until(lambda: len(self.of_type(type_)) >= count, timeout)
        return self.of_type(type_)

    def last_ack(self, epoch: str = EPOCH) -> int:
        """The highest seq acknowledged for `epoch` (-1 before any), as the hub keeps it."""
        acks = [a for a in self.of_type("events_ack") if a.get("epoch") == epoch]
        return max((a["seq"] for a in acks), default=-1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextmanager
def hubs(port: int, *names: str) -> Iterator[list[HubClient]]:
    clients = [HubClient(port, name) for name in names]
    try:
        yield clients
    finally:
        for client in clients:
            client.close()


@contextmanager
def database_url(kind: str, folder: Path) -> Iterator[str]:
    """A fresh receiver database URL: a SQLite file in `folder`, or a PostgreSQL schema."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'receiver.db'}"
    else:
        with postgres_schema() as url:
            yield url


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A database URL whose tables land in a fresh schema, dropped afterwards; skip without PG."""
    import pytest

    psycopg = pytest.importorskip("psycopg")
    schema = f"rx_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_BASE, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        pytest.skip(f"PostgreSQL at {PG_BASE} is unreachable ({error}); start it to run this test")
    with admin:
        admin.execute(f"CREATE SCHEMA {schema}")
        try:
            yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
        finally:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")
