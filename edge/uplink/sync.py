"""OutboxSync: drains the outbox to the server, alerts first, at least once.

Runs on the event loop. The uplink's callbacks arrive here through the loop. A batch
counts as delivered only when the receiver acknowledges its seqs (events_ack); only then
is it pruned. A PUBACK with a failure reason code, a disconnect, or a long silence from
the receiver makes the events eligible to be sent again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol

from cloud_sync.contract import wire
from edge import __version__
from edge.clock import Clock, utc_text
from edge.errors import CommandError
from edge.storage.store import ALERT_PRIORITY, TELEMETRY_PRIORITY, Store
from edge.uplink.outbox import Batch, Outbox

PRIORITIES = (ALERT_PRIORITY, TELEMETRY_PRIORITY)
KEEP_DELIVERED_S = 86_400.0  # delivered events stay a day for local records, then go
BURST = 5  # batches read before publishing them together
FOLD_PER_TICK = 2000  # events folded per tick while offline: far more than a building
# adds, and little enough that an SOS never waits behind it


class Publisher(Protocol):
    """What the sync needs of an uplink (cloud_sync.uplink.mqtt.PahoUplink)."""

    def publish(self, topic: str, payload: bytes, *, retain: bool = False,
                urgent: bool = False) -> int: ...


class OutboxSync:
    """Keeps about `window` batches in flight and forgets nothing until acknowledged."""

    def __init__(self, store: Store, uplink: Publisher, topics: wire.Topics, hub: str,
                 community: str, clock: Clock, *, batch_size: int = 50, window: int = 100,
                 resend_after_s: float = 60.0, heartbeat_s: float = 300.0,
                 max_events: int = 200_000, log: logging.Logger | None = None) -> None:
        self.store, self.outbox = store, Outbox(store)
        self.uplink, self.topics = uplink, topics
        self.hub, self.community, self.clock = hub, community, clock
        self.batch_size, self.window = batch_size, window
        self.resend_after_s, self.heartbeat_s = resend_after_s, heartbeat_s
        self.max_events = max_events
        self.low_water = max_events - max(1, max_events // 10)  # a full outbox drops to here
        self.connected = False
        self.acked_seq = 0
        self.community_name = ""  # how people name the community (status data)
        self.published = 0
        self.highest_sent = 0  # no acknowledgement may go above what was sent
        self._in_flight: dict[int, Batch] = {}
        self._sent_top = 0  # highest seq the broker took (PUBACK), maybe not yet stored
        self._cursor = {p: 0 for p in PRIORITIES}
        self._progress_at = clock.monotonic()
        self._status_at = -1e18
        self._paused_until = 0.0
        self._prune_at = 0.0
        self._folding = False  # the last tick folded all it may: more is waiting
        self._marked_seq = 0
        self._refusals = 0
        self._head: bytes | None = None  # batch_head() as last made
        self._head_db: object = None  # on the store's connection of that time
        self.epoch = self.outbox.epoch()
        self._episode_open = self.outbox.drop_episode() is not None
        self._log = log or logging.getLogger("edge.uplink")

    @property
    def in_flight(self) -> int:
        """Messages published and not yet answered by the broker."""
        return len(self._in_flight)

    # -- what the uplink reports -------------------------------------------------------

    def connection_changed(self, up: bool, reason: str = "") -> None:
        if up == self.connected:
            return
        self.connected = up
        self._forget_sent()
        if up:
            self.pump()  # alerts first, then the backlog; the birth status follows
            waiting = self.store.outbox_depth()
            self.send_status("online", waiting)
            self._log.info("Connected to the community server's broker; sending %d stored "
                           "events, alerts first.", waiting)
        else:
            self._log.warning("Lost the community server's broker (%s); events stay stored "
                              "and alerts go out by SMS until it is back.", reason or "no reason")

    def publish_done(self, mid: int, ok: bool, reason: str) -> None:
        self.publishes_done([(mid, ok, reason)])

    def publishes_done(self, results: Iterable[tuple[int, bool, str]]) -> None:
        """The broker answered these messages (mid, taken?, reason); refill the window once."""
        for mid, ok, reason in results:
            batch = self._in_flight.pop(mid, None)
            if batch is None:
                continue
            if ok:
                self._sent_top = max(self._sent_top, batch.last)
                self._refusals = 0
                continue
            self._refusals += 1
            pause = min(60.0, 2.0 ** min(self._refusals, 6))
            self._paused_until = self.clock.monotonic() + pause
            self._log.warning("The broker refused %d events (%s); they stay stored and are "
                              "sent again in %.0f s. Check the broker's ACL for this hub.",
                              batch.count, reason, pause)
            self._rewind(batch.first)
        self.pump()

    def acknowledged(self, seq: int, epoch: str | None = None) -> None:
        """The receiver stored everything up to `seq` of this outbox: prune it.

        Acks may arrive out of order from several receivers: the highest counts. An ack
        for another epoch (this hub's earlier installation) is ignored.
        """
        if epoch is not None and epoch != self.epoch:
            self._log.warning("Ignored an acknowledgement for outbox %s; this hub's outbox is "
                              "%s (it was set up again).", epoch, self.epoch)
            return
        if seq <= self.acked_seq:
            return
        if seq > self.highest_sent:
            raise CommandError(f"events_ack.seq: {seq} is above the highest event this hub "
                               f"has sent ({self.highest_sent}); nothing was marked delivered")
        self.acked_seq = seq
        self._progress_at = self.clock.monotonic()
        self.pump()
        if not self._in_flight:  # while sending, marking rows waits for the tick
            self.mark_delivered()

    def mark_delivered(self) -> None:
        """Write the acknowledgements received so far into the outbox."""
        if self._marked_seq < self.acked_seq:
            self.outbox.delivered_up_to(self.acked_seq, self.clock.now(), after=self._marked_seq)
            self._marked_seq = self.acked_seq
            self._head = None  # the floor moved

    def batch_head(self) -> bytes:
        """The start of every batch payload, floor included (wire.batch_head).

        Made again only after marking or eviction, the only things that move the floor,
        and when the store moves between its file and memory (edge.storage.disk). The floor
        never goes down (new events take seqs above it), so a kept one is at worst low,
        never high: the receiver never skips an event it has not stored.
        """
        if self._head is None or self._head_db is not self.store.db:
            self._head_db = self.store.db
            self._head = wire.batch_head(self.hub, self.community, self.epoch,
                                         self.outbox.outbox_floor())
        return self._head

    # -- sending -------------------------------------------------------------------------

    def pump(self) -> int:
        """Publish batches while connected and the window has room; returns how many.

        Alerts first: telemetry is read only once no alert is left to send (nothing in
        this process can add one while the pump runs). Batches are read a few at a time
        and then published together, so paho's thread writes them back to back.
        """
        sent = 0
        if self.clock.monotonic() < self._paused_until or not self.connected:
            return 0
        for priority in PRIORITIES:
            while (want := min(self.window - len(self._in_flight), BURST)) > 0:
                batches = self._next_batches(priority, want)
                published = self._publish(batches, urgent=priority == ALERT_PRIORITY)
                sent += published
                if published < len(batches):
                    return sent  # refused at once: the rest waits for a reconnect
                if len(batches) < want:
                    break  # this priority has nothing more
        return sent

    def _next_batches(self, priority: int, most: int) -> list[Batch]:
        """Up to `most` next batches of one priority in seq order, skipping what is out."""
        batches: list[Batch] = []
        while len(batches) < most:
            after = max(self._cursor[priority], self.acked_seq)
            batch = self.outbox.batch_after(priority, after, self.batch_size)
            if batch is None:
                break
            self._cursor[priority] = batch.last
            batches.append(batch)
        return batches

    def _publish(self, batches: list[Batch], *, urgent: bool = False) -> int:
        """Publish each batch in turn; returns how many paho took. Alerts are `urgent`:
        on the wire before the loop goes on (PahoUplink.publish)."""
        for done, batch in enumerate(batches):
            try:
                mid = self.uplink.publish(self.topics.events, batch.payload(self.batch_head()),
                                          urgent=urgent)
            except Exception as error:  # a refused publish waits for the next reconnect
                self._log.warning("Could not publish events (%s); they stay stored.", error)
                self._rewind(batch.first)
                return done
            self._in_flight[mid] = batch
            self.published += batch.count
            self.highest_sent = max(self.highest_sent, batch.last)
        return len(batches)

    def _rewind(self, seq: int) -> None:
        for priority in PRIORITIES:
            self._cursor[priority] = min(self._cursor[priority], seq - 1)

    def _forget_sent(self) -> None:
        """After a reconnect or silence, send again everything not acknowledged."""
        self._in_flight.clear()
        self._sent_top = 0
        self._cursor = {p: 0 for p in PRIORITIES}
        self._progress_at = self.clock.monotonic()

    # -- the clock ----------------------------------------------------------------------

    def tick(self) -> None:
        """Heartbeat, resend after silence, keep the outbox under its cap; while
        disconnected, fold the backlog into segments that send in one read each."""
        self.mark_delivered()
        self._evict()
        self._folding = False
        if not self.connected and not self.store.degraded:
            made = self.outbox.fold(self.batch_size, FOLD_PER_TICK, self.batch_head())
            self._folding = made >= max(1, FOLD_PER_TICK // self.batch_size)
        if self.clock.monotonic() >= self._prune_at:
            self._prune_at = self.clock.monotonic() + 3600
            self.outbox.prune_delivered(self.clock.now() - KEEP_DELIVERED_S)
            self.store.recount_depth()
        now = self.clock.monotonic()
        if self.connected and now - self._status_at >= self.heartbeat_s:
            self.send_status("online")
        silent = now - self._progress_at >= self.resend_after_s
        if self.connected and self._sent_top > self.acked_seq and silent:
            self._log.warning("The server has not acknowledged events after seq %d for %.0f s; "
                              "sending them again.", self.acked_seq, now - self._progress_at)
            self._forget_sent()
        self.pump()

    def next_due(self, now: float) -> float | None:
        """When tick() next has work (monotonic `now`): the heartbeat, a resend after
        the server's silence, a refused batch's pause, the hourly pruning, or at once
        while a backlog is still being folded. New events wake the loop themselves
        (Store.on_events)."""
        due = [self._prune_at, now if self._folding else None,
               self._paused_until if self._paused_until > now else None]
        if self.connected:
            due.append(self._status_at + self.heartbeat_s)
            if self._sent_top > self.acked_seq:
                due.append(self._progress_at + self.resend_after_s)
        return min(d for d in due if d is not None)

    def _evict(self) -> None:
        """Full outbox: drop the oldest telemetry to the low-water mark. One episode of
        drops gets one summary event, written once the server can hear it again."""
        dropped = self.outbox.evict_telemetry(self.max_events, self.low_water, self.clock.now())
        if dropped:
            self._head = None  # the floor moved
            self._episode_open = self._note_drop(sum(dropped.values()), dropped)
        elif (self._episode_open and self.connected
              and self.store.outbox_depth() <= self.low_water):
            self._end_episode()

    def _note_drop(self, total: int, dropped: dict[str, int]) -> bool:
        episode = self.outbox.drop_episode() or {"count": total}
        if episode["count"] == total:  # the first drop of this episode
            self._log.error(
                "The outbox is full (%d events): dropped the %d oldest telemetry events (%s) "
                "to make room; alerts are never dropped. While the server cannot take "
                "events the oldest telemetry keeps going; the server is told how much once it "
                "is reachable.", self.max_events, total, dropped)
        else:
            self._log.info("The outbox is still full: dropped %d more telemetry events (%d "
                           "since it filled up).", total, episode["count"])
        return True

    def _end_episode(self) -> None:
        with self.store.transaction():
            episode = self.outbox.end_drop_episode()
            if episode is not None:
                body = {"hub": self.hub, "count": episode["count"], "types": episode["types"],
                        "since": utc_text(episode["since"]), "until": utc_text(self.clock.now())}
                self.store.append_event("outbox.dropped", self.clock.now(), body,
                                        ALERT_PRIORITY)
        self._episode_open = False
        if episode is not None:
            self._log.warning("The outbox has room again; the server is told that %d telemetry "
                              "events were dropped since %s.", episode["count"],
                              utc_text(episode["since"]))

    def send_status(self, state: str, depth: int | None = None) -> None:
        self._status_at = self.clock.monotonic()
        try:
            self.uplink.publish(self.topics.status, self.status_payload(state, depth),
                                retain=True)
        except Exception as error:  # reported again on the next heartbeat
            self._log.warning("Could not publish the hub's status (%s).", error)

    def status_payload(self, state: str, depth: int | None = None) -> bytes:
        """The status message; `depth` is the outbox depth when the caller just counted it."""
        roster = (self.store.meta("roster_version")
                  if self.store.meta("roster_source") == "server" else "")
        depth = self.store.outbox_depth() if depth is None else depth
        return wire.status(self.hub, self.community, state, __version__, depth,
                           int(self.store.meta("outbox_dropped", "0")), self.clock.now(), roster,
                           self.community_name)
