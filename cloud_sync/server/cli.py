"""edge-hub server (or its old name, receiver): run the community server, act on an alert
as a worker would, or make the logins of hubs, API programs and the broker."""

from __future__ import annotations

import argparse
import ipaddress
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from cloud_sync.contract.broker_url import parse_broker_url, parse_http_address
from cloud_sync.server.errors import ReceiverSetupError
from cloud_sync.server.settings import (
    DEFAULT_DB,
    DEFAULT_GROUP,
    DEFAULT_POOL,
    DEFAULT_ROOT,
    LOOPBACK,
    check_topic_root,
)

if TYPE_CHECKING:
    from cloud_sync.server.service import HeldCommands

EXAMPLES = """examples:
  edge-hub server add-hub b3 --community xingfuli      (prints the hub's login, once)
  edge-hub server api-token --community xingfuli --name duty-desk-screen
  edge-hub server broker-config --out /etc/mosquitto/edge-hub
  edge-hub server --broker mqtt://127.0.0.1:1883 --http 0.0.0.0:8080 \\
      --roster xingfuli.toml --roster heping.toml
  edge-hub server --broker mqtts://edge-hub-server:SECRET@mqtt.example.org:8883 \\
      --db 'postgresql://rx@db/eldercare?pool=8'
  edge-hub server ack C12 --by "王主任" --broker mqtt://127.0.0.1:1883
  edge-hub server claim C12 --by "王主任" --for 15 --broker mqtt://127.0.0.1:1883
"""


