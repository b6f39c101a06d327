"""edge-hub status and edge-hub alerts: what an installer or duty worker asks of a hub."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.clock import utc_text
from edge.config.paths import DEFAULT_CONFIG

if TYPE_CHECKING:
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
    from edge.config.loader import load_config
    from edge.storage.store import Store

    if args.db is not None:
        return Store.open(args.db)
    return Store.open(load_config(args.config).hub.database)


def status_of(store: Store, now: float) -> dict[str, Any]:
    """The hub as its store knows it: watches, open alerts, queues and live state."""
    rows = store.db.execute(
        "SELECT w.mac, w.resident_id, r.name, w.battery, w.last_heard_at, w.rssi, c.last_counter,"
        " w.insecure, coalesce(c.restarts, 0), c.restarted_at FROM watches w "
        "LEFT JOIN residents r ON r.id = w.resident_id "
        "LEFT JOIN watch_counters c ON c.mac = w.mac WHERE w.active = 1 ORDER BY w.mac"
    ).fetchall()
    watches = [{"mac": mac, "resident": rid, "name": name, "battery": battery,
                "last_heard": utc_text(heard) if heard else None,
                "silent_s": round(now - heard) if heard else None, "rssi": rssi,
                "counter": counter, "insecure": bool(insecure), "counter_restarts": restarts,
                "counter_restarted": utc_text(restarted) if restarted else None}
               for mac, rid, name, battery, heard, rssi, counter, insecure, restarts, restarted
               in rows]
    sms_queue = store.db.execute("SELECT count(*) FROM sms_out WHERE state = 'queued'")
    return {"watches": watches,
            "open_alerts": [_alert_json(store, a) for a in store.open_alerts()],
            "queues": {"outbox": store.outbox_depth(), "sms": int(sms_queue.fetchone()[0])},
            "live": json.loads(store.meta("live_status", "{}"))}


def _alert_json(store: Store, alert: Any) -> dict[str, Any]:
    person = store.resident(alert.resident_id)
    return {"ref": alert.ref, "state": alert.state.value, "resident": alert.resident_id,
            "name": person.name if person else "", "room": person.room if person else "",
            "raised": utc_text(alert.raised_at), "presses": alert.press_count,
            "closed_by": alert.closed_by}


def cmd_status(args: argparse.Namespace) -> int:
    store = _store(args)
    try:
        data = status_of(store, time.time())
    finally:
        store.close()
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    live = data["live"]
    print(f"modem: {live.get('modem', 'unknown')}; uplink: {live.get('uplink', 'unknown')}; "
          f"queued events {data['queues']['outbox']}, texts {data['queues']['sms']}")
    print(f"open alerts: {len(data['open_alerts'])}")
    for alert in data["open_alerts"]:
        print(f"  {alert['ref']}  {alert['name']} ({alert['room']})  {alert['state']}  "
              f"since {alert['raised']}")
    print(f"watches: {len(data['watches'])}")
    for watch in data["watches"]:
        heard = f"heard {watch['silent_s']} s ago" if watch["silent_s"] is not None else "never heard"
        print(f"  {watch['mac']}  {watch['name'] or watch['resident']:<8} battery "
              f"{watch['battery'] if watch['battery'] is not None else '?'}%  {heard}  "
              f"rssi {watch['rssi']}  counter {watch['counter']}"
              + (f" (restarted {watch['counter_restarted']})" if watch["counter_restarted"]
                 else ""))
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

    config = load_config(args.config)
    store = Store.open(args.db or config.hub.database)
    try:
        hub = Hub(config.hub.id, store, SystemClock(), config.alerts)
        taken = hub.acknowledge(args.alert, args.by)
    finally:
        store.close()
    print(f"alert {taken.ref} acknowledged by {args.by}; the hub tells those it texted.")
    return 0
