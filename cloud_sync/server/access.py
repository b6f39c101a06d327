"""The server's logins, as stored: hubs' logins and API tokens (cloud_sync.server.credentials
says what is kept of a secret and why)."""

from __future__ import annotations

from dataclasses import dataclass

from cloud_sync.contract.ids import is_id
from cloud_sync.server.credentials import (
    ApiCaller,
    HubLogin,
    login_name,
    mosquitto_hash,
    new_secret,
    same_hash,
    secret_hash,
)
from cloud_sync.server.db import Db
from cloud_sync.server.errors import ReceiverSetupError

TOKEN_ID_LENGTH = 12  # the start of a token's hash: names it in lists and to revoke it


@dataclass(frozen=True, slots=True)
class BrokerUser:
    """A line of the broker's password file and whose topics it may use."""

    username: str
    broker_hash: str
    community: str
    hub: str


class Access:
    """Makes and checks the logins kept in the server's database."""

    def __init__(self, db: Db) -> None:
        self.db = db

    def add_hub(self, community: str, hub: str, *, now: float) -> str:
        """Make (or make again, replacing the old one) a hub's login; returns its secret."""
        for what, value in (("community", community), ("hub", hub)):
            if not is_id(value):
                raise ReceiverSetupError(f"{what} {value!r}: expected an id of letters, digits, "
                                         '".", "_" or "-" (at most 64 characters)')
        secret = new_secret()
        with self.db.transaction(write=True) as tx:
            tx.run("DELETE FROM hub_logins WHERE community = ? AND hub = ?", [community, hub])
            tx.run("INSERT INTO hub_logins (community, hub, secret_hash, broker_hash, created_at) "
                   "VALUES (?, ?, ?, ?, ?)",
                   [community, hub, secret_hash(secret), mosquitto_hash(secret), now])
        return secret

    def hub_login(self, username: str, secret: str) -> HubLogin | None:
        """The hub a username and secret log in as, or None."""
        community, _, hub = username.partition("/")
        if not (is_id(community) and is_id(hub)):
            return None
        with self.db.transaction(write=False) as tx:
            rows = tx.rows("SELECT secret_hash FROM hub_logins WHERE community = ? AND hub = ?",
                           [community, hub])
        if rows and same_hash(secret, str(rows[0][0])):
            return HubLogin(community, hub)
        return None

    def broker_users(self) -> list[BrokerUser]:
        """Every hub's broker login, for the broker's password and ACL files."""
        with self.db.transaction(write=False) as tx:
            rows = tx.rows("SELECT community, hub, broker_hash FROM hub_logins "
                           "ORDER BY community, hub")
        return [BrokerUser(login_name(community, hub), str(kept), community, hub)
                for community, hub, kept in rows]

    def ensure_server_login(self, username: str, *, now: float) -> str | None:
        """Make the server's own broker login if it has none; its secret, or None if kept."""
        secret = new_secret()
        with self.db.transaction(write=True) as tx:
            if tx.rows("SELECT 1 FROM server_logins WHERE username = ?", [username]):
                return None
            tx.run("INSERT INTO server_logins (username, broker_hash, created_at) VALUES (?, ?, ?)",
                   [username, mosquitto_hash(secret), now])
        return secret

    def server_broker_hash(self, username: str) -> str:
        """The broker's hash of the server's own login (made by ensure_server_login)."""
        with self.db.transaction(write=False) as tx:
            rows = tx.rows("SELECT broker_hash FROM server_logins WHERE username = ?", [username])
        if not rows:
            raise ReceiverSetupError(f"no broker login for {username!r}; run broker-config")
        return str(rows[0][0])

    def add_api_token(self, name: str, community: str, *, now: float) -> str:
        """A token for the JSON API that sees one community; returns its secret."""
        if not is_id(community):
            raise ReceiverSetupError(f"community {community!r}: expected an id of letters, "
                                     'digits, ".", "_" or "-"')
        if not name.strip() or len(name) > 100:
            raise ReceiverSetupError("--name: expected who or what uses the token (1 to 100 "
                                     "characters), like duty-desk-screen")
        secret = new_secret()
        with self.db.transaction(write=True) as tx:
            tx.run("INSERT INTO api_tokens (secret_hash, name, community, created_at) "
                   "VALUES (?, ?, ?, ?)", [secret_hash(secret), name.strip(), community, now])
        return secret

    def api_caller(self, secret: str) -> ApiCaller | None:
        """Who an API token belongs to, or None."""
        with self.db.transaction(write=False) as tx:
            rows = tx.rows("SELECT name, community FROM api_tokens WHERE secret_hash = ?",
                           [secret_hash(secret)])
        return ApiCaller(str(rows[0][0]), str(rows[0][1])) if rows else None

    def api_tokens(self, community: str) -> list[dict[str, object]]:
        """The community's API tokens: an id to revoke each by, its name, when it was made."""
        with self.db.transaction(write=False) as tx:
            rows = tx.rows("SELECT secret_hash, name, created_at FROM api_tokens WHERE "
                           "community = ? ORDER BY created_at", [community])
        return [{"id": str(kept)[:TOKEN_ID_LENGTH], "name": name, "created_at": created}
                for kept, name, created in rows]

    def revoke_api_token(self, community: str, token_id: str) -> str:
        """Revoke the community's token with this id (from api_tokens); returns its name, or
        raises ReceiverSetupError when the id names none (or more than one)."""
        if not (token_id.isalnum() and len(token_id) == TOKEN_ID_LENGTH):
            raise ReceiverSetupError(f"token id {token_id[:40]!r}: expected the "
                                     f"{TOKEN_ID_LENGTH} characters the token list shows")
        with self.db.transaction(write=True) as tx:
            rows = tx.rows("SELECT secret_hash, name FROM api_tokens WHERE community = ? AND "
                           "secret_hash LIKE ?", [community, f"{token_id}%"])
            if len(rows) != 1:
                raise ReceiverSetupError(f"no API token {token_id!r} in community {community}; "
                                         "expected an id from the token list")
            tx.run("DELETE FROM api_tokens WHERE secret_hash = ?", [rows[0][0]])
        return str(rows[0][1])
