"""Reports for the service centre: alerts per month and building, how they ended, and how
long people took to claim them and to be on site; and every alert as CSV.

Months and times are local (Asia/Shanghai, where these communities are). Times are from
when the server received the alert. A CSV cell that a spreadsheet would read as a formula
(=, +, -, @) is quoted with a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from cloud_sync.server.db import Db
from cloud_sync.server.logic import public_alert_id

ZONE = ZoneInfo("Asia/Shanghai")
COLUMNS = ("alert", "received", "resident", "room", "hubs", "state", "claimed_by",
           "minutes_to_claim", "on_site_by", "minutes_to_on_site", "closed_by", "closed",
           "outcome", "note", "overdue")


def alert_rows(db: Db, community: str) -> list[dict[str, Any]]:
    """Every alert of the community, oldest first, with what people did and when."""
    with db.transaction(write=False) as tx:
        rows = tx.rows("SELECT id, COALESCE(received_at, first_at), resident_name, resident_room, "
                       "state, claimed_by, claimed_at, acknowledged_by, acknowledged_at, "
                       "closed_by, closed_at, outcome, note, overdue_at FROM alerts "
                       "WHERE community = ? ORDER BY id", [community])
        hubs: dict[int, list[str]] = {}
        for number, hub in tx.rows("SELECT h.alert_id, h.hub FROM alert_hubs h JOIN alerts a "
                                   "ON a.id = h.alert_id WHERE a.community = ? "
                                   "ORDER BY h.first_at", [community]):
            hubs.setdefault(int(number), []).append(str(hub))
    found = []
    for (number, received, resident, room, state, claimed_by, claimed_at, on_site_by,
         on_site_at, closed_by, closed_at, outcome, note, overdue_at) in rows:
        found.append({
            "alert": public_alert_id(int(number)), "received": float(received),
            "resident": resident, "room": room, "hubs": hubs.get(int(number), []),
            "state": state, "claimed_by": claimed_by,
            "to_claim_s": _since(received, claimed_at), "on_site_by": on_site_by,
            "to_on_site_s": _since(received, on_site_at), "closed_by": closed_by,
            "closed": closed_at, "outcome": outcome, "note": note,
            "overdue": overdue_at is not None})
    return found


def monthly(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per month and building (the first hub that heard it): how many, how they ended,
    and the median and 90th percentile of minutes to claim and to be on site."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        month = datetime.fromtimestamp(row["received"], ZONE).strftime("%Y-%m")
        groups.setdefault((month, (row["hubs"] or ["?"])[0]), []).append(row)
    report = []
    for (month, hub), members in sorted(groups.items()):
        outcomes: dict[str, int] = {}
        for row in members:
            key = row["outcome"] or "not_closed"
            outcomes[key] = outcomes.get(key, 0) + 1
        report.append({"month": month, "hub": hub, "alerts": len(members), "outcomes": outcomes,
                       "overdue": sum(1 for row in members if row["overdue"]),
                       **_spread("claim", [r["to_claim_s"] for r in members]),
                       **_spread("on_site", [r["to_on_site_s"] for r in members])})
    return report


def as_csv(rows: Iterable[dict[str, Any]]) -> str:
    """Every alert as CSV (UTF-8 with a byte-order mark, so spreadsheets read Chinese)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell(value) for value in (
            row["alert"], _local(row["received"]), row["resident"], row["room"],
            " ".join(row["hubs"]), row["state"], row["claimed_by"], _minutes(row["to_claim_s"]),
            row["on_site_by"], _minutes(row["to_on_site_s"]), row["closed_by"],
            _local(row["closed"]), row["outcome"], row["note"], "yes" if row["overdue"] else "")])
    return out.getvalue()


def _since(start: Any, end: Any) -> float | None:
    return None if start is None or end is None else max(0.0, float(end) - float(start))


def _spread(name: str, seconds: list[float | None]) -> dict[str, float | None]:
    known = sorted(value for value in seconds if value is not None)
    if not known:
        return {f"{name}_p50_min": None, f"{name}_p90_min": None}
    p90 = known[min(len(known) - 1, round(0.9 * (len(known) - 1)))]
    return {f"{name}_p50_min": round(statistics.median(known) / 60, 1),
            f"{name}_p90_min": round(p90 / 60, 1)}


def _minutes(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds / 60:.1f}"


def _local(epoch: Any) -> str:
    return "" if epoch is None else datetime.fromtimestamp(float(epoch), ZONE).strftime(
        "%Y-%m-%d %H:%M:%S")


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
