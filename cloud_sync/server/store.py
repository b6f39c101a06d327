"""Where the receiver keeps what hubs sent: events once each, hubs, alerts, watches, commands.

One interface, two databases (SQLite for a community, PostgreSQL shared by many receivers).
Every write is one transaction that first locks the hub's row, so receivers sharing the
database serialise per hub and the contiguous acknowledgement is computed correctly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from cloud_sync.server.alerts import (
    AlertFolder,
    AlertNotice,
    HubAlert,
    apply_watches,
    hub_copies,
)
from cloud_sync.server.db import Db, Tx, connect, retrying
from cloud_sync.server.duty import add_step
from cloud_sync.server.errors import NotAllowed, ReceiverError
from cloud_sync.server.logic import (
    ack_start,
    advance_ack,
    alert_facts,
    alert_number,
    event_time,
    merged_state,
    public_alert_id,
    resident_label,
    watch_facts,
    watch_updates,
)
from cloud_sync.server.schema import create_tables
from cloud_sync.server.views import StoreViews
from cloud_sync.server.wire import Batch, Event, Status

_WALK_FIRST = 8
_WALK_MAX = 4096
_ID_CHUNK = 500
_COMMAND_PAGE = 100
_EVENT_COLUMNS = ("event_id", "community", "hub", "epoch", "seq", "type", "at_epoch", "body",
                  "received_at")


@dataclass(frozen=True, slots=True)
class StoredBatch:
    """What storing a batch changed: counts, the acknowledgement of its epoch, commands owed.

    `replaced_epoch` is the hub's epoch before this batch switched it to a new one (the hub
    was set up again); `late` marks a batch from an epoch the hub has already left.
    """

    new: int
    duplicates: int
    epoch: str
    previous_ack: int
    ack_seq: int
    notices: tuple[AlertNotice, ...] = ()
    roster_version: str | None = None
    replaced_epoch: str | None = None
    late: bool = False


@dataclass(frozen=True, slots=True)
class HubRow:
    """A hub's row as a batch or status finds it (locked for the transaction)."""

    epoch: str
    acked: int
    floor: int
    roster_version: str | None
    state: str | None


@dataclass(frozen=True, slots=True)
class EpochAck:
    """The acknowledgement a batch earns in its own epoch."""

    previous: int
    ack: int
    replaced: str | None = None
    late: bool = False


@dataclass(frozen=True, slots=True)
class CommandPage:
    """Commands queued for a hub on HTTP after its cursor (each with its `seq`), and the next cursor."""

    commands: tuple[dict[str, Any], ...]
    next: int


@dataclass(frozen=True, slots=True)
class HubChange:
    """A hub's state before a status arrived, the roster version it was last sent, and its
    community's roster version now (None without one)."""

    previous_state: str | None
    roster_version: str | None
    roster_now: str | None = None


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """A community alert a worker took, and every hub copy that must be told."""

    alert_id: str
    resident: str
    by: str
    targets: tuple[HubAlert, ...]


class ReceiverStore(Protocol):
    """What the receiver needs from its database."""

    def store_batch(self, batch: Batch, *, via: str, now: float) -> StoredBatch: ...

    def record_status(self, status: Status, *, now: float) -> HubChange: ...

    def note_roster_sent(self, community: str, hub: str, version: str) -> None: ...

    def acknowledge(self, alert: str, by: str, *, now: float) -> Acknowledgement: ...

    def copies(self, alert: str) -> Acknowledgement: ...

    def record_claim(self, alert: str, by: str, *, now: float, until: float) -> Acknowledgement: ...

    def close_alert(self, alert: str, by: str, outcome: str, note: str, *, now: float) -> str: ...

    def timeline(self, alert: str) -> list[dict[str, Any]]: ...

    def queue_command(self, community: str, hub: str, command: dict[str, Any], *, now: float) -> None: ...

    def take_commands(self, community: str, hub: str) -> list[dict[str, Any]]: ...

    def commands_after(self, community: str, hub: str, after: int) -> CommandPage: ...

    def hubs(self, *, now: float, community: str | None = None) -> list[dict[str, Any]]: ...

    def alerts(self, *, open_only: bool = False, limit: int = 500, community: str | None = None,
               board: bool = False) -> list[dict[str, Any]]: ...

    def watches(self, *, community: str | None = None) -> list[dict[str, Any]]: ...

    def alerts_version(self, community: str) -> tuple[int, float]: ...

    def alert_state(self, alert: str) -> str | None: ...

    def report(self, community: str) -> list[dict[str, Any]]: ...

    def open_faults(self, community: str) -> tuple[dict[str, list[str]], dict[str, list[str]]]: ...

    def away_spells(self, community: str, now: float) -> dict[str, float]: ...

    def alerts_csv(self, community: str) -> str: ...

    def alert_community(self, alert: str) -> str | None: ...

    def event_seqs(self, community: str, hub: str, epoch: str | None = None) -> list[int]: ...

    def close(self) -> None: ...


