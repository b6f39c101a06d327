"""Telemetry committed in groups: what watches report besides alerts (heartbeats, battery
levels, position fixes) is gathered in memory and written in one transaction at the end
of the event loop's turn, or once 50 ms have passed, whichever comes first. A frame that
comes 50 ms or more after the one before it (most frames of a quiet hub) is written at
once, alone, in the turn it woke the loop for.

Why this keeps alarms safe:
- an alert never waits for a group: every other write (an SOS, a cancel, a counter
  restart, any transition) writes the group first, in a commit of its own, then commits
  alone with synchronous=FULL;
- a crash loses at most the group not yet written (telemetry of the last turn, <= 50 ms);
  the watch's counters of that group are lost with it, so at worst those telemetry frames
  would be accepted again, never a press (a button frame commits at once);
- the outbox's sequence numbers are given out inside the transaction that writes the
  rows (Store.next_seq), so a lost group leaves neither a gap nor a number used twice;
- on a full or read-only disk the group's events are dropped and counted like any
  telemetry event (edge.storage.disk), and the watches' state is still written.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from typing import Any, Protocol

from sqlite_utils import Database

from edge.clock import utc_text
from edge.domain import Fix

MAX_WAIT_S = 0.05

_COUNTERS = (
    "INSERT INTO watch_counters (mac, last_counter, accepted_at) VALUES (?, ?, ?) "
    "ON CONFLICT(mac) DO UPDATE SET last_counter = excluded.last_counter, "
    "accepted_at = excluded.accepted_at")
_HISTORY = ("INSERT INTO watch_frames (mac, counter, mic, press, at) VALUES (?, ?, ?, 0, ?) "
            "ON CONFLICT DO NOTHING")
# battery stays as it was when the group has none for the watch (?3 NULL)
_STATE = ("UPDATE watches SET last_heard_at = ?1, rssi = ?2, battery = coalesce(?3, battery), "
          "battery_at = iif(?3 IS NULL, battery_at, ?4) WHERE mac = ?5")
_FIXES = (
    "INSERT INTO fixes (watch_mac, lat, lon, accuracy_m, fixed_at, received_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(watch_mac) DO UPDATE SET lat = excluded.lat, "
    "lon = excluded.lon, accuracy_m = excluded.accuracy_m, fixed_at = excluded.fixed_at, "
    "received_at = excluded.received_at")
_ACTIVITY = "INSERT INTO activity (resident_id, sensor_mac, kind, at) VALUES (?, ?, ?, ?)"
_EVENTS = ("INSERT INTO outbox (seq, event_id, type, at, priority, body, wire) "
           "VALUES (?, ?, ?, ?, ?, ?, ?)")


class GroupStore(Protocol):
    """What a group needs of the store (edge.storage.store.Store)."""

    db: Database

    def next_seq(self) -> int: ...


class TelemetryGroup:
    """Telemetry of one loop turn (or <= 50 ms), waiting to be written in one transaction.

    `flush` is the store's: it runs `write_into` in a transaction of its own and says what
    was lost when the disk would not take it.
    """

    def __init__(self, flush: Callable[[], object], *, max_wait_s: float = MAX_WAIT_S,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._flush, self.max_wait_s, self._monotonic = flush, max_wait_s, monotonic
        self._clear()
        self._started: float | None = None
        self._previous = float("-inf")  # when the last frame came in (monotonic)

    def _clear(self) -> None:
        self.state: dict[str, list[Any]] = {}  # mac: [counter, at, rssi, battery, battery_at]
        self.history: list[tuple[str, int, int, float]] = []
        self.fixes: dict[str, Fix] = {}
        self.events: list[tuple[str, float, dict[str, Any], bool]] = []
        self.activity: list[tuple[str, str, str, float]] = []  # resident, sensor, kind, at

    @property
    def pending(self) -> bool:
        return self._started is not None

    # -- what one frame adds ----------------------------------------------------------

    def heard(self, mac: str, at: float, rssi: int | None, counter: int | None,
              mic: int | None) -> None:
        """The watch was heard (with this counter and MIC, for an encrypted frame)."""
        row = self.state.get(mac)
        if row is None:
            self.state[mac] = [counter, at, rssi, None, None]
        else:
            row[1], row[2] = at, rssi
            if counter is not None:
                row[0] = counter
        if counter is not None and mic is not None:
            self.history.append((mac, counter, mic, at))

    def battery(self, mac: str, percent: int, at: float) -> None:
        """The watch's battery level; call after `heard` for the same frame."""
        row = self.state[mac]
        row[3], row[4] = percent, at

    def seen(self, resident_id: str, sensor_mac: str, kind: str, at: float) -> None:
        """An activity sensor saw the resident (kept for the welfare rules)."""
        self.activity.append((resident_id, sensor_mac, kind, at))

    def fix(self, fix: Fix) -> None:
        self.fixes[fix.watch_mac] = fix

    def event(self, type_: str, at: float, body: dict[str, Any], clock_synced: bool) -> None:
        """A telemetry event for the outbox; its id and seq are given when it is written."""
        self.events.append((type_, at, body, clock_synced))

    def added(self) -> None:
        """A frame is in: the group is written at the end of this loop turn, or now when it
        has waited `max_wait_s`. A frame `max_wait_s` or more after the one before it is
        written at once, alone: little is likely to join it, and waiting for the turn's end
        would cost the loop a turn of its own for each frame of a quiet hub. Where no loop
        runs (tools and tests), every frame is written at once."""
        now = self._monotonic()
        previous, self._previous = self._previous, now
        if self._started is None:
            self._started = now
            if now - previous >= self.max_wait_s:
                self._flush()
                return
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self._flush()
                return
            loop.call_soon(self._flush)
        elif now - self._started >= self.max_wait_s:
            self._flush()

    # -- writing ------------------------------------------------------------------------

    def take(self) -> TelemetryGroup:
        """The rows gathered so far, moved into a new group; this one starts empty."""
        taken = TelemetryGroup(self._flush)
        taken.state, taken.history, taken.fixes, taken.events, taken.activity = (
            self.state, self.history, self.fixes, self.events, self.activity)
        self._clear()
        self._started = None
        return taken

    def write_into(self, store: GroupStore, priority: int, keep_events: bool) -> int:
        """Every row of the group, its events at `priority`; call inside a transaction.
        Returns the events written (0 when `keep_events` is False: the disk is short and
        they are dropped)."""
        db = store.db
        if self.state:
            db.conn.executemany(_COUNTERS, [(mac, row[0], row[1]) for mac, row in
                                            self.state.items() if row[0] is not None])
            db.conn.executemany(_STATE, [(row[1], row[2], row[3], row[4], mac)
                                         for mac, row in self.state.items()])
        if self.history:
            db.conn.executemany(_HISTORY, self.history)
        if self.activity:
            db.conn.executemany(_ACTIVITY, self.activity)
        if self.fixes:
            db.conn.executemany(_FIXES, [(f.watch_mac, f.lat, f.lon, f.accuracy_m, f.fixed_at,
                                          f.received_at) for f in self.fixes.values()])
        if not (self.events and keep_events):
            return 0
        db.conn.executemany(_EVENTS, [outbox_row(store.next_seq(), type_, at, body, synced,
                                                 priority)
                                      for type_, at, body, synced in self.events])
        return len(self.events)


def outbox_row(seq: int, type_: str, at: float, body: dict[str, Any],
               clock_synced: bool, priority: int) -> tuple[Any, ...]:
    """One outbox row with its wire text: the body plus id, seq, type, UTC time and
    whether the clock was synchronised when it happened (see cloud_sync/README.md)."""
    event_id = f"{int.from_bytes(os.urandom(16)) & _UUID4_MASK | _UUID4_BITS:032x}"
    travelling = {**body, "event_id": event_id, "seq": seq, "type": type_,
                  "at": utc_text(at), "at_epoch": at, "clock_synced": clock_synced}
    return (seq, event_id, type_, at, priority,
            _BODY_TEXT(body), _WIRE_TEXT(travelling))


# A random UUID's hex, as uuid.uuid4().hex gives it (version 4, RFC 4122 variant), without
# building the UUID object on every event.
_UUID4_MASK = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_BITS = (0x4000 << 64) | (0x8000 << 48)
# json.dumps with these options builds an encoder for every call
_BODY_TEXT = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode
_WIRE_TEXT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
