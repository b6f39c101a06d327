"""What is wrong right now, from what the hubs reported: each hub's open faults (modem,
storage, mains) and the watches a hub reported silent or with a low battery. A fault is
open from its event until the event that ends it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cloud_sync.server.db import Db
from cloud_sync.server.logic import decode_object

# event type -> (fault, True when it starts it / False when it ends it)
HUB_FAULTS = {"hub.modem_fault": ("modem", True), "hub.modem_dead": ("modem", True),
              "hub.modem_recovered": ("modem", False), "hub.modem_restored": ("modem", False),
              "hub.storage_fault": ("storage", True), "hub.storage_restored": ("storage", False),
              "hub.mains_lost": ("mains", True), "hub.mains_restored": ("mains", False)}
WATCH_FAULTS = {"watch.silent": ("silent", True), "watch.restored": ("silent", False),
                "watch.battery_low": ("battery_low", True)}


def open_faults(db: Db, community: str) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """({hub: [open faults]}, {watch MAC: [open faults]}) for a community."""
    kinds = sorted(HUB_FAULTS) + sorted(WATCH_FAULTS) + ["watch.battery"]
    with db.transaction(write=False) as tx:
        rows = tx.rows(f"SELECT hub, type, body FROM events WHERE community = ? AND type IN "
                       f"({', '.join('?' * len(kinds))}) ORDER BY at_epoch, seq",
                       [community, *kinds])
    return fold(rows)


def fold(rows: Iterable[tuple[Any, ...]]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The faults still open after these (hub, type, body) rows, oldest first."""
    hubs: dict[str, dict[str, bool]] = {}
    watches: dict[str, dict[str, bool]] = {}
    for hub, kind, body in rows:
        if kind in HUB_FAULTS:
            fault, starts = HUB_FAULTS[kind]
            hubs.setdefault(str(hub), {})[fault] = starts
            continue
        event: Mapping[str, Any] = decode_object(body) or {}
        mac = event.get("watch")
        if not isinstance(mac, str):
            continue
        if kind in WATCH_FAULTS:
            fault, starts = WATCH_FAULTS[kind]
            watches.setdefault(mac, {})[fault] = starts
        elif kind == "watch.battery" and isinstance(event.get("battery"), int) \
                and event["battery"] > 30:  # a battery changed or charged ends "low"
            watches.setdefault(mac, {})["battery_low"] = False
    return ({hub: sorted(f for f, on in found.items() if on) for hub, found in hubs.items()},
            {mac: sorted(f for f, on in found.items() if on) for mac, found in watches.items()})