class SqlReceiverStore(StoreViews):
    """The receiver store over either database; SQL is shared, `?` placeholders throughout."""

    def __init__(self, db: Db) -> None:
        super().__init__(db)
        create_tables(db)

    def close(self) -> None:
        self.db.close()

    def store_batch(self, batch: Batch, *, via: str, now: float) -> StoredBatch:
        """Store new events once, advance the hub's ack, fold alerts and watches: one commit."""
        return retrying(lambda: self._store_batch(batch, via, now))

    def _store_batch(self, batch: Batch, via: str, now: float) -> StoredBatch:
        with self.db.transaction(write=True) as tx:
            row = self._lock_hub(tx, batch.community, batch.hub)
            fresh = _insert_events(tx, batch, now)
            acked = _acknowledge(tx, batch, row, now)
            tx.run("UPDATE hubs SET last_seen = ?, via = ? WHERE community = ? AND hub = ?",
                   [now, via, batch.community, batch.hub])
            notices = self._fold(tx, batch, fresh, via, now)
        return StoredBatch(len(fresh), len(batch.events) - len(fresh), batch.epoch, acked.previous,
                           acked.ack, tuple(notices), row.roster_version, acked.replaced, acked.late)

    def _lock_hub(self, tx: Tx, community: str, hub: str) -> HubRow:
        tx.run("INSERT INTO hubs (community, hub) VALUES (?, ?) ON CONFLICT DO NOTHING", [community, hub])
        (epoch, acked, floor, roster, state), = tx.rows(
            "SELECT epoch, acked_seq, floor, roster_version, state FROM hubs WHERE community = ? "
            "AND hub = ?" + self.db.for_update, [community, hub])
        return HubRow(str(epoch), int(acked), int(floor), roster, state)

    def _fold(self, tx: Tx, batch: Batch, fresh: Sequence[Event], via: str,
              now: float) -> list[AlertNotice]:
        folder = AlertFolder(tx, self.db.for_update, now)
        notices: list[AlertNotice] = []
        target_of = {"community": batch.community, "hub": batch.hub, "via": via}
        for event in fresh:
            facts = alert_facts(event)
            if facts is not None:
                target = HubAlert(uid=facts.uid, ref=facts.ref, **target_of)
                notices.extend(folder.apply(target, facts, event_time(event, now)))
            elif event.type in ("alert.texted", "alert.called"):  # the timeline grew:
                # consoles look again
                folder.touch(batch.community, batch.hub, event.fields.get("alert"))
        watched = ((seen, event_time(event, now)) for event in fresh
                   if (seen := watch_facts(event)) is not None)
        apply_watches(tx, batch.community, batch.hub, watch_updates(watched))
        return notices

    def record_status(self, status: Status, *, now: float) -> HubChange:
        """Keep the hub's last status; return what it was before."""
        with self.db.transaction(write=True) as tx:
            row = self._lock_hub(tx, status.community, status.hub)
            tx.run("UPDATE hubs SET state = ?, status = ?, queue_depth = ?, last_seen = ?, via = 'mqtt' "
                   "WHERE community = ? AND hub = ?",
                   [status.state, status.body, status.queue_depth, now, status.community, status.hub])
            current = tx.rows("SELECT version FROM rosters WHERE community = ?", [status.community])
        return HubChange(row.state, row.roster_version, str(current[0][0]) if current else None)

    def note_roster_sent(self, community: str, hub: str, version: str) -> None:
        with self.db.transaction(write=True) as tx:
            tx.run("UPDATE hubs SET roster_version = ? WHERE community = ? AND hub = ?",
                   [version, community, hub])

    def acknowledge(self, alert: str, by: str, *, now: float) -> Acknowledgement:
        """Mark a community alert taken by `by`; alert is its id (C12) or a hub's uid or ref."""
        with self.db.transaction(write=True) as tx:
            number = self._resolve(tx, alert)
            (state, name, rid, taken_by), = tx.rows(
                "SELECT state, resident_name, resident_id, acknowledged_by FROM alerts "
                f"WHERE id = ?{self.db.for_update}", [number])
            tx.run("UPDATE alerts SET state = ?, acknowledged_by = ?, acknowledged_at = "
                   "COALESCE(acknowledged_at, ?), updated_at = ? WHERE id = ?",
                   [merged_state(state, "acknowledged"), taken_by or by, now, now, number])
            targets = hub_copies(tx, number)
        return Acknowledgement(public_alert_id(number), resident_label(name, rid), by, tuple(targets))

    def record_claim(self, alert: str, by: str, *, now: float, until: float) -> Acknowledgement:
        """Note who is going to a community alert and until when the claim holds (the latest
        claim counts, and a claim that had run out is live again); its hub copies."""
        with self.db.transaction(write=True) as tx:
            number = self._resolve(tx, alert)
            tx.run("UPDATE alerts SET claimed_by = ?, claimed_at = COALESCE(claimed_at, ?), "
                   "claim_until = ?, claim_lapsed_at = NULL, lapse_told_at = NULL, "
                   "updated_at = ? WHERE id = ?", [by, now, until, now, number])
            add_step(tx, number, "claimed", now, by)
        return self.copies(alert)

    def close_alert(self, alert: str, by: str, outcome: str, note: str, *, now: float) -> str:
        """Record how a community alert ended and who closed it; returns its id (C12)."""
        with self.db.transaction(write=True) as tx:
            number = self._resolve(tx, alert)
            closed = tx.rows("SELECT closed_by, outcome FROM alerts WHERE id = ? AND closed_at "
                             "IS NOT NULL", [number])
            if closed:
                raise NotAllowed(f"{public_alert_id(number)} was closed already by "
                                 f"{closed[0][0]} ({closed[0][1]}); its record stays as it is")
            tx.run("UPDATE alerts SET closed_by = ?, closed_at = ?, outcome = ?, note = ?, "
                   "updated_at = ? WHERE id = ?", [by, now, outcome, note, now, number])
        return public_alert_id(number)

    def copies(self, alert: str) -> Acknowledgement:
        """A community alert and every hub copy of it, unchanged."""
        with self.db.transaction(write=False) as tx:
            number = self._resolve(tx, alert)
            (name, rid), = tx.rows("SELECT resident_name, resident_id FROM alerts WHERE id = ?",
                                   [number])
            targets = hub_copies(tx, number)
        return Acknowledgement(public_alert_id(number), resident_label(name, rid), "",
                               tuple(targets))

    def _resolve(self, tx: Tx, alert: str) -> int:
        number = alert_number(alert)
        if number is not None and tx.rows("SELECT id FROM alerts WHERE id = ?", [number]):
            return number
        for column, value in (("uid", alert.strip()), ("ref", alert.strip().upper())):
            rows = tx.rows(f"SELECT DISTINCT a.alert_id, b.state FROM alert_hubs a JOIN alerts b "
                           f"ON b.id = a.alert_id WHERE a.{column} = ?", [value])
            open_rows = [row for row in rows if row[1] in ("raised", "active")]
            candidates = open_rows if len(rows) > 1 and open_rows else rows
            if len(candidates) == 1:
                return int(candidates[0][0])
            if candidates:
                names = ", ".join(public_alert_id(int(row[0])) for row in candidates)
                raise ReceiverError(f"{alert} names {len(candidates)} alerts ({names}); "
                                    "give the community alert id instead")
        raise ReceiverError(f"no alert {alert!r}; expected a community alert id like C12, "
                            "or a hub's alert reference (A0K3) or uid")

    def queue_command(self, community: str, hub: str, command: dict[str, Any], *, now: float) -> None:
        """Keep a command for a hub, numbered after the last one queued for it.

        The number is taken under the hub's row lock, so a hub never sees seq n while an
        earlier seq is still uncommitted (it would skip it with its cursor).
        """
        with self.db.transaction(write=True) as tx:
            tx.run("INSERT INTO hubs (community, hub) VALUES (?, ?) ON CONFLICT DO NOTHING",
                   [community, hub])
            (seq,), = tx.rows("UPDATE hubs SET command_seq = command_seq + 1 WHERE community = ? "
                              "AND hub = ? RETURNING command_seq", [community, hub])
            tx.run("INSERT INTO commands (community, hub, body, queued_at, seq) VALUES (?, ?, ?, ?, ?)",
                   [community, hub, json.dumps(command, ensure_ascii=False), now, int(seq)])

    def take_commands(self, community: str, hub: str) -> list[dict[str, Any]]:
        """Return and forget every command queued for a hub, oldest first (to publish on MQTT)."""
        with self.db.transaction(write=True) as tx:
            rows = tx.rows("DELETE FROM commands WHERE community = ? AND hub = ? RETURNING seq, body",
                           [community, hub])
        return [json.loads(body) for _, body in sorted(rows)]

    def commands_after(self, community: str, hub: str, after: int) -> CommandPage:
        """Forget the commands the hub has applied (seq <= after); return the next ones.

        A cursor beyond the last seq queued for the hub comes from another receiver
        database (replaced or restored): it counts as 0, so nothing is deleted unseen.
        """
        with self.db.transaction(write=True) as tx:
            found = tx.rows("SELECT command_seq FROM hubs WHERE community = ? AND hub = ?",
                            [community, hub])
            if after > (int(found[0][0]) if found else 0):
                after = 0
            tx.run("DELETE FROM commands WHERE community = ? AND hub = ? AND seq <= ?",
                   [community, hub, after])
            rows = tx.rows("SELECT seq, body FROM commands WHERE community = ? AND hub = ? AND seq > ? "
                           "ORDER BY seq LIMIT ?", [community, hub, after, _COMMAND_PAGE])
        commands = tuple({**json.loads(body), "seq": int(seq)} for seq, body in rows)
        return CommandPage(commands, int(rows[-1][0]) if rows else after)


