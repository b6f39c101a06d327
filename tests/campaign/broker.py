"""Broker restarts while the hub drains a backlog of at least 10,000 events: the
reference receiver ends up with every event, once, and the hub prunes only what it has.

The production composition (edge.app.build_hub) on the machine's clock, a Mosquitto of
its own that the campaign stops and starts, and the reference receiver in this process.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import replace
from pathlib import Path

from cloud_sync.server.receiver import Receiver
from cloud_sync.uplink.local_broker import LocalMosquitto
from edge.app import HubApp, build_hub
from edge.config.loader import parse_config
from edge.config.uplink import UplinkSection
from edge.storage.store import TELEMETRY_PRIORITY
from tests.campaign import Result

HUB, COMMUNITY = "hub-c", "campaign"
DRAINED_WITHIN_S = 180.0


class _Errors(logging.Handler):
    """Counts what escaped into the log as an exception (a traceback) from the hub."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.name.startswith(("edge", "cloud_sync")):
            self.count += 1


def run(folder: Path, restarts: int, events: int = 10_000, seed: int = 5) -> Result:
    result = Result(f"broker restarts during {events:,}-event drains")
    broker = LocalMosquitto(folder / "broker").start() if _mkdir(folder / "broker") else None
    assert broker is not None
    receiver = Receiver(broker.url, f"sqlite:///{folder}/receiver.db", reconnect_max_s=1)
    receiver.start()
    errors = _Errors()
    logging.getLogger().addHandler(errors)
    try:
        app = build_hub(_config(broker.url), database=folder / "hub.db")
        try:
            made, during = asyncio.run(_drive(app, broker, restarts, events, random.Random(seed)))
            sync = app.uplink.sync if app.uplink else None
            published = sync.published if sync else 0
        finally:
            app.close()
        stored = set(receiver.store.event_seqs(COMMUNITY, HUB))
    finally:
        logging.getLogger().removeHandler(errors)
        receiver.stop()
        broker.stop()
    result.runs = during
    result.lost = len(set(range(1, made + 1)) - stored)
    result.duplicates = max(0, published - made)
    result.crashes = errors.count
    if during < restarts:
        result.notes.append(f"only {during} of {restarts} restarts fell inside a drain")
    result.notes.append(f"{made:,} events, {len(stored):,} stored by the receiver, "
                        f"{published:,} published")
    return result


def _mkdir(path: Path) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    return True


def _config(broker_url: str):  # type: ignore[no-untyped-def]
    config = parse_config({"hub": {"id": HUB, "community": COMMUNITY, "building": "b",
                                   "address": "a"}}, source="campaign", base_dir=Path("."))
    uplink = UplinkSection(broker=broker_url, reconnect_max_s=1, resend_after_s=5,
                           batch_size=200, window=20)
    return replace(config, uplink=uplink)


async def _drive(app: HubApp, broker: LocalMosquitto, restarts: int, events: int,
                 chance: random.Random) -> tuple[int, int]:
    """Restart the broker `restarts` times, each while a backlog is draining; returns (how
    many events were made, how many restarts fell inside a drain)."""
    assert app.uplink is not None
    sync, loop = app.uplink.sync, asyncio.get_running_loop()
    stop = asyncio.Event()
    hub = asyncio.create_task(app.run(stop))
    made = during = 0
    try:
        for _ in range(restarts * 4):
            if during >= restarts:
                break
            if app.store.outbox_depth() < events // 2:
                made = _backlog(app, made, events)
            await _until(lambda: sync.connected, 30)
            await asyncio.sleep(chance.uniform(0.0, 0.4))
            if app.store.outbox_depth() == 0:
                continue  # drained before the broker could be stopped: fill again
            during += 1
            await loop.run_in_executor(None, broker.restart)
        await _until(lambda: sync.connected and app.store.outbox_depth() == 0,
                     DRAINED_WITHIN_S)
    finally:
        stop.set()
        await hub
    return made, during


def _backlog(app: HubApp, made: int, count: int) -> int:
    """`count` more telemetry events, as heartbeats of many watches would make."""
    with app.store.transaction(durable=False):
        for n in range(made, made + count):
            body = {"hub": HUB, "watch": f"A4:C1:38:{n >> 16 & 0xFF:02X}:{n >> 8 & 0xFF:02X}:"
                    f"{n & 0xFF:02X}", "resident": f"r{n % 300}", "battery": n % 100}
            app.store.append_event("watch.battery", time.time(), body, TELEMETRY_PRIORITY)
    return made + count


async def _until(condition, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not reached in {timeout:.0f} s")
        await asyncio.sleep(0.02)
