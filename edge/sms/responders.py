"""Responders: turns alert changes and the passing of time into texts in the SMS queue."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from edge.alerts.dispatch import AlertChange
from edge.alerts.location import locate
from edge.alerts.welfare import WELFARE
from edge.calls.policy import DEFAULT_NIGHT, wants_call
from edge.calls.store import CallStore
from edge.clock import Clock, DaySpan, parse_span
from edge.domain import Alert, AlertState, Contact, Location, Resident, e164
from edge.sms import escalation as policy
from edge.sms.escalation import EscalationPlan
from edge.sms.messages import (
    MessageContext,
    callable_number,
    render,
    welfare_text,
    when,
)
from edge.sms.texts import SmsStore
from edge.storage.store import Store

# A welfare check's texts in place of an SOS's
_WELFARE_TEXTS = {"sos": "welfare", "unanswered": "welfare", "taken": "welfare_taken",
                  "escalated": "welfare_escalated"}
CLAIMS_END_BY_S = 3600.0  # no claim, however often renewed, holds SMS past an hour after the press


@dataclass(frozen=True, slots=True)
class TextStyle:
    """How texts are written: language, overrides, map link, local time zone, building."""

    building: str
    language: str = "zh"
    templates: tuple[tuple[str, str], ...] = ()
    map_url: str = "https://uri.amap.com/marker?position={lon:.5f},{lat:.5f}&coordinate=wgs84"
    timezone: str = "Asia/Shanghai"
    fix_stale_after_s: float = 900.0


class ServerLink(Protocol):
    """The uplink as responders see it (edge.uplink.sync.OutboxSync)."""

    connected: bool


@dataclass(frozen=True, slots=True)
class ServerWait:
    """How long the server gets to confirm receipt, and how long its automatic receipt
    holds SMS back: "stored" is not "someone is on it" (a person's claim holds longer)."""

    confirm_s: float = 20.0
    receipt_s: float = 60.0


class Responders:
    """Texts tier by tier until someone acknowledges; tells everyone told when it ends."""

    def __init__(self, store: Store, sms: SmsStore, clock: Clock, plan: EscalationPlan,
                 style: TextStyle, on_queued: Callable[[], None] = lambda: None,
                 server: ServerLink | None = None, server_wait: ServerWait | None = None,
                 log: logging.Logger | None = None) -> None:
        self.server = server
        self.server_wait = server_wait or ServerWait()
        self.store = store
        self.sms = sms
        self.clock = clock
        self.plan = plan
        self.style = style
        self._on_queued = on_queued
        self._zone = ZoneInfo(style.timezone)
        self._unstartable: set[int] = set()  # active alerts with nobody to text, said once
        self.country_code = "86"  # numbers compare in international form ([sms])
        self.calls: CallStore | None = None  # ring calls after SOS texts ([calls])
        self.night: DaySpan = parse_span(DEFAULT_NIGHT)
        self._log = log or logging.getLogger("edge.sms.responders")

    # -- Dispatcher ---------------------------------------------------------------

    def alert_changed(self, change: AlertChange) -> None:
        state = change.alert.state
        if state is AlertState.ACTIVE:
            self._begin(change.alert, change.resident, change.location)
        elif not state.is_open:
            self._finish(change.alert, change.resident, change.location, change.by,
                         change.reason)

    def _begin(self, alert: Alert, resident: Resident, location: Location) -> None:
        if self.sms.escalation(alert.id) is not None:
            return  # already under way (e.g. resumed after a restart)
        contacts = self._contacts(alert)
        if not contacts:
            self._log.error("Alert %s for %s: no contacts to text. Add [[contacts]] for the "
                            "building (duty desk) or the resident.", alert.ref, resident.name)
            return
        if self.server is not None and self.server.connected and \
                not self.sms.text_now_asked(alert.id):
            step = policy.await_server(alert.id, contacts, self.server_wait.confirm_s,
                                       self.clock.now())
            held = self._held(alert.id)  # confirmed or claimed inside the cancel window
            if held is not None:
                step = replace(step, state=replace(step.state, mode=held[0], next_at=held[1],
                                                   interval_s=held[1] - self.clock.now()))
            self._log.warning("Alert %s for %s went to the community server; texting only "
                              "those who want every alert, and everyone else if the server "
                              "does not confirm within %.0f s.", alert.ref, resident.name,
                              self.server_wait.confirm_s)
        else:
            step = policy.begin(alert.id, contacts, self.plan, self.clock.now())
        self._apply(alert, resident, location, step, contacts)

    def server_confirmed(self, alert_uid: str) -> bool:
        """The server stored the alert: SMS waits briefly (receipt_s) for a person there."""
        alert = self.store.alert(alert_uid)
        if alert is None:
            return False
        self.store.write(lambda: self.sms.note_receipt(alert.id, self.clock.now()))
        return self._hold(alert, ("awaiting",), "the community server confirmed it")

    def server_claimed(self, alert_uid: str, by: str, for_s: float) -> bool:
        """A person at the server is going: SMS waits for them while the claim lasts, and
        goes out when it ends without an acknowledgement."""
        alert = self.store.alert(alert_uid)
        if alert is None or not alert.state.is_open:
            return False
        now = self.clock.now()
        until = min(now + for_s, alert.raised_at + CLAIMS_END_BY_S)  # renewals end too
        if until <= now:
            self._log.warning("Alert %s: %s at the community server says they are going, but "
                              "the alert has waited %.0f min; SMS is not held back for claims "
                              "any more.", alert.ref, by, (now - alert.raised_at) / 60)
            return False
        self.store.write(lambda: self.sms.note_claim(alert.id, by, until))
        return self._hold(alert, ("awaiting", "server", "claimed", "sms"),
                          f"{by} at the community server is going")

    def server_text_now(self, alert_uid: str, by: str) -> bool:
        """A person at the server asks for texts now (nobody there is going): the server's
        holds end and the tiers start, or the next one comes, at the next tick; an alert
        still in its cancel window texts at once when it turns active (the resident may
        still cancel it). False when the alert is not open."""
        alert = self.store.alert(alert_uid)
        state = None if alert is None else self.sms.escalation(alert.id)
        if alert is None or not alert.state.is_open:
            return False
        now = self.clock.now()

        def write() -> None:
            self.sms.drop_hold(alert.id, now)
            self.sms.ask_text_now(alert.id, by, now)
            if state is not None:
                self.sms.save_escalation(replace(state, next_at=now))
        self.store.write(write)
        self._log.warning("Alert %s: %s at the community server asks for texts now; they go "
                          "out at once.", alert.ref, by)
        return True

    def server_notify(self, alert_uid: str, contact_id: str, by: str) -> bool | None:
        """The server asks for one contact of the roster to be texted about the alert now
        (the building's backup worker when nobody claimed it in time). None when the roster
        has no such contact for the alert's resident; False when the alert is not open or
        they were texted about it already."""
        alert = self.store.alert(alert_uid)
        if alert is None or not alert.state.is_open:
            return False
        resident = self.store.resident(alert.resident_id) or Resident(
            alert.resident_id, alert.resident_id, "?", "?")
        contact = next((c for c in self._contacts(alert) if c.id == contact_id), None)
        if contact is None:
            return None
        if any(told.phone == contact.phone for told in self.sms.notified(alert.id)):
            return False
        ctx = self._context(alert, resident, self._locate(alert, resident))
        self.store.write(lambda: self._queue(alert, contact, "sos", ctx))
        self._on_queued()
        self._log.warning("Alert %s for %s: the community server asks (%s) that %s be texted "
                          "now.", alert.ref, resident.name, by, contact.name)
        return True

    def _hold(self, alert: Alert, modes: tuple[str, ...], why: str) -> bool:
        """Hold the alert's SMS per _held; True when it is held (or will be, once active)."""
        state, held = self.sms.escalation(alert.id), self._held(alert.id)
        if state is None:
            return alert.state.is_open  # remembered for when the alert becomes active
        if state.mode not in modes or held is None:
            return False
        mode, until = held
        if state.mode == "sms":  # texting began: the next tier waits for the claim
            mode, until = "sms", max(until, state.next_at)
        saved = replace(state, mode=mode, next_at=until,
                        interval_s=max(1.0, until - self.clock.now()))
        self.store.write(lambda: self.sms.save_escalation(saved))
        self._log.warning("Alert %s: %s; SMS waits %.0f s for a person there, then goes out "
                          "unless the alert is acknowledged.", alert.ref, why,
                          until - self.clock.now())
        return True

    def _held(self, alert_id: int) -> tuple[str, float] | None:
        """(mode, until) while the server holds SMS back: a live claim, else the receipt's
        short hold; None when neither holds it."""
        now, claim = self.clock.now(), self.sms.claim(alert_id)
        if claim is not None and claim[1] > now:
            return "claimed", claim[1]
        if self.sms.has_receipt(alert_id):
            return "server", now + self.server_wait.receipt_s
        return None

    def _finish(self, alert: Alert, resident: Resident, location: Location, by: str,
                reason: str) -> None:
        kind = {AlertState.ACKNOWLEDGED: "taken", AlertState.CANCELLED: "cancelled"}.get(
            alert.state)

        def close() -> list[Contact] | None:
            if not self.sms.close_escalation(alert.id):
                return None
            notified = self.sms.notified(alert.id) if kind else []
            told = [c for c in notified if not (kind == "taken" and c.name == by)]
            ctx = self._context(alert, resident, location, by=by, reason=reason)
            for contact in told:
                self._queue(alert, contact, kind or "", ctx)
            return told
        told = self.store.write(close)
        if told is None:
            return
        if told:
            self._log.warning("Alert %s for %s closed (%s by %s): telling %d people who were "
                              "texted.", alert.ref, resident.name, alert.state.value,
                              by or "the resident", len(told))
            self._on_queued()

    # -- the clock ------------------------------------------------------------------

    def tick(self) -> int:
        """Run every escalation whose wait has passed; returns how many moved on."""
        self._begin_unstarted()
        now, moved = self.clock.now(), 0
        for state in self.sms.open_escalations():
            if not (policy.is_due(state, now) or self._uplink_lost(state)):
                continue
            alert = self.store.alert_by_id(state.alert_id)
            if alert is None or not alert.state.is_open:
                self._close_stale(state, alert)
                continue
            resident = self.store.resident(alert.resident_id) or Resident(
                alert.resident_id, alert.resident_id, "?", "?")
            contacts = self._contacts(alert)
            told = self.sms.notified(alert.id)
            if state.mode == "sms":
                step = policy.advance(state, contacts, told, self.plan, now)
            else:
                self._explain_fallback(alert, state)
                step = policy.begin(alert.id, contacts, self.plan, now,
                                    frozenset(c.phone for c in told))
            self._apply(alert, resident, self._locate(alert, resident), step, contacts)
            moved += 1
        return moved

    def next_due(self, now: float) -> float | None:
        """When tick() next has work (monotonic): at once, or the earliest escalation step."""
        if any(a.id not in self._unstartable for a in self.sms.active_without_escalation()):
            return now  # an active alert not yet texted
        return policy.next_step_at(self.sms.open_escalations(), self.clock.now(), now,
                                   overdue=self._uplink_lost)  # no receipt can come

    def _begin_unstarted(self) -> None:
        """An active alert whose texting never started (its start could not be stored, say
        the disk filled between the alert and its escalation): start it now. One that
        cannot start (no contacts) is said once, not on every tick."""
        for alert in self.sms.active_without_escalation():
            if alert.id in self._unstartable:
                continue
            resident = self.store.resident(alert.resident_id) or Resident(
                alert.resident_id, alert.resident_id, "?", "?")
            self._log.warning("Alert %s for %s is active but nobody was texted yet; starting "
                              "now.", alert.ref, resident.name)
            try:
                self._begin(alert, resident, self._locate(alert, resident))
            except Exception:  # noqa: BLE001 - the other alerts' escalations go on
                self._log.exception("Starting the texts of alert %s failed; trying again on "
                                    "the next tick.", alert.ref)
                continue
            if self.sms.escalation(alert.id) is None:
                self._unstartable.add(alert.id)

    def declined(self, alert_id: int) -> bool:
        """A responder cannot go: when everyone of the tier being texted has declined, the
        next step comes at once. True when it was brought forward."""
        state = self.sms.escalation(alert_id)
        alert = self.store.alert_by_id(alert_id)
        if state is None or alert is None or state.mode != "sms" or not alert.state.is_open:
            return False
        tier = {e164(c.phone, self.country_code) for c in
                self._contacts(alert) if c.tier == state.tier}
        if not tier or not tier <= self.sms.declined(alert_id):
            return False
        now = self.clock.now()
        self.store.write(lambda: self.sms.save_escalation(replace(state, next_at=now)))
        self._log.warning("Everyone of tier %d declined alert %s; escalating now.",
                          state.tier, alert.ref)
        return True

    def _uplink_lost(self, state: policy.Escalation) -> bool:
        """Waiting for a receipt that cannot come: the uplink is down."""
        return state.mode == "awaiting" and (self.server is None or not self.server.connected)

    def _explain_fallback(self, alert: Alert, state: policy.Escalation) -> None:
        claim = self.sms.claim(alert.id)
        why = {"awaiting": "the community server did not confirm it (or the uplink is down)",
               "server": "nobody at the community server claimed it in time",
               "claimed": f"{claim[0] if claim else 'the worker'} claimed it at the community "
                          "server but did not acknowledge it in time"}[state.mode]
        self._log.warning("Alert %s: %s; texting responders by SMS now.", alert.ref, why)

    def _close_stale(self, state: policy.Escalation, alert: Alert | None) -> None:
        """An alert closed while the hub was down between commit and texts: finish it now."""
        if alert is None:
            with self.store.transaction():
                self.sms.close_escalation(state.alert_id)
            return
        resident = self.store.resident(alert.resident_id) or Resident(
            alert.resident_id, alert.resident_id, "?", "?")
        self._finish(alert, resident, self._locate(alert, resident), alert.closed_by,
                     "closed while the hub restarted")

    def _apply(self, alert: Alert, resident: Resident, location: Location,
               step: policy.Step, contacts: Sequence[Contact]) -> None:
        first = self.sms.first_notified_at(alert.id)
        waited = 0.0 if first is None else self.clock.now() - first
        names = "、".join(c.name for c in contacts if c.tier == step.new_tier)
        ctx = self._context(alert, resident, location, next=names, waited_s=waited)

        def save() -> None:
            self.sms.save_escalation(step.state)
            for notice in step.notices:
                self._queue(alert, notice.contact, notice.kind, ctx)
        self.store.write(save)
        self._narrate(alert, resident, step)
        self._on_queued()

    def _queue(self, alert: Alert, contact: Contact, kind: str, ctx: MessageContext) -> None:
        if alert.kind == WELFARE:  # the check's own texts; again until someone takes it
            kind = _WELFARE_TEXTS.get(kind, kind)
        text = render(kind, ctx, dict(self.style.templates), self.style.language,
                      self.style.map_url)
        now = self.clock.now()
        sms_id = self.sms.enqueue(contact.phone, kind, text, now, alert_id=alert.id,
                                  contact_id=contact.id)
        self.sms.note_notified(alert.id, contact, now)
        self._offer_call(alert, contact, kind, sms_id, now)

    def _offer_call(self, alert: Alert, contact: Contact, kind: str, sms_id: int,
                    now: float) -> None:
        """Queue a ring call after the text when the contact wants one now (edge.calls)."""
        if self.calls is None:
            return
        local = datetime.fromtimestamp(now, self._zone).time()
        if wants_call(contact, kind, self.night, local) and \
                self.calls.enqueue(alert.id, contact, sms_id, now):
            self._log.info("Alert %s: %s gets a ring call after the text.", alert.ref,
                           contact.name)

    def _narrate(self, alert: Alert, resident: Resident, step: policy.Step) -> None:
        kinds = _WELFARE_TEXTS if alert.kind == WELFARE else {}
        who = ", ".join(f"{n.contact.name} ({kinds.get(n.kind, n.kind)})" for n in step.notices)
        wait = step.state.next_at - self.clock.now()
        self._log.warning("Alert %s for %s: texting %s. Next step in %.0f s unless someone "
                          "acknowledges.", alert.ref, resident.name, who or "nobody", wait)

    # -- helpers ----------------------------------------------------------------------

    def _contacts(self, alert: Alert) -> list[Contact]:
        """Who the alert goes to, by tier: a welfare check has its own ladder."""
        contacts = self.store.contacts_for(alert.resident_id)
        return policy.welfare_ladder(contacts) if alert.kind == WELFARE else contacts

    def _locate(self, alert: Alert, resident: Resident) -> Location:
        return locate(resident, self.store.last_fix(alert.watch_mac), self.clock.now(),
                      self.style.fix_stale_after_s)

    def _context(self, alert: Alert, resident: Resident, location: Location, *, by: str = "",
                 reason: str = "", next: str = "", waited_s: float = 0.0) -> MessageContext:
        pressed = when(alert.raised_at, self.clock.now(), self._zone, self.style.language)
        return MessageContext(
            ref=alert.ref, name=resident.name, building=self.style.building, room=resident.room,
            address=resident.address, time=pressed, location=location, by=by,
            reason=reason or "", next=next, waited_s=waited_s,
            phone=callable_number(resident.phone, self.country_code),
            check=self._check_text(alert, resident))

    def _check_text(self, alert: Alert, resident: Resident) -> str:
        check = self.store.welfare_check(alert.id) if alert.kind == WELFARE else None
        return "" if check is None else welfare_text(*check, resident.name, self.style.language)
