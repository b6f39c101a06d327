"""Admission of BLE adverts: a registered watch, a verified MIC, a frame never accepted before.

Only the key holder can make a frame whose MIC verifies, so a replay is an exact copy of a
frame the hub already accepted. A frame is admitted when:

- its counter is above the last accepted one (the usual case, no lookup), unless the watch
  once counted higher before a restart and this very frame is in its history (a replay);
- it is the last accepted frame heard again within a burst: a quiet duplicate, refused;
- its counter is not above the last one and it is in the watch's history: a replay, refused;
- its counter is not above the last one and it is new: the watch restarted its counter
  (a battery change). It is admitted as a restart and becomes the new baseline, when its
  counter is low (below RESTART_BELOW: a battery change starts again from there) or it
  carries a press (help first; no press is ever forgotten, so it is not a copy);
- otherwise it may be a copy of a frame too old to be kept, or a restart whose first
  frames the hub missed: refused, and taken as a restart once the watch has gone on
  counting from the lowest such counter for RESTART_CONFIRM_S with nothing heard above
  the last accepted counter (a watch still counting on would be).

The history (counter and MIC of accepted frames, edge.storage.store) keeps every button
frame and the latest telemetry frames of each watch, so a press can never be replayed.
Early frames are not kept for good: a watch whose packet ids also start again sends,
after a battery change, the very bytes of its first heartbeats, which must not be taken
for copies.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from edge.alerts.reports import has_button
from edge.domain import Sensor, Watch
from edge.errors import FrameError
from edge.storage.roster import RESTART_BELOW, WatchRecord
from firmware_bridge.ble.bthome import BTHomeKey, Frame, decode_frame

_MAC_INCLUDED = 0x02
BURST_S = 10.0  # a watch repeats one frame for a few seconds
RESTART_CONFIRM_S = 90.0  # three heartbeats of a watch that restarted out of hearing


class Refusal(StrEnum):
    """Why an advert was not accepted."""

    UNREGISTERED = "unregistered"
    DUPLICATE = "duplicate"
    REPLAY = "replay"
    DOWNGRADE = "downgrade"
    INVALID = "invalid"


class FrameRefused(FrameError):
    """An advert the gate would not accept, with the kind of refusal."""

    def __init__(self, kind: Refusal, mac: str, reason: str, frame: Frame | None = None) -> None:
        super().__init__(f"{mac}: {reason}")
        self.kind = kind
        self.mac = mac
        self.reason = reason
        self.frame = frame


@dataclass(frozen=True, slots=True)
class Admitted:
    """A frame that passed the gate; its counter is not stored until `accept`.

    `restart_from` is the last accepted counter when this frame restarts the watch's
    counter (a battery change), else None.
    """

    watch: Watch
    frame: Frame
    raw: bytes
    restart_from: int | None = None
    sensor: Sensor | None = None  # set when the device is an activity sensor, not a watch

    @property
    def mic(self) -> int | None:
        """The frame's 4-byte MIC as a number (None for a plaintext frame)."""
        return frame_mic(self.raw) if self.frame.encrypted else None


@dataclass(slots=True)
class _Entry:
    watch: Watch
    key: BTHomeKey | None
    last_counter: int | None
    old_high: int | None = None  # highest counter before the last restart
    last_raw: bytes | None = None
    last_at: float = float("-inf")
    sensor: Sensor | None = None
    unplaced: tuple[int, float] | None = None  # lower frames too old to judge: lowest, since


Seen = Callable[[str, int, int], bool]


def frame_mic(raw: bytes) -> int:
    """The MIC of an encrypted frame: its last four bytes."""
    return int.from_bytes(raw[-4:], "little")


