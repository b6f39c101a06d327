"""edge-hub status and edge-hub alerts: what an installer or duty worker asks of a hub."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.clock import utc_text
from edge.config.paths import DEFAULT_CONFIG
from edge.errors import HubError

if TYPE_CHECKING:
    from edge.config.loader import HubConfig
    from edge.storage.store import Store


def add_tool_commands(commands: argparse._SubParsersAction) -> None:
    """Register `status` and `alerts list|ack`."""
    status = commands.add_parser("status", help="watches, open alerts, modem, uplink, queues")
    _common(status)
    status.set_defaults(func=cmd_status)

    alerts = commands.add_parser("alerts", help="list alerts, or acknowledge one")
    actions = alerts.add_subparsers(dest="alerts_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="recent alerts, newest first")
    _common(listing)
    listing.add_argument("--open", action="store_true", help="only open alerts")
    listing.set_defaults(func=cmd_alerts_list)
    ack = actions.add_parser("ack", help="acknowledge an alert as the responder on site")
    _common(ack, json_flag=False)
    ack.add_argument("alert", metavar="REF", help="the alert's reference, like A0K3")
    ack.add_argument("--by", required=True, help="who takes it (shown to the others)")
    ack.set_defaults(func=cmd_alerts_ack)


def _common(parser: argparse.ArgumentParser, json_flag: bool = True) -> None:
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="hub.toml")
    parser.add_argument("--db", type=Path, help="database file (default: [hub] database)")
    if json_flag:
        parser.add_argument("--json", action="store_true", help="print JSON")


def _store(args: argparse.Namespace) -> Store:
    """The hub's database, which must exist, opened to read: a tool never creates one."""
    from edge.tools.hub_status import reading

    path = args.db if args.db is not None else _config(args).hub.database
    return reading(path)


def _config(args: argparse.Namespace) -> HubConfig:
    from edge.config.loader import load_config

    return load_config(args.config)


def _config_or_none(args: argparse.Namespace) -> HubConfig | None:
    """hub.toml when it can be read; status still works on a database without it."""
    try:
        return _config(args)
    except HubError:
        return None


def status_of(store: Store, now: float, config: HubConfig | None = None) -> dict[str, Any]:
    """The hub as its store knows it: running or not, watches, open alerts, queues."""
    from edge.tools.hub_status import (
        config_watches,
        live_state,
        roster_source,
        watch_rows,
    )

    source = roster_source(store)
    watches = watch_rows(store, now)
    if not source and config is not None:
        watches = config_watches(config.roster)
    sms_queue = store.db.execute("SELECT count(*) FROM sms_out WHERE state = 'queued'")
    return {"watches": watches, "sensors": watch_rows(store, now, sensors=True),
            "roster": source or None,
            "open_alerts": [_alert_json(store, a) for a in store.open_alerts()],
            "queues": {"outbox": store.outbox_depth(), "sms": int(sms_queue.fetchone()[0])},
            "live": live_state(store, now)}


def _alert_json(store: Store, alert: Any) -> dict[str, Any]:
    person = store.resident(alert.resident_id)
    return {"ref": alert.ref, "state": alert.state.value, "resident": alert.resident_id,
            "name": person.name if person else "", "room": person.room if person else "",
            "raised": utc_text(alert.raised_at), "presses": alert.press_count,
            "closed_by": alert.closed_by, "kind": alert.kind}


def cmd_status(args: argparse.Namespace) -> int:
    from edge.tools import hub_status as say

    config = _config_or_none(args)
    store = _store(args)
    try:
        data = status_of(store, time.time(), config)
    finally:
        store.close()
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    live = data["live"]
    print(say.hub_line(live))
    print(say.parts_line(live, data["queues"]))
    print(f"open alerts: {len(data['open_alerts'])}")
    for alert in data["open_alerts"]:
        kind = "  welfare check" if alert["kind"] == "welfare" else ""
        print(f"  {alert['ref']}  {alert['name']} ({alert['room']})  {alert['state']}{kind}  "
              f"since {alert['raised']}")
    silent_after = config.supervision.watch_silent_after_s if config else 3600.0
    print(say.watches_line(data["watches"], data["roster"] or "", silent_after))
    for watch in data["watches"]:
        print(say.watch_line(watch))
    if data["sensors"]:
        print(f"activity sensors: {len(data['sensors'])}")
    for sensor in data["sensors"]:
        print(say.watch_line(sensor))
    return 0


def cmd_alerts_list(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        alerts = store.open_alerts() if args.open else store.alerts(limit=50)
        rows = [_alert_json(store, a) for a in alerts]
    finally:
        store.close()
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("no open alerts" if args.open else "no alerts yet")
    for row in rows:
        by = f" by {row['closed_by']}" if row["closed_by"] else ""
        print(f"{row['ref']}  {row['name']} ({row['room']})  {row['state']}{by}  "
              f"raised {row['raised']}  presses {row['presses']}")
    return 0


def cmd_alerts_ack(args: argparse.Namespace) -> int:
    """Acknowledge through the hub core (state, change and event for the server); the
    running hub sees the closed alert on its next tick and texts those it told."""
    from edge.alerts.hub import Hub
    from edge.clock import SystemClock
    from edge.config.loader import load_config
    from edge.storage.store import Store
    from edge.tools.hub_status import existing_database

    config = load_config(args.config)
    store = Store.open(existing_database(args.db or config.hub.database))
    try:
        hub = Hub(config.hub.id, store, SystemClock(), config.alerts)
        taken = hub.acknowledge(args.alert, args.by)
    finally:
        store.close()
    print(f"alert {taken.ref} acknowledged by {args.by}; the hub tells those it texted.")
    return 0
