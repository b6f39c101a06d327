"""Joining the parts of concatenated SMS-DELIVERs into messages; pure, time is passed in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from firmware_bridge.sms.pdu import Deliver, printable

PartsKey = tuple[str, int, int, int]


@dataclass(frozen=True, slots=True)
class Message:
    """A received text: all its parts joined, or those that came before the timeout.

    parts are the DELIVERs received, in sequence order; missing lists the sequence numbers
    that never came (empty when complete); timestamp is the earliest part's SC time.
    """

    sender: str
    text: str
    timestamp: datetime
    parts: tuple[Deliver, ...]
    complete: bool
    missing: tuple[int, ...] = ()

    @property
    def total(self) -> int:
        """How many parts the sender split the text into."""
        concat = self.parts[0].concat if self.parts else None
        return 1 if concat is None else concat.total


@dataclass(frozen=True, slots=True)
class _Pending:
    """The parts of one concatenated message heard so far, by sequence number."""

    first_seen: float
    parts: dict[int, Deliver]


def _join(parts: dict[int, Deliver], total: int) -> Message:
    ordered = tuple(parts[seq] for seq in sorted(parts))
    missing = tuple(seq for seq in range(1, total + 1) if seq not in parts)
    # Joining first lets an emoji whose surrogate pair a phone split across parts come back.
    text = printable("".join(part.text for part in ordered))
    timestamp = min(part.timestamp for part in ordered)
    return Message(ordered[0].sender, text, timestamp, ordered, not missing, missing)


class Reassembler:
    """Collects concatenated parts by (sender, reference, total, ref_bits) until complete."""

    def __init__(self, timeout_s: float = 600.0) -> None:
        if timeout_s <= 0:
            raise ValueError(f"timeout_s: expected seconds above 0, got {timeout_s}")
        self._timeout_s = timeout_s
        self._pending: dict[PartsKey, _Pending] = {}
        self._done: dict[PartsKey, float] = {}

    @property
    def pending(self) -> int:
        """Messages waiting for more parts."""
        return len(self._pending)

    def add(self, part: Deliver, now: float) -> Message | None:
        """The message part completes (a single part at once), else None; repeats are ignored."""
        if part.concat is None:
            return Message(part.sender, printable(part.text), part.timestamp, (part,), True)
        concat = part.concat
        key = (part.sender, concat.reference, concat.total, concat.ref_bits)
        if key in self._done:
            return None  # a late repeat of a part of a message already given out
        pending = self._pending.setdefault(key, _Pending(now, {}))
        pending.parts.setdefault(concat.sequence, part)
        if len(pending.parts) < concat.total:
            return None
        del self._pending[key]
        self._done[key] = now
        return _join(pending.parts, concat.total)

    def expire(self, now: float) -> list[Message]:
        """Incomplete messages whose first part is timeout_s old, with what was received."""
        cutoff = now - self._timeout_s
        self._done = {key: at for key, at in self._done.items() if at > cutoff}
        stale = [key for key, pending in self._pending.items() if pending.first_seen <= cutoff]
        return [_join(self._pending.pop(key).parts, key[2]) for key in stale]

    def restore(self, parts: Iterable[tuple[Deliver, float]]) -> list[Message]:
        """Re-add persisted (part, received-at) pairs after a restart; returns completed ones."""
        ordered = sorted(parts, key=lambda pair: pair[1])
        completed = (self.add(part, at) for part, at in ordered)
        return [message for message in completed if message is not None]
