"""The receiver's work, free of paho and HTTP: store what hubs send, tell them what they are owed."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from cloud_sync.contract.ids import plain_text
from cloud_sync.server.alerts import AlertNotice
from cloud_sync.server.away import tell_away, with_away
from cloud_sync.server.credentials import HubLogin
from cloud_sync.server.duty import DEFAULT_CLAIM_S, Duty, Overdue
from cloud_sync.server.errors import (
    BatchError,
    NotAllowed,
    ReceiverError,
    ReceiverSetupError,
)
from cloud_sync.server.logic import (
    cmd_topic,
    command,
    should_push_roster,
    should_send_ack,
    topic_parts,
)
from cloud_sync.server.roster import RosterPush
from cloud_sync.server.roster_book import RosterBook
from cloud_sync.server.store import CommandPage, ReceiverStore, StoredBatch
from cloud_sync.server.wire import (
    Batch,
    Status,
    check_name,
    matching_hub,
    parse_batch,
    parse_status,
    said_by,
)

_log = logging.getLogger("cloud_sync.server.receiver")
OUTCOMES = ("fall", "illness", "needed_help", "false_alarm", "test", "other")
MAX_CLAIM_S = 3600.0


class Outbound(Protocol):
    """Publishes a command to a hub's cmd topic (QoS 1)."""

    def publish(self, topic: str, payload: dict[str, Any]) -> None: ...