def broker_url_argument(text: str) -> str:
    """argparse type for a broker URL: the error names the expected form."""
    try:
        parse_broker_url(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _http(text: str) -> tuple[str, int]:
    try:
        return parse_http_address(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _deadline(text: str) -> float:
    try:
        minutes = float(text)
    except ValueError:
        minutes = -1.0
    if not 1 <= minutes <= 60:
        raise argparse.ArgumentTypeError(f"expected minutes from 1 to 60, got {text!r}")
    return minutes


def _proxy(text: str) -> str:
    """An address, or a network as uvicorn reads one (10.0.0.5/24 is 10.0.0.0/24)."""
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an IP address like 10.0.0.5 or a network "
                                         f"like 10.0.0.0/24, got {text!r}") from None
    return str(network) if "/" in text else text


def _root(text: str) -> str:
    try:
        return check_topic_root(text)
    except ReceiverSetupError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_receiver_commands(commands: argparse._SubParsersAction) -> None:
    """Register `receiver [run]` and `receiver ack ALERT --by NAME` under commands."""
    receiver = commands.add_parser(
        "server", aliases=["receiver"],
        help="run the community server, ack or claim an alert, or make logins for hubs, "
             "programs and the broker",
        description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    receiver.add_argument("action", nargs="?", default="run",
                          choices=("run", "ack", "claim", "away", "back", "add-hub",
                                   "add-user", "api-token", "broker-config", "assign"),
                          help="run the server (the default); ack an alert, or claim one (a "
                               "worker on the way); away or back: a resident is away (the "
                               "hubs pause their welfare checks) or back; add-hub: make a "
                               "hub's login; add-user: a console account; assign: a "
                               "building's first and backup workers; api-token: a "
                               "token for the JSON API; broker-config: the broker's password "
                               "file and ACL")
    receiver.add_argument("alert", nargs="?", metavar="ALERT|HUB|RESIDENT",
                          help="with ack or claim: a community alert id (C12), or a hub's "
                               "alert ref or uid; with add-hub and assign: the hub's id; with "
                               "add-user: the username; with away and back: the resident's id")
    receiver.add_argument("--community", metavar="ID", help="with add-hub, api-token, away "
                          "and back: the community's id")
    receiver.add_argument("--until", metavar="WHEN", help='with away: when they are back, the '
                          'server\'s local time: "2026-12-10" (back that day: the checks '
                          'resume at its end) or "2026-12-10 18:00"')
    receiver.add_argument("--name", metavar="WHO", help="with api-token: who or what uses it; "
                          "with add-user: the person's name as colleagues know it")
    receiver.add_argument("--role", choices=("admin", "desk", "worker"), default="desk",
                          help="with add-user: what they may do (default desk)")
    receiver.add_argument("--contact", metavar="ID", default="",
                          help="with add-user --role worker: their contact id in the roster "
                               "(they see the buildings whose first or backup they are)")
    receiver.add_argument("--first", metavar="CONTACT", help="with assign: the first worker's "
                          "contact id in the community's roster")
    receiver.add_argument("--backup", metavar="CONTACT", help="with assign: the backup "
                          "worker's contact id, texted when nobody claims an alert in time")
    receiver.add_argument("--claim-deadline-min", type=_deadline, default=5.0, metavar="MINUTES",
                          help="an alert nobody claimed within this long turns overdue and "
                               "the building's backup is texted (default 5, 1 to 60)")
    receiver.add_argument("--out", metavar="DIR", type=Path,
                          help="with broker-config: where to write passwd and acl")
    receiver.add_argument("--broker", type=broker_url_argument, metavar="URL",
                          help="mqtt://[user:pass@]host:port, or mqtts://… for TLS (needed to run)")
    receiver.add_argument("--db", default=DEFAULT_DB, metavar="URL",
                          help=f"sqlite:///file, a file path, or postgresql://…[?pool=N] (default "
                               f"{DEFAULT_DB}); N is how many PostgreSQL connections the "
                               f"server's threads share (default {DEFAULT_POOL})")
    receiver.add_argument("--http", type=_http, metavar="HOST:PORT",
                          help="also serve POST /ingest, GET /commands and the JSON API here")
    receiver.add_argument("--trusted-proxy", action="append", metavar="ADDRESS", type=_proxy,
                          help="the address of the HTTPS proxy in front of --http (default "
                               "this machine): only its X-Forwarded-For and X-Forwarded-Proto are "
                               "believed, so wrong passwords count per person's address and the "
                               "session cookie is Secure; repeat for several")
    receiver.add_argument("--group", default=DEFAULT_GROUP, metavar="NAME",
                          help="shared-subscription group; receivers of one group split the load")
    receiver.add_argument("--roster", type=Path, metavar="FILE", action="append", default=[],
                          help="a community's roster TOML (community = its id, then [[residents]], "
                               "[[watches]], [[contacts]]), sent to that community's hubs only; "
                               "repeat for each community. Loaded into the database when the "
                               "file changed since it was last loaded; the console's "
                               "administrators edit it there")
    receiver.add_argument("--topic-root", type=_root, default=DEFAULT_ROOT, metavar="ROOT",
                          help=f"topic prefix before <community>/<hub>/ (default {DEFAULT_ROOT})")
    receiver.add_argument("--by", metavar="NAME", help="with ack, claim, away or back: who")
    receiver.add_argument("--for", dest="for_min", type=float, metavar="MINUTES", default=20,
                          help="with claim: how long SMS waits for them (default 20, 1-60)")
    receiver.set_defaults(func=cmd_receiver)


def cmd_receiver(args: argparse.Namespace) -> int:
    """Dispatch `edge-hub receiver` to run or ack."""
    if args.action in ("ack", "claim"):
        return ack_alert(args)
    if args.action in ("away", "back"):
        return resident_away(args)
    if args.action in ("add-hub", "add-user", "api-token", "broker-config", "assign"):
        from cloud_sync.server import cli_access

        actions = {"add-hub": cli_access.add_hub, "add-user": cli_access.add_user,
                   "api-token": cli_access.api_token, "broker-config": cli_access.broker_config,
                   "assign": cli_access.assign}
        return actions[args.action](args)
    if args.alert is not None:
        raise ReceiverSetupError(f"unexpected {args.alert!r}; to acknowledge an alert use: "
                                 f"edge-hub receiver ack {args.alert} --by NAME")
    return run_receiver(args)


def run_receiver(args: argparse.Namespace, stop: threading.Event | None = None) -> int:
    """Run until SIGTERM or Ctrl-C (or until `stop` is set)."""
    if args.broker is None:
        raise ReceiverSetupError("the receiver needs --broker mqtt://host:port, the broker the hubs "
                                 "publish to")
    from cloud_sync.server.receiver import Receiver
    from cloud_sync.server.roster import load_roster_file

    rosters = [load_roster_file(path) for path in args.roster]
    receiver = Receiver(args.broker, args.db, group=args.group, topic_root=args.topic_root,
                        rosters=rosters, http=args.http,
                        claim_deadline_s=args.claim_deadline_min * 60,
                        trusted_proxies=tuple(args.trusted_proxy or LOOPBACK))
    stop = stop or threading.Event()
    restore = _stop_on_signals(stop)
    try:
        receiver.start()
        while not stop.wait(1.0):
            pass
    finally:
        receiver.stop()
        restore()
    return 0


def ack_alert(args: argparse.Namespace) -> int:
    """ack: mark the alert taken and send alert_ack to every hub that reported it; claim:
    send alert_claimed (a worker on the way: SMS waits for them while it lasts)."""
    if not args.alert or not args.by:
        raise ReceiverSetupError(f"usage: edge-hub receiver {args.action} ALERT --by NAME "
                                 "[--db URL] [--broker URL]")
    from cloud_sync.server.service import HeldCommands, ReceiverService
    from cloud_sync.server.store import open_store

    held = HeldCommands()
    store = open_store(args.db)
    try:
        service = ReceiverService(store, held, topic_root=args.topic_root)
        uids = (service.acknowledge(args.alert, args.by) if args.action == "ack" else
                service.claim(args.alert, args.by, args.for_min * 60))
    finally:
        store.close()
    queued, what = len(uids) - len(held.held), ("alert_ack" if args.action == "ack"
                                                 else "alert_claimed")
    if not _published(args, held):
        return 1
    done = "Acknowledged" if args.action == "ack" else "Claimed"
    print(f"{done} {args.alert} by {args.by}: {what} sent to {len(held.held)} hub(s) over "
          f"MQTT, queued for {queued} hub(s) on HTTP.")
    return 0


def resident_away(args: argparse.Namespace) -> int:
    """away: every hub of the community pauses the resident's welfare checks until --until;
    back: they watch again. Hubs on MQTT are told with --broker, those on HTTP at their
    next poll."""
    usage = (f"usage: edge-hub server {args.action} RESIDENT --community ID "
             f"{'--until WHEN ' if args.action == 'away' else ''}--by NAME [--db URL] "
             "[--broker URL]")
    if not args.alert or not args.by or not args.community or \
            (args.action == "away") != bool(args.until):
        raise ReceiverSetupError(usage)
    from cloud_sync.server.away import parse_until, shown
    from cloud_sync.server.roster_book import RosterBook
    from cloud_sync.server.service import HeldCommands, ReceiverService
    from cloud_sync.server.store import open_store

    held, now = HeldCommands(), time.time()
    until = parse_until(args.until, now) if args.action == "away" else None
    store = open_store(args.db)
    try:
        service = ReceiverService(store, held, topic_root=args.topic_root,
                                  rosters=RosterBook(store.db))
        hubs = service.resident_away(args.community, args.alert, until, args.by)
    finally:
        store.close()
    if not _published(args, held):
        return 1
    what = "back" if until is None else f"away until {shown(until)}"
    print(f"{args.alert} is {what} ({args.by}): resident_away sent to {len(held.held)} hub(s) "
          f"over MQTT, queued for {len(hubs) - len(held.held)} hub(s) on HTTP.")
    return 0


def _published(args: argparse.Namespace, held: HeldCommands) -> bool:
    """Publish the commands held for hubs on MQTT through --broker; without one, say that
    they were not told and return False."""
    from cloud_sync.server.receiver import publish_commands

    if held.held and args.broker is None:
        print(f"{args.alert}: {len(held.held)} hub(s) on MQTT were not told: run the same "
              "command again with --broker URL.")
        return False
    if held.held:
        publish_commands(parse_broker_url(args.broker), held.held)
    return True


def _stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    """Let SIGTERM and Ctrl-C set `stop`; return what puts the old handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {signum: signal.signal(signum, handle) for signum in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for signum, old in previous.items():
            signal.signal(signum, old)

    return restore