class WatchGate:
    """Keeps the registry in memory so foreign adverts cost one dict lookup.

    `seen(mac, counter, mic)` asks the stored history whether that exact frame was
    accepted before; it is called only for frames that do not count upwards.
    """

    def __init__(self, records: Iterable[WatchRecord] = (), *,
                 seen: Seen = lambda mac, counter, mic: False,
                 now: Callable[[], float] = lambda: 0.0, burst_s: float = BURST_S) -> None:
        self._entries: dict[str, _Entry] = {}
        self.counts: Counter[str] = Counter()
        self._seen, self._now, self.burst_s = seen, now, burst_s
        self.reload(records)

    def reload(self, records: Iterable[WatchRecord]) -> None:
        """Replace the registry, e.g. after a roster change."""
        self._entries = {
            r.watch.mac: _Entry(r.watch, BTHomeKey(r.watch.key) if r.watch.key else None,
                                r.last_counter, r.old_high, sensor=r.sensor)
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
        restart_from = self._check_freshness(entry, frame, bytes(service_data))
        return Admitted(entry.watch, frame, bytes(service_data), restart_from, entry.sensor)

    def _check_freshness(self, entry: _Entry, frame: Frame, raw: bytes) -> int | None:
        """None for a fresh frame, the old counter for a restart; refusals raise."""
        if entry.key is not None and not frame.encrypted:
            raise self._refuse(
                Refusal.DOWNGRADE, entry,
                "plaintext frame from a watch that has a key (downgrade refused)", frame)
        counter, last = frame.counter, entry.last_counter
        if counter is None or last is None:
            return None
        mic = frame_mic(raw)
        if counter > last:
            if entry.old_high is not None and counter <= entry.old_high \
                    and self._seen(entry.watch.mac, counter, mic):
                raise self._replay(entry, frame, "a frame from before the watch's counter "
                                   "restarted, heard again")
            return None
        if raw == entry.last_raw and self._now() - entry.last_at <= self.burst_s:
            raise self._refuse(Refusal.DUPLICATE, entry, "same frame heard again", frame)
        if self._seen(entry.watch.mac, counter, mic):
            raise self._replay(entry, frame, f"counter {counter} is not above the last "
                               f"accepted {last} and this exact frame was accepted before")
        if counter < RESTART_BELOW or has_button(frame):
            return last
        return self._unplaced(entry, frame, last)

    def _unplaced(self, entry: _Entry, frame: Frame, last: int) -> int:
        """A lower counter too high for a battery change and older than the kept history:
        a restart only once the watch has gone on counting from it for a while."""
        counter, now, first = frame.counter or 0, self._now(), entry.unplaced
        if first is not None and counter > first[0] and now - first[1] >= RESTART_CONFIRM_S:
            return last
        if first is None or counter < first[0]:
            # the lowest such counter, timed from the first: a copy of a high one heard
            # first must not hold back the watch's own lower frames
            entry.unplaced = (counter, now if first is None else first[1])
        raise self._refuse(Refusal.REPLAY, entry, f"counter {counter} is below the last "
                           f"accepted {last}, too high for a battery change and older than "
                           "the kept history: a copy, or a restart the hub missed the start "
                           "of, taken as one if the watch goes on counting from it", frame)

    def _replay(self, entry: _Entry, frame: Frame, reason: str) -> FrameRefused:
        return self._refuse(Refusal.REPLAY, entry, f"{reason} (replayed frame)", frame)

    def _refuse(self, kind: Refusal, entry: _Entry, reason: str,
                frame: Frame | None = None) -> FrameRefused:
        self.counts[kind] += 1
        return FrameRefused(kind, entry.watch.mac, reason, frame)

    def accept(self, admitted: Admitted) -> None:
        """Remember the frame's counter once it is stored."""
        entry = self._entries.get(admitted.watch.mac)
        if entry is None:
            return
        self.counts["accepted"] += 1
        entry.last_raw, entry.last_at = admitted.raw, self._now()
        entry.unplaced = None  # a frame above the last counter, or a restart: judged
        if admitted.restart_from is not None:
            self.counts["restarted"] += 1
            entry.old_high = max(entry.old_high or 0, admitted.restart_from)
        if admitted.frame.counter is not None:
            entry.last_counter = admitted.frame.counter

    def watches(self) -> list[Watch]:
        return [entry.watch for entry in self._entries.values()]


def _identity(mac: str, data: bytes) -> str:
    """The watch's MAC: the one inside the frame when the MAC-included flag is set."""
    if data and data[0] & _MAC_INCLUDED and len(data) >= 7:
        return ":".join(f"{b:02X}" for b in reversed(data[1:7]))
    return mac.upper()