class ReceiverService:
    """Stores batches and statuses, sends acks, confirmations, alert_acks and the roster."""

    def __init__(self, store: ReceiverStore, outbound: Outbound, *, topic_root: str = "eldercare/v1/",
                 rosters: RosterBook | None = None,
                 clock: Callable[[], float] = time.time,
                 new_id: Callable[[], str] = lambda: uuid.uuid4().hex) -> None:
        self.store = store
        self.outbound = outbound
        self.topic_root = topic_root
        self.rosters = rosters  # by community: a hub gets its own community's roster only
        self.clock = clock
        self.new_id = new_id
        self.counts = {"batches": 0, "statuses": 0, "refused": 0, "failed": 0}

    def on_message(self, topic: str, payload: bytes) -> None:
        """Handle one MQTT message; bad input is logged and dropped, never raised."""
        parts = topic_parts(self.topic_root, topic)
        if parts is None or parts[2] not in ("events", "status"):
            _log.warning("Ignored a message on %s: not an events or status topic.", topic)
            return
        community, hub, kind = parts
        try:
            if kind == "events":
                self.on_batch(matching_hub(parse_batch(payload), community, hub), via="mqtt")
            else:
                self.on_status(matching_hub(parse_status(payload), community, hub))
        except BatchError as error:
            self.counts["refused"] += 1
            _log.warning("Refused a message from hub %s (%s) on %s: %s.", hub, community, kind, error)
        except ReceiverError as error:
            self.counts["failed"] += 1
            _log.error("Could not store a message from hub %s (%s): %s. Nothing was acknowledged; "
                       "the hub sends its events again.", hub, community, error)

    def ingest(self, payload: bytes, *, sender: HubLogin | None = None) -> tuple[int, str]:
        """Store a batch POSTed over HTTP; return its ack seq and the epoch that seq belongs to.

        Raises BatchError when the batch is malformed, NotAllowed when it names a hub other
        than the sender that logged in.
        """
        batch = parse_batch(payload)
        if sender is not None and (batch.community, batch.hub) != (sender.community, sender.hub):
            raise NotAllowed(f"{sender.username} may post only its own events, not a batch of "
                             f"hub {batch.hub!r} in community {batch.community!r}")
        result = self.on_batch(batch, via="http")
        return result.ack_seq, result.epoch

    def on_batch(self, batch: Batch, *, via: str) -> StoredBatch:
        """Store a batch, then ack it in its epoch and send what its alerts call for."""
        for reason in batch.rejected:
            _log.warning("Hub %s (%s) sent a malformed event; skipped it: %s.", batch.hub,
                         batch.community, reason)
        result = self.store.store_batch(batch, via=via, now=self.clock())
        self.counts["batches"] += 1
        if via == "mqtt" and should_send_ack(result.previous_ack, result.ack_seq, result.duplicates):
            self.outbound.publish(cmd_topic(self.topic_root, batch.community, batch.hub),
                                  command(self.new_id(), "events_ack", epoch=result.epoch,
                                          seq=result.ack_seq))
        for notice in result.notices:
            self._tell(notice)
        roster = self._roster(batch.community) if via == "http" else None
        if roster is not None and result.roster_version != roster.version:
            self._send_roster(roster, batch.community, batch.hub, via)
        _log_stored(batch, result)
        return result

    def on_status(self, status: Status) -> None:
        """Keep a hub's status; greet a hub coming online with the roster."""
        change = self.store.record_status(status, now=self.clock())
        self.counts["statuses"] += 1
        depth = "an unknown number of" if status.queue_depth is None else str(status.queue_depth)
        arrived = change.previous_state != status.state
        if status.state == "online":
            (_log.info if arrived else _log.debug)(
                "Hub %s (%s) is online with %s events queued.", status.hub, status.community, depth)
        else:
            (_log.warning if arrived else _log.debug)(
                "Hub %s (%s) is %s.", status.hub, status.community, status.state)
        if status.state == "online":
            self._flush(status.community, status.hub)
        roster = self.rosters.push_of(status.community, change.roster_now) \
            if self.rosters is not None and change.roster_now is not None else None
        if roster is not None and not roster.held_back and should_push_roster(
                roster.version, state=status.state, reported=status.roster_version,
                pushed=change.roster_version, previous_state=change.previous_state):
            if change.roster_version == roster.version and status.roster_version != roster.version:
                _log.warning("Hub %s (%s) uses roster %r though it was sent %r; sending it again.",
                             status.hub, status.community, status.roster_version, roster.version)
            self._send_roster(roster, status.community, status.hub, "mqtt")

    def acknowledge(self, alert: str, by: str) -> list[str]:
        """A worker took an alert: mark it and send alert_ack to every hub that reported it."""
        name = said_by(alert, by, "who took it")
        taken = self.store.acknowledge(alert, name, now=self.clock())
        for target in taken.targets:
            self._deliver(target.community, target.hub,
                          command(self.new_id(), "alert_ack", alert=target.uid, by=taken.by),
                          via=target.via, state=target.state)
        told = ", ".join(f"{target.hub} ({target.ref or target.uid})" for target in taken.targets)
        _log.info("Alert %s for %s acknowledged by %s; told %s.", taken.alert_id, taken.resident,
                  taken.by, told or "no hub")
        return [target.uid for target in taken.targets]

    def claim(self, alert: str, by: str, for_s: float = DEFAULT_CLAIM_S) -> list[str]:
        """A worker says they are going: send alert_claimed to every hub that reported the
        alert, so SMS waits for them while the claim lasts; return the hubs' alert uids."""
        name = said_by(alert, by, "who is going")
        if not 60 <= for_s <= MAX_CLAIM_S:
            raise ReceiverSetupError(f"a claim lasts from 60 to {MAX_CLAIM_S:.0f} seconds, "
                                     f"not {for_s:g}")
        now = self.clock()
        found = self.store.record_claim(alert, name, now=now, until=now + for_s)
        for target in found.targets:
            self._deliver(target.community, target.hub,
                          command(self.new_id(), "alert_claimed", alert=target.uid, by=name,
                                  for_s=for_s),
                          via=target.via, state=target.state)
        _log.info("Alert %s for %s claimed by %s for %.0f s; told %s.", found.alert_id,
                  found.resident, name, for_s,
                  ", ".join(t.hub for t in found.targets) or "no hub")
        return [target.uid for target in found.targets]

    def resident_away(self, community: str, resident: str, until: float | None,
                      by: str) -> list[str]:
        """Tell the community's hubs a resident is away until `until`, or back (None)."""
        return tell_away(self.store, self._deliver, community, resident, until, by,
                         now=self.clock(), new_id=self.new_id, rosters=self.rosters)

    def commands_after(self, hub: str, community: str, after: int) -> CommandPage:
        """Commands queued for a hub on HTTP after its cursor; those up to it are forgotten.

        Raises BatchError for a bad hub or community.
        """
        page = self.store.commands_after(check_name(community, "community"), check_name(hub, "hub"),
                                         after)
        if page.next < after:
            _log.warning("Hub %s (%s) asked for commands after %d, beyond any queued for it (a "
                         "cursor from another receiver database); sent it the queue from the "
                         "start.", hub, community, after)
        return page

    def hubs(self, community: str | None = None) -> list[dict[str, Any]]:
        """The hubs, each with the faults it reported that are still open."""
        return self._with_faults(self.store.hubs(now=self.clock(), community=community),
                                 "hub", of_hubs=True)

    def alerts(self, *, open_only: bool = False, community: str | None = None,
               board: bool = False) -> list[dict[str, Any]]:
        """The alerts, each with its `building`: the name the roster gives the resident's
        building, or else the building of the first hub that heard it ("" without one)."""
        alerts = self.store.alerts(open_only=open_only, community=community, board=board)
        return alerts if self.rosters is None else self.rosters.name_buildings(alerts)

    def close(self, alert: str, by: str, outcome: str, note: str = "") -> str:
        """A person closes an alert with its outcome. One still waiting for someone is
        taken first (alert_ack to the hubs): the person closing it vouches that it is
        seen to. Returns its id."""
        name = said_by(alert, by, "who closes it")
        if outcome not in OUTCOMES:
            raise BatchError(f"outcome {outcome[:30]!r}: expected one of {', '.join(OUTCOMES)}")
        if len(note) > 1000 or not plain_text(note.replace("\n", " ")):
            raise BatchError("note: expected at most 1000 characters of plain text")
        if self.store.alert_state(alert) in ("raised", "active"):
            self.acknowledge(alert, name)
        closed = self.store.close_alert(alert, name, outcome, note.strip(), now=self.clock())
        _log.info("Alert %s closed by %s: %s.", closed, name, outcome)
        return closed

    def text_now(self, alert: str, by: str) -> list[str]:
        """A person at the desk sees nobody going: every hub that reported the alert starts
        (or brings forward) its SMS tiers at once (alert_text_now); returns their uids."""
        name = said_by(alert, by, "who asks")
        found = self.store.copies(alert)
        for target in found.targets:
            self._deliver(target.community, target.hub,
                          command(self.new_id(), "alert_text_now", alert=target.uid, by=name),
                          via=target.via, state=target.state)
        _log.warning("Alert %s for %s: %s asked the hubs to text now; told %s.", found.alert_id,
                     found.resident, name, ", ".join(t.hub for t in found.targets) or "no hub")
        return [target.uid for target in found.targets]

    def check_overdue(self, duty: Duty, deadline_s: float) -> int:
        """Alerts nobody claimed within the deadline, and alerts whose claim ran out with
        nobody on site: text each building's backup through the hubs that heard it
        (alert_notify), or, where no backup is named, ask those hubs to text their tiers
        now. Returns how many alerts turned overdue or lapsed."""
        now = self.clock()
        due = [(overdue, f"nobody claimed it within {deadline_s / 60:.0f} min", False)
               for overdue in duty.turn_overdue(now, deadline_s)]
        due += [(lapsed, "its claim ran out and nobody said they are on site", True)
                for lapsed in duty.turn_lapsed(now)]
        for alert, why, lapsed in due:
            try:
                self._tell_backups(alert, why, "claim ran out" if lapsed else "claim deadline",
                                   text_now=lapsed)
                duty.told(alert.alert, self.clock(), lapsed=lapsed)
            except Exception:  # noqa: BLE001 -- the others go on; this one is tried again
                _log.exception("Alert %s: telling its backup failed; trying again in a few "
                               "seconds.", alert.alert)
        return len(due)

    def _tell_backups(self, overdue: Overdue, why: str, by: str, *, text_now: bool) -> None:
        """Ask each hub that heard the alert to text its building's backup, and to text its
        tiers now where the building has none or with `text_now` (a claim that ran out:
        whoever was texted before must hear that nobody is there yet)."""
        backups = {(community, hub): contact for community, hub, contact in overdue.backups}
        for target in self.store.copies(overdue.alert).targets:
            backup = backups.get((target.community, target.hub))
            fields: dict[str, Any] = {"alert": target.uid, "by": by}
            if text_now and backup is not None:
                self._deliver(target.community, target.hub,
                              command(self.new_id(), "alert_text_now", **fields),
                              via=target.via, state=target.state)
            if backup is None:
                _log.error("Alert %s for %s: %s, and hub %s has no backup worker (edge-hub "
                           "server assign); asking it to text now.", overdue.alert,
                           overdue.resident, why, target.hub)
                self._deliver(target.community, target.hub,
                              command(self.new_id(), "alert_text_now", **fields),
                              via=target.via, state=target.state)
                continue
            _log.warning("Alert %s for %s: %s; texting the backup worker (%s) through hub %s.",
                         overdue.alert, overdue.resident, why, backup, target.hub)
            self._deliver(target.community, target.hub,
                          command(self.new_id(), "alert_notify", contact=backup, **fields),
                          via=target.via, state=target.state)

    def timeline(self, alert: str) -> list[dict[str, Any]]:
        return self.store.timeline(alert)

    def watches(self, community: str | None = None) -> list[dict[str, Any]]:
        """The watches, each with what its hub reported wrong and its resident's away spell."""
        rows = self._with_faults(self.store.watches(community=community), "mac", of_hubs=False)
        return with_away(rows, lambda community: self.store.away_spells(community, self.clock()))

    def _with_faults(self, rows: list[dict[str, Any]], key: str, *,
                     of_hubs: bool) -> list[dict[str, Any]]:
        """Each row (a hub's or a watch's, named by `key`) with its open faults."""
        for community_id in {row["community"] for row in rows}:
            hubs, watches = self.store.open_faults(community_id)
            faults = hubs if of_hubs else watches
            for row in rows:
                if row["community"] == community_id:
                    row["faults"] = faults.get(row[key], [])
        return rows

    def alerts_version(self, community: str) -> tuple[int, float]:
        return self.store.alerts_version(community)

    def alert_community(self, alert: str) -> str | None:
        return self.store.alert_community(alert)

    def report(self, community: str) -> list[dict[str, Any]]:
        return self.store.report(community)

    def alerts_csv(self, community: str) -> str:
        return self.store.alerts_csv(community)

    def _tell(self, notice: AlertNotice) -> None:
        target = notice.target
        if notice.by is None:
            self._deliver(target.community, target.hub,
                          command(self.new_id(), "alert_received", alert=target.uid), via=target.via)
            how = "confirmed to the hub" if target.via == "mqtt" else "confirmation queued for the hub"
            _log.info("Alert %s (%s) for %s received from %s; %s.", target.ref or target.uid,
                      notice.alert_id, notice.resident, target.hub, how)
            return
        self._deliver(target.community, target.hub,
                      command(self.new_id(), "alert_ack", alert=target.uid, by=notice.by),
                      via=target.via, state=target.state)
        _log.info("Alert %s for %s was already taken by %s; told %s (%s) too.", notice.alert_id,
                  notice.resident, notice.by, target.hub, target.ref or target.uid)

    def push_roster(self, community: str) -> int:
        """Send the community's roster (just changed) at once to each of its hubs online on
        MQTT; returns how many. The others get it when they are back (their status, or
        their next batch over HTTPS, says which roster they have), so nothing is queued
        for them. None while the roster lacks what a hub needs to take it."""
        roster = self._roster(community)
        if roster is None:
            return 0
        hubs = [hub for hub in self.store.hubs(now=self.clock(), community=community)
                if hub["state"] == "online" and hub["via"] == "mqtt"]
        for hub in hubs:
            self._send_roster(roster, community, hub["hub"], "mqtt")
        return len(hubs)

    def _roster(self, community: str) -> RosterPush | None:
        """The community's roster to send, or None when it has none a hub would take."""
        if self.rosters is None:
            return None
        roster = self.rosters.push_of(community, self.rosters.version_of(community))
        if roster is not None and roster.held_back:
            _log.info("Roster %s of %s is not sent to its hubs: %s.", roster.version, community,
                      roster.held_back)
            return None
        return roster

    def _send_roster(self, roster: RosterPush, community: str, hub: str, via: str) -> None:
        self._deliver(community, hub, command(self.new_id(), "roster", **roster.fields), via=via)
        self.store.note_roster_sent(community, hub, roster.version)
        _log.info("Sent roster %s (%s) to hub %s (%s).", roster.version or "(no version)",
                  roster.summary, hub, community)

    def _deliver(self, community: str, hub: str, payload: dict[str, Any], *, via: str,
                 state: str | None = None) -> None:
        """Publish to a hub on MQTT; queue for one on HTTP, and for one now offline (its
        session starts clean, so it would miss the publish) until it is back."""
        if via != "http":
            self.outbound.publish(cmd_topic(self.topic_root, community, hub), payload)
        if via == "http" or state == "offline":
            self.store.queue_command(community, hub, payload, now=self.clock())

    def _flush(self, community: str, hub: str) -> None:
        """Publish the commands held for a hub that is back on MQTT."""
        held = self.store.take_commands(community, hub)
        for payload in held:
            self.outbound.publish(cmd_topic(self.topic_root, community, hub), payload)
        if held:
            _log.info("Sent hub %s (%s) the %d command(s) held while it was away.", hub, community,
                      len(held))


def _log_stored(batch: Batch, result: StoredBatch) -> None:
    where = f"hub {batch.hub} ({batch.community})"
    if result.replaced_epoch:
        _log.warning("Hub %s (%s) has a new outbox epoch %s (was %s): it was set up again; its "
                     "events are acknowledged in the new epoch only.", batch.hub, batch.community,
                     batch.epoch, result.replaced_epoch)
    already = f", {result.duplicates} already stored" if result.duplicates else ""
    if result.late:
        _log.info("Stored %d new events from %s's earlier outbox epoch %s%s; its current epoch's "
                  "acknowledgement is unchanged.", result.new, where, batch.epoch, already)
        return
    _log.info("Stored %d new events from %s%s; acknowledged up to seq %d.", result.new, where,
              already, result.ack_seq)


class HeldCommands:
    """An Outbound that keeps commands for sending later (the `receiver ack` command's)."""

    def __init__(self) -> None:
        self.held: list[tuple[str, dict[str, Any]]] = []

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        self.held.append((topic, payload))