def _insert_events(tx: Tx, batch: Batch, now: float) -> list[Event]:
    """Insert the batch's events not stored yet; return them (a resent event is skipped)."""
    ids = list(dict.fromkeys(event.event_id for event in batch.events))
    seen: set[str] = set()
    legacy: list[str] = []
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = ids[start:start + _ID_CHUNK]
        marks = ", ".join("?" * len(chunk))
        for event_id, community, hub, epoch in tx.rows(
                f"SELECT event_id, community, hub, epoch FROM events WHERE event_id IN ({marks})", chunk):
            seen.add(event_id)
            if epoch == "" and (community, hub) == (batch.community, batch.hub):
                legacy.append(event_id)
    # Stored before epochs existed: the hub resends them from this epoch's outbox.
    tx.run_many("UPDATE events SET epoch = ? WHERE event_id = ?", [(batch.epoch, i) for i in legacy])
    fresh = []
    for event in batch.events:
        if event.event_id not in seen:
            seen.add(event.event_id)
            fresh.append(event)
    tx.insert_rows("events", _EVENT_COLUMNS, [
        (e.event_id, batch.community, batch.hub, batch.epoch, e.seq, e.type, e.at_epoch, e.body,
         now) for e in fresh], skip_duplicates=True)
    return fresh


def _acknowledge(tx: Tx, batch: Batch, hub: HubRow, now: float) -> EpochAck:
    """Advance the ack of the batch's epoch: the hub's current one, or a new one it now
    switches to (acked from the batch's floor), or one it has left (walked from the
    batch's floor; the hub's row is left alone)."""
    if batch.epoch == hub.epoch:
        previous, floor, replaced = hub.acked, max(hub.floor, batch.floor), None
    elif tx.run("INSERT INTO hub_epochs (community, hub, epoch, first_seen) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING", [batch.community, batch.hub, batch.epoch, now]):
        previous, floor, replaced = 0, batch.floor, hub.epoch
    else:
        return EpochAck(0, _walk_ack(tx, batch, ack_start(0, batch.floor)), late=True)
    ack = max(previous, _walk_ack(tx, batch, ack_start(previous, floor)))
    tx.run("UPDATE hubs SET epoch = ?, acked_seq = ?, floor = ? WHERE community = ? AND hub = ?",
           [batch.epoch, ack, floor, batch.community, batch.hub])
    return EpochAck(previous, ack, replaced)


def _walk_ack(tx: Tx, batch: Batch, start: int) -> int:
    """Highest contiguous seq of the batch's epoch from `start`, reading only seqs above it.

    Reads a few rows first and more each round, so a hub stuck at a gap costs a handful
    of index rows per batch however long its history.
    """
    current, limit = start, _WALK_FIRST
    while True:
        seqs = [int(row[0]) for row in tx.rows(
            "SELECT seq FROM events WHERE community = ? AND hub = ? AND epoch = ? AND seq > ? "
            "ORDER BY seq LIMIT ?", [batch.community, batch.hub, batch.epoch, current, limit])]
        current, gap = advance_ack(current, seqs)
        if gap or len(seqs) < limit:
            return current
        limit = min(limit * 4, _WALK_MAX)


def open_store(url: str | None = None) -> SqlReceiverStore:
    """Open the store a --db value names (default sqlite:///receiver.db)."""
    return SqlReceiverStore(connect(url))
