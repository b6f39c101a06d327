"""Admission of BLE adverts: registered watch, verified MIC, strictly newer counter."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from edge.domain import Watch
from edge.errors import FrameError
from edge.store import WatchRecord
from firmware_bridge.bthome import BTHomeKey, Frame, decode_frame

_MAC_INCLUDED = 0x02


class Refusal(StrEnum):
    """Why an advert was not accepted."""

    UNREGISTERED = "unregistered"
    DUPLICATE = "duplicate"
    REPLAY = "replay"
    DOWNGRADE = "downgrade"
    INVALID = "invalid"


class FrameRefused(FrameError):
    """An advert the gate would not accept, with the kind of refusal."""

    def __init__(self, kind: Refusal, mac: str, reason: str) -> None:
        super().__init__(f"{mac}: {reason}")
        self.kind = kind
        self.mac = mac
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Admitted:
    """A frame that passed the gate; its counter is not stored until `accept`."""

    watch: Watch
    frame: Frame
    raw: bytes


@dataclass(slots=True)
class _Entry:
    watch: Watch
    key: BTHomeKey | None
    last_counter: int | None
    last_raw: bytes | None = None


class WatchGate:
    """Keeps the registry in memory so foreign adverts cost one dict lookup."""

    def __init__(self, records: Iterable[WatchRecord] = ()) -> None:
        self._entries: dict[str, _Entry] = {}
        self.counts: Counter[str] = Counter()
        self.reload(records)

    def reload(self, records: Iterable[WatchRecord]) -> None:
        """Replace the registry, e.g. after a roster change."""
        self._entries = {
            r.watch.mac: _Entry(r.watch, BTHomeKey(r.watch.key) if r.watch.key else None,
                                r.last_counter)
            for r in records
        }

    def is_registered(self, mac: str) -> bool:
        return mac.upper() in self._entries

    def admit(self, mac: str, service_data: bytes) -> Admitted:
        """The verified frame, or FrameRefused saying why not."""
        entry = self._entries.get(_identity(mac, service_data))
        if entry is None:
            self.counts[Refusal.UNREGISTERED] += 1
            raise FrameRefused(Refusal.UNREGISTERED, mac.upper(), "not a registered watch")
        try:
            frame = decode_frame(service_data, entry.watch.mac, entry.key)
        except FrameError as error:
            raise self._refuse(Refusal.INVALID, entry, str(error)) from None
        self._check_freshness(entry, frame, service_data)
        return Admitted(entry.watch, frame, service_data)

    def _check_freshness(self, entry: _Entry, frame: Frame, raw: bytes) -> None:
        if entry.key is not None and not frame.encrypted:
            raise self._refuse(
                Refusal.DOWNGRADE, entry,
                "plaintext frame from a watch that has a key (downgrade refused)",
            )
        if frame.counter is None or entry.last_counter is None:
            return
        if frame.counter > entry.last_counter:
            return
        if raw == entry.last_raw:
            raise self._refuse(Refusal.DUPLICATE, entry, "same frame heard again")
        raise self._refuse(
            Refusal.REPLAY, entry,
            f"counter {frame.counter} is not greater than the last accepted "
            f"{entry.last_counter} (replayed or old frame)",
        )

    def _refuse(self, kind: Refusal, entry: _Entry, reason: str) -> FrameRefused:
        self.counts[kind] += 1
        return FrameRefused(kind, entry.watch.mac, reason)

    def accept(self, admitted: Admitted) -> None:
        """Remember the frame's counter once it is stored."""
        entry = self._entries.get(admitted.watch.mac)
        if entry is None:
            return
        self.counts["accepted"] += 1
        entry.last_raw = admitted.raw
        if admitted.frame.counter is not None:
            entry.last_counter = admitted.frame.counter

    def watches(self) -> list[Watch]:
        return [entry.watch for entry in self._entries.values()]


def _identity(mac: str, data: bytes) -> str:
    """The watch's MAC: the one inside the frame when the MAC-included flag is set."""
    if data and data[0] & _MAC_INCLUDED and len(data) >= 7:
        return ":".join(f"{b:02X}" for b in reversed(data[1:7]))
    return mac.upper()
