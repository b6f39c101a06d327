"""What is wrong right now, from what the hubs reported: each hub's open faults (modem,
storage, mains) and the watches a hub reported silent or with a low battery. A fault is
open from its event until the event that ends it.

A low battery ends when the watch later reports one above 30 (changed or charged). Those
reports are most of what watches send, so they are not read here one by one: each
watch's row keeps when it last reported one (watches.charged_at, kept at ingest), and
only the reports that start or end a fault are folded. They are few: a watch goes
silent or low now and then, a battery report comes with every change of level."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cloud_sync.server.db import Db
from cloud_sync.server.logic import decode_object
from cloud_sync.server.wire import watch_mac

# event type -> (fault, True when it starts it / False when it ends it)
HUB_FAULTS = {"hub.modem_fault": ("modem", True), "hub.modem_dead": ("modem", True),
              "hub.modem_recovered": ("modem", False), "hub.modem_restored": ("modem", False),
              "hub.storage_fault": ("storage", True), "hub.storage_restored": ("storage", False),
              "hub.mains_lost": ("mains", True), "hub.mains_restored": ("mains", False)}
WATCH_FAULTS = {"watch.silent": ("silent", True), "watch.restored": ("silent", False),
                "watch.battery_low": ("battery_low", True)}


def open_faults(db: Db, community: str) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """({hub: [open faults]}, {watch MAC: [open faults]}) for a community."""
    kinds = sorted(HUB_FAULTS) + sorted(WATCH_FAULTS)
    with db.transaction(write=False) as tx:
        rows = tx.rows(f"SELECT hub, type, body, at_epoch FROM events WHERE community = ? AND "
                       f"type IN ({', '.join('?' * len(kinds))}) ORDER BY at_epoch, seq",
                       [community, *kinds])
        charged = tx.rows("SELECT mac, charged_at FROM watches WHERE community = ? AND "
                          "charged_at IS NOT NULL", [community])
    return fold(rows, {str(mac): float(at) for mac, at in charged})


def fold(rows: Iterable[tuple[Any, ...]], charged: Mapping[str, float] | None = None
         ) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The faults still open after these (hub, type, body, at) rows, oldest first, where
    `charged` says when each watch last reported a battery above 30 (a low battery
    reported before that has ended)."""
    hubs: dict[str, dict[str, bool]] = {}
    watches: dict[str, dict[str, bool]] = {}
    low_at: dict[str, float] = {}
    for hub, kind, body, at in rows:
        if kind in HUB_FAULTS:
            fault, starts = HUB_FAULTS[kind]
            hubs.setdefault(str(hub), {})[fault] = starts
            continue
        event: Mapping[str, Any] = decode_object(body) or {}
        mac = watch_mac(event)  # in the form the watches' rows have it
        if mac is None:
            continue
        if kind in WATCH_FAULTS:
            fault, starts = WATCH_FAULTS[kind]
            watches.setdefault(mac, {})[fault] = starts
            if fault == "battery_low":
                low_at[mac] = float(at)
    for mac, at in (charged or {}).items():
        if mac in low_at and at > low_at[mac]:
            watches[mac]["battery_low"] = False
    return ({hub: sorted(f for f, on in found.items() if on) for hub, found in hubs.items()},
            {mac: sorted(f for f, on in found.items() if on) for mac, found in watches.items()})
