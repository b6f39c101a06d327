"""When to try a text again, and the modem again, after a failure: pure policy.

A failure is judged per message. The modem's error class (firmware_bridge.modem.at_protocol)
says whose fault it was:

- `recipient`: this number cannot take a text now (phone off, out of service, barred).
  The text is tried again at 30 s, 2 min, then every 10 min; an SOS until its alert is
  closed, other texts a few times. The modem is fine and the rest of the queue goes on.
- `malformed`: the number itself is wrong. The text stops and the duty desk is told.
- `busy`, `storage_full`, `ambiguous`: the same text again almost at once.
- `transient`, `config`, `dead`: the modem cannot send anything now (no network, no SIM,
  a stall, a vanished port). The queue waits for the modem, which is polled every few
  seconds in the first minute of the fault and less often after that, so a queued SOS
  goes out within seconds of the modem being usable again.
"""

from __future__ import annotations

RECIPIENT_BACKOFF_S = (30.0, 120.0, 600.0)  # the last value repeats
FOLLOW_UP_TRIES = 6  # texts that are not an open alert's SOS give up after these
BUSY_WAIT_S = 2.0
TRANSIENT_MAX_S = 8.0
FAST_POLL_S = 2.0
FAST_POLL_FOR_S = 60.0
SLOW_POLL_MAX_S = 60.0
MODEM_FAULTS = frozenset({"transient", "config", "dead"})


def recipient_retry_s(attempts_done: int) -> float:
    """Seconds until a text that `attempts_done` tries could not deliver is tried again."""
    index = min(max(attempts_done, 1), len(RECIPIENT_BACKOFF_S)) - 1
    return RECIPIENT_BACKOFF_S[index]


def message_retry_s(kind: str, attempts_done: int) -> float:
    """Seconds before the same text is offered to the modem again, for every class but
    `recipient` (see recipient_retry_s) and `malformed` (never)."""
    if kind == "busy":
        return BUSY_WAIT_S
    if kind == "transient":  # the modem is checked first; this only spaces repeats
        return min(TRANSIENT_MAX_S, 2.0 ** max(attempts_done - 1, 0))
    return 0.0  # storage cleared, a resend, or the modem's own readiness decides


def keeps_trying(kind: str, alert_open: bool, attempts_done: int) -> bool:
    """Whether a text refused for its recipient is tried again: an open alert's SOS always,
    anything else (notices, "taken", a closed alert's texts) a few times."""
    if kind in ("sos", "escalated", "unanswered") and alert_open:
        return True
    return attempts_done < FOLLOW_UP_TRIES


def readiness_poll_s(fault_age_s: float) -> float:
    """How long to wait before checking again whether the modem can send, `fault_age_s`
    into a fault: every FAST_POLL_S for the first minute, then doubling each minute to
    SLOW_POLL_MAX_S."""
    if fault_age_s < FAST_POLL_FOR_S:
        return FAST_POLL_S
    minutes = int((fault_age_s - FAST_POLL_FOR_S) // 60) + 1
    return min(SLOW_POLL_MAX_S, FAST_POLL_S * 2.0 ** minutes)
