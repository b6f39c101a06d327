"""Escalation policy, pure: who is texted when, until a person acknowledges.

Tier 1 (and every contact marked always_sms) is texted when the alert becomes active.
If nobody acknowledges within that tier's wait, the next tier is texted and those already
told hear that it escalated. After the last tier everyone told gets "still unanswered"
at a slowing but bounded interval (fast rounds, then slow ones) until acknowledged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from edge.domain import Contact, Role


@dataclass(frozen=True, slots=True)
class EscalationPlan:
    """The clock of escalation, from [sms] in the configuration."""

    tier_wait_s: tuple[float, ...] = (180.0, 300.0)
    repeat_fast_s: float = 30.0
    repeat_fast_count: int = 16
    repeat_slow_s: float = 600.0

    def wait_for(self, tier: int) -> float:
        """How long tier `tier` has to answer; the last configured wait repeats."""
        return self.tier_wait_s[min(max(tier, 1), len(self.tier_wait_s)) - 1]

    def resend_interval(self, resends_done: int) -> float:
        return self.repeat_fast_s if resends_done < self.repeat_fast_count else self.repeat_slow_s


@dataclass(frozen=True, slots=True)
class Escalation:
    """Where one alert's escalation stands; stored so a restart carries on."""

    alert_id: int
    tier: int
    resends: int
    next_at: float
    interval_s: float
    mode: str = "sms"  # "sms" | "awaiting" (the server's receipt) | "server" (it has it)


@dataclass(frozen=True, slots=True)
class Notice:
    """One text to send: to whom, and which kind of text."""

    contact: Contact
    kind: str


@dataclass(frozen=True, slots=True)
class Step:
    """What to send now and the escalation state after it."""

    notices: tuple[Notice, ...]
    state: Escalation
    new_tier: int | None = None


def tiers(contacts: Sequence[Contact]) -> list[int]:
    return sorted({contact.tier for contact in contacts})


def begin(alert_id: int, contacts: Sequence[Contact], plan: EscalationPlan, now: float,
          already: frozenset[str] = frozenset()) -> Step:
    """First texts of an active alert: the lowest tier with contacts plus always_sms ones.

    `already` holds phones texted before (always_sms while the server had the alert).
    """
    ladder = tiers(contacts)
    first = ladder[0] if ladder else 1
    told = _unique(c for c in contacts
                   if (c.tier == first or c.always_sms) and c.phone not in already)
    wait = plan.wait_for(first)
    state = Escalation(alert_id, first, 0, now + wait, wait)
    return Step(tuple(Notice(c, "sos") for c in told), state, first)


def advance(state: Escalation, contacts: Sequence[Contact], notified: Sequence[Contact],
            plan: EscalationPlan, now: float) -> Step:
    """The next step once the current one's wait has passed without acknowledgement."""
    higher = [tier for tier in tiers(contacts) if tier > state.tier]
    if higher:
        tier = higher[0]
        told_phones = {c.phone for c in notified}
        fresh = _unique(c for c in contacts if c.tier == tier and c.phone not in told_phones)
        wait = plan.wait_for(tier)
        notices = [Notice(c, "sos") for c in fresh] + [Notice(c, "escalated") for c in notified]
        return Step(tuple(notices), Escalation(state.alert_id, tier, 0, now + wait, wait), tier)
    interval = plan.resend_interval(state.resends + 1)
    resend = tuple(Notice(c, "unanswered") for c in _unique(notified))
    return Step(resend, replace(state, resends=state.resends + 1, next_at=now + interval,
                                 interval_s=interval))


WELFARE_TIERS = {Role.DUTY_DESK: 1, Role.FAMILY: 2}  # then everyone else, as tier 3


def welfare_ladder(contacts: Sequence[Contact]) -> list[Contact]:
    """The contacts of a welfare check: the duty desk first, then family, then the rest."""
    return [replace(c, tier=WELFARE_TIERS.get(c.role, 3)) for c in contacts]


def is_due(state: Escalation, now: float) -> bool:
    """True when the wait has passed, or the clock jumped back by more than the wait."""
    return now >= state.next_at or state.next_at - now > state.interval_s


def next_step_at(states: Iterable[Escalation], now: float, mono: float,
                 overdue: Callable[[Escalation], bool] = lambda state: False) -> float | None:
    """When the first of these escalations is due on the monotonic clock (`mono` being
    the wall clock's `now`): at once when one is due or `overdue` says so; None for none."""
    waits = [0.0 if is_due(s, now) or overdue(s) else s.next_at - now for s in states]
    return mono + min(waits) if waits else None


def _unique(contacts: Iterable[Contact]) -> list[Contact]:
    seen: set[str] = set()
    unique: list[Contact] = []
    for contact in contacts:
        if contact.phone not in seen:
            seen.add(contact.phone)
            unique.append(contact)
    return unique


def await_server(alert_id: int, contacts: Sequence[Contact], wait_s: float,
                 now: float) -> Step:
    """The uplink is up: text only always_sms contacts and wait for the server's receipt."""
    told = _unique(c for c in contacts if c.always_sms)
    state = Escalation(alert_id, 0, 0, now + wait_s, wait_s, "awaiting")
    return Step(tuple(Notice(c, "sos") for c in told), state)
