"""A resident away, said at the community server (the console, or `edge-hub server away`):
every hub of the community is told with a `resident_away` command (each keeps the whole
roster; the resident's own building's hub is the one whose welfare rules watch them), and
the rules pause there until the resident is back or the spell runs out (edge.sms.away)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol

from cloud_sync.contract.ids import is_id
from cloud_sync.contract.wire import local_until
from cloud_sync.server.db import Db
from cloud_sync.server.errors import ReceiverSetupError
from cloud_sync.server.logic import command, decode_object
from cloud_sync.server.reports import ZONE
from cloud_sync.server.roster_book import RosterBook
from cloud_sync.server.wire import check_name, said_by

_log = logging.getLogger("cloud_sync.server.receiver")
MAX_AWAY_S = 92 * 86_400.0  # three months at most: longer is a change of the roster

Deliver = Callable[..., None]  # ReceiverService._deliver(community, hub, payload, via=, state=)


class _Hubs(Protocol):
    def hubs(self, *, now: float, community: str | None = None) -> list[dict[str, Any]]: ...


def tell_away(store: _Hubs, deliver: Deliver, community: str, resident: str,
              until: float | None, by: str, *, now: float, new_id: Callable[[], str],
              rosters: RosterBook | None = None) -> list[str]:
    """Send `resident_away` (away until `until`, epoch seconds, or back: None) to every hub
    of the community the server has heard from; returns those hubs. Where the server keeps
    the community's roster (`rosters`), it must name the resident. ReceiverSetupError says
    what is wrong."""
    community = check_name(community, "community")
    if not is_id(resident):
        raise ReceiverSetupError(f"resident {resident[:40]!r} is not a resident id; expected "
                                 "the id of a [[residents]] entry of the roster")
    name = said_by(resident, by, "who says so")
    residents = {entry["id"] for entry in rosters.view(community)["residents"]} \
        if rosters is not None and rosters.version_of(community) else None
    if residents is not None and resident not in residents:
        raise ReceiverSetupError(f"no resident {resident!r} in community {community}'s roster")
    if until is not None and not (math.isfinite(until) and now < until <= now + MAX_AWAY_S):
        said = shown(until) if math.isfinite(until) and abs(until) <= 2**33 else repr(until)
        raise ReceiverSetupError(f"away until {said}: expected a time after now and at most "
                                 f"{MAX_AWAY_S / 86_400:.0f} days on")
    hubs = store.hubs(now=now, community=community)
    if not hubs:
        raise ReceiverSetupError(f"no hub of community {community} has been heard from yet: "
                                 "nobody would be told")
    spell = {} if until is None else {"until": until}
    for hub in hubs:
        deliver(community, hub["hub"], command(new_id(), "resident_away", resident=resident,
                                               by=name, **spell),
                via=hub["via"], state=hub["state"])
    told = ", ".join(hub["hub"] for hub in hubs)
    if until is None:
        _log.info("Resident %s (%s) is back, says %s: the welfare rules watch again; told %s.",
                  resident, community, name, told)
    else:
        _log.info("Resident %s (%s) is away until %s, says %s: the welfare rules pause until "
                  "then; told %s.", resident, community, shown(until), name, told)
    return [hub["hub"] for hub in hubs]


def asked_until(asked: Mapping[str, Any]) -> float | None:
    """The end of an away spell as the console asks it: `back_on`, the day they are back
    (the rules watch again from that day's end, in the server's zone: a flat is empty
    until they come home, whenever that day), or `until` in epoch seconds, or null for
    back. ReceiverSetupError otherwise."""
    if "back_on" in asked:
        try:
            day = date.fromisoformat(str(asked["back_on"]))
        except ValueError:
            raise ReceiverSetupError(f'back_on: expected a date like "2026-12-10", got '
                                     f'{str(asked["back_on"])[:40]!r}') from None
        return datetime.combine(day + timedelta(days=1), time(), ZONE).timestamp()
    until = asked.get("until")
    if until is None:
        return None
    if isinstance(until, bool) or not isinstance(until, int | float) \
            or not math.isfinite(until) or abs(until) > 2**33:
        raise ReceiverSetupError("until: expected epoch seconds, or null for back")
    return float(until)


def parse_until(text: str, now: float) -> float:
    """--until in the server's zone (cloud_sync.contract.wire.local_until), or
    ReceiverSetupError saying what is expected."""
    try:
        return local_until(text, ZONE, now)
    except ValueError as error:
        raise ReceiverSetupError(str(error)) from None


def away_spells(db: Db, community: str, now: float) -> dict[str, float]:
    """The community's residents who are away now, each with when the spell ends, from
    the latest `resident.away` event about them (whoever said it: the console, a family
    member's text, the hub's command line; every hub told reports it)."""
    with db.transaction(write=False) as tx:
        rows = tx.rows("SELECT body FROM events WHERE community = ? AND type = "
                       "'resident.away' ORDER BY at_epoch, seq", [community])
    ends: dict[str, float | None] = {}
    for (body,) in rows:
        event = decode_object(body) or {}
        resident, until = event.get("resident"), event.get("away_until")
        if isinstance(resident, str):
            ends[resident] = float(until) if isinstance(until, int | float) \
                and not isinstance(until, bool) and math.isfinite(until) else None
    return {resident: end for resident, end in ends.items() if end is not None and end > now}


def with_away(rows: list[dict[str, Any]],
              spells: Callable[[str], Mapping[str, float]]) -> list[dict[str, Any]]:
    """Each watch row with `away_until`: when its resident's away spell ends, or None
    (at home); `spells(community)` gives them (away_spells)."""
    for community in {row["community"] for row in rows}:
        ends = spells(community)
        for row in rows:
            if row["community"] == community:
                row["away_until"] = ends.get(str((row.get("resident") or {}).get("id")))
    return rows


def shown(epoch: float) -> str:
    """An epoch as the console and the log show it: local date and time."""
    return datetime.fromtimestamp(epoch, ZONE).strftime("%Y-%m-%d %H:%M")
