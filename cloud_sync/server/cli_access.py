"""`edge-hub server add-hub`, `api-token` and `broker-config`: the logins an administrator
makes for hubs, for programs that read the API, and for the broker."""

from __future__ import annotations

import argparse
import os
import time
from contextlib import closing
from pathlib import Path

from cloud_sync.server.access import Access, BrokerUser
from cloud_sync.server.credentials import login_name
from cloud_sync.server.errors import ReceiverSetupError
from cloud_sync.server.store import open_store

SERVER_USER = "edge-hub-server"


def add_hub(args: argparse.Namespace) -> int:
    """Make a hub's login and print it with the hub.toml lines that use it."""
    if not args.alert or not args.community:
        raise ReceiverSetupError("usage: edge-hub server add-hub HUB_ID --community COMMUNITY_ID "
                                 "[--db URL]")
    with closing(open_store(args.db)) as store:
        secret = Access(store.db).add_hub(args.community, args.alert, now=time.time())
    user = login_name(args.community, args.alert)
    print(f"Hub {args.alert} of community {args.community} may now log in as {user!r}.\n"
          f"Its secret, shown only now (running add-hub again makes a new one and the old one "
          f"stops working):\n\n  {secret}\n\n"
          f"In the hub's /etc/edge-hub/hub.toml (readable by the hub only: chmod 600):\n\n"
          f"[hub]\ncommunity_id = \"{args.community}\"\nid = \"{args.alert}\"\n\n"
          f"[uplink]\nbroker = \"mqtts://<server>:8883\"\nusername = \"{user}\"\n"
          f"password = \"{secret}\"\nhttp_url = \"https://<server>\"\n\n"
          "Then run `edge-hub server broker-config` again so that the broker knows it.")
    return 0


def add_user(args: argparse.Namespace) -> int:
    """Make (or reset) a console account and print its password once."""
    if not args.alert or not args.community or not args.name:
        raise ReceiverSetupError("usage: edge-hub server add-user USERNAME --community ID --name "
                                 "NAME [--role admin|desk|worker] [--db URL]")
    from cloud_sync.server.people import People

    with closing(open_store(args.db)) as store:
        password = People(store.db).add(args.alert, args.name, args.role, args.community,
                                        now=time.time(), contact=args.contact)
    print(f"{args.name} ({args.role}, community {args.community}) logs in to the console as "
          f"{args.alert!r} with this password, shown only now:\n\n  {password}\n\n"
          "Running add-user again for the same username sets a new password and ends their "
          "sessions.")
    return 0


def assign(args: argparse.Namespace) -> int:
    """Name a building's first and backup workers by their roster contact ids."""
    if not args.alert or not args.community or not args.first or not args.backup:
        raise ReceiverSetupError("usage: edge-hub server assign HUB_ID --community ID --first "
                                 "CONTACT --backup CONTACT [--db URL]")
    from cloud_sync.server.duty import Duty

    with closing(open_store(args.db)) as store:
        Duty(store.db).assign(args.community, args.alert, args.first, args.backup)
    print(f"Building of hub {args.alert} ({args.community}): first worker {args.first}, backup "
          f"{args.backup}. An alert nobody claims in time is texted to {args.backup} through "
          "the hub (the contact must be in the hub's roster).")
    return 0


def api_token(args: argparse.Namespace) -> int:
    """Make a token for the JSON API that sees one community."""
    if not args.community or not args.name:
        raise ReceiverSetupError("usage: edge-hub server api-token --community COMMUNITY_ID "
                                 "--name WHO [--db URL]")
    with closing(open_store(args.db)) as store:
        secret = Access(store.db).add_api_token(args.name, args.community, now=time.time())
    print(f"API token for {args.name!r} (community {args.community}), shown only now:\n\n"
          f"  {secret}\n\nSend it as the header  Authorization: Bearer {secret[:6]}…")
    return 0


def broker_config(args: argparse.Namespace) -> int:
    """Write the broker's password file and ACL: each hub may publish only its own topics
    and read only its own cmd topic; the server has its own user."""
    if args.out is None:
        raise ReceiverSetupError("usage: edge-hub server broker-config --out DIR [--db URL] "
                                 "[--topic-root ROOT]")
    with closing(open_store(args.db)) as store:
        access = Access(store.db)
        server_secret = access.ensure_server_login(SERVER_USER, now=time.time())
        hubs = access.broker_users()
        server_hash = access.server_broker_hash(SERVER_USER)
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    passwords = [f"{SERVER_USER}:{server_hash}"] + [f"{u.username}:{u.broker_hash}" for u in hubs]
    _write_private(folder / "passwd", "\n".join(passwords) + "\n")
    _write_private(folder / "acl", acl_text(args.topic_root, hubs))
    print(f"Wrote {folder / 'passwd'} ({len(hubs)} hub(s) and the server) and {folder / 'acl'}.\n"
          "In mosquitto.conf:\n\n  allow_anonymous false\n  use_username_as_clientid true\n"
          f"  password_file {folder.resolve() / 'passwd'}\n  acl_file {folder.resolve() / 'acl'}\n\n"
          "then reload the broker (systemctl reload mosquitto, or send it SIGHUP). The files are "
          "readable by their owner only: if the broker runs as its own user, chown them to it.")
    if server_secret is not None:
        print(f"\nThe server logs in to the broker as {SERVER_USER!r} with this secret, shown only "
              f"now:\n\n  {server_secret}\n\n  edge-hub server --broker "
              f"mqtts://{SERVER_USER}:{server_secret}@<broker>:8883 …")
    return 0


def acl_text(topic_root: str, hubs: list[BrokerUser]) -> str:
    """Mosquitto ACL: the server reads every hub's events, status and replies and writes
    their cmd topics; a hub writes only its own events, status and replies, reads only
    its own cmd topic."""
    lines = ["# Written by edge-hub server broker-config; run it again after add-hub.",
             f"user {SERVER_USER}"]
    lines += [f"topic read {topic_root}+/+/{kind}" for kind in ("events", "status", "cmd/reply")]
    lines += [f"topic write {topic_root}+/+/cmd", ""]
    for hub in hubs:
        base = f"{topic_root}{hub.community}/{hub.hub}/"
        lines += [f"user {hub.username}", f"topic write {base}events", f"topic write {base}status",
                  f"topic write {base}cmd/reply", f"topic read {base}cmd", ""]
    return "\n".join(lines)


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner may read (the broker runs as that owner or root)."""
    temporary = path.with_name(path.name + ".new")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)
