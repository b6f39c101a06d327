"""People who use the console: their accounts (argon2 password hashes, from argon2-cffi),
their sessions, and a limit on wrong passwords.

Roles: "admin" and "desk" (the duty desk: every alert of the community) and "worker"
(the buildings whose first or backup worker they are, by their contact id in the
roster). Everyone sees one community only. A session is a random id in an HttpOnly cookie; the server keeps its
SHA-256, the person, a CSRF token for every change the page asks for, and when it ends.
"""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cloud_sync.contract.ids import is_id, plain_text
from cloud_sync.server.credentials import secret_hash
from cloud_sync.server.db import Db
from cloud_sync.server.errors import ReceiverSetupError

ROLES = ("admin", "desk", "worker")
SESSION_S = 12 * 3600.0  # a duty shift
TRIES = 5  # wrong passwords for one account ...
TRIES_WINDOW_S = 600.0  # ... within this long, then it waits this long
_HASHER = PasswordHasher()


@dataclass(frozen=True, slots=True)
class Person:
    """Someone logged in to the console."""

    username: str
    name: str
    role: str
    community: str
    csrf: str = ""
    contact: str = ""  # a worker's contact id in the roster: their buildings follow from it


class LoginRefused(Exception):
    """The username and password do not match, or too many tries; the message says which."""


class People:
    """Accounts and sessions in the server's database."""

    def __init__(self, db: Db) -> None:
        self.db = db

    def add(self, username: str, name: str, role: str, community: str, *, now: float,
            password: str | None = None, contact: str = "", new_only: bool = False) -> str:
        """Make (or, without `new_only`, make again) an account; returns its password (a new
        random one if none given). An account of another community is never replaced."""
        if not is_id(username):
            raise ReceiverSetupError(f"username {username!r}: expected letters, digits, '.', '_' "
                                     "or '-' (at most 64 characters)")
        if not is_id(community):
            raise ReceiverSetupError(f"community {community!r}: expected the community's id")
        if role not in ROLES:
            raise ReceiverSetupError(f"role {role!r}: expected one of {', '.join(ROLES)}")
        if not 0 < len(name.strip()) <= 100 or not plain_text(name):
            raise ReceiverSetupError("--name: expected the person's name as colleagues know it "
                                     "(1 to 100 characters, no control characters)")
        if role == "worker" and not is_id(contact):
            raise ReceiverSetupError("--contact: a worker needs their contact id in the roster "
                                     "(their buildings are those whose first or backup they are)")
        password = password or secrets.token_urlsafe(12)
        if len(password) < 10:
            raise ReceiverSetupError("a password has at least 10 characters")
        with self.db.transaction(write=True) as tx:
            kept = tx.rows("SELECT community FROM people WHERE username = ?", [username])
            if kept and (new_only or str(kept[0][0]) != community):
                raise ReceiverSetupError(f"username {username!r} is taken; choose another"
                                         + ("" if str(kept[0][0]) != community else
                                            " (or give that person a new password)"))
            tx.run("DELETE FROM people WHERE username = ?", [username])
            tx.run("DELETE FROM sessions WHERE username = ?", [username])
            tx.run("INSERT INTO people (username, name, role, community, password_hash, "
                   "created_at, contact) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   [username, name.strip(), role, community, _HASHER.hash(password), now,
                    contact])
        return password

    def accounts(self, community: str) -> list[dict[str, object]]:
        """The community's accounts (never their password hashes), by username."""
        with self.db.transaction(write=False) as tx:
            rows = tx.rows("SELECT username, name, role, contact, created_at FROM people "
                           "WHERE community = ? ORDER BY username", [community])
        return [{"username": username, "name": name, "role": role, "contact": contact,
                 "created_at": created} for username, name, role, contact, created in rows]

    def new_password(self, username: str, community: str) -> str:
        """A new random password for the community's account, its sessions ended; nothing
        else about the account changes. Returns the password."""
        password = secrets.token_urlsafe(12)
        with self.db.transaction(write=True) as tx:
            if not tx.run("UPDATE people SET password_hash = ? WHERE username = ? AND "
                          "community = ?", [_HASHER.hash(password), username, community]):
                raise ReceiverSetupError(f"no account {username[:64]!r} in your community")
            tx.run("DELETE FROM sessions WHERE username = ?", [username])
        return password

    def community_of(self, username: str) -> str | None:
        """The community an account belongs to, or None when there is no such account."""
        with self.db.transaction(write=False) as tx:
            rows = tx.rows("SELECT community FROM people WHERE username = ?", [username])
        return str(rows[0][0]) if rows else None

    def remove(self, username: str) -> bool:
        """Delete an account and end its sessions at once; False when there was none."""
        with self.db.transaction(write=True) as tx:
            tx.run("DELETE FROM sessions WHERE username = ?", [username])
            return tx.run("DELETE FROM people WHERE username = ?", [username]) > 0

    def log_in(self, username: str, password: str, *, now: float,
               client: str = "") -> tuple[str, Person]:
        """A new session for the account (its cookie value and who it is), or LoginRefused.

        Wrong passwords are counted per account and client address, so that nobody can
        lock the duty desk out from elsewhere; the password is checked outside any
        transaction (argon2 is slow on purpose, and alerts must not wait for it), and an
        unknown username costs the same time as a known one."""
        known = is_id(username)
        with self.db.transaction(write=False) as tx:
            failures = tx.rows("SELECT COUNT(*) FROM login_failures WHERE username = ? AND "
                               "client = ? AND at >= ?",
                               [username[:64], client[:64], now - TRIES_WINDOW_S])
            rows = tx.rows("SELECT name, role, community, password_hash, contact FROM people "
                           "WHERE username = ?", [username]) if known else []
        if int(failures[0][0]) >= TRIES:
            raise LoginRefused(f"too many wrong passwords for {username[:64]!r} from here; wait "
                               f"{TRIES_WINDOW_S / 60:.0f} minutes or ask an administrator")
        if not _matches(str(rows[0][3]) if rows else _dummy_hash(), password) or not rows:
            if rows:  # only accounts that exist are counted: strangers write nothing
                with self.db.transaction(write=True) as tx:
                    tx.run("DELETE FROM login_failures WHERE at < ?", [now - TRIES_WINDOW_S])
                    tx.run("INSERT INTO login_failures (username, client, at) VALUES (?, ?, ?)",
                           [username, client[:64], now])
            raise LoginRefused("wrong username or password")
        session, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        with self.db.transaction(write=True) as tx:
            tx.run("DELETE FROM login_failures WHERE username = ? AND client = ?",
                   [username, client[:64]])
            tx.run("DELETE FROM sessions WHERE expires_at < ?", [now])
            tx.run("INSERT INTO sessions (id_hash, username, csrf, expires_at) VALUES (?, ?, ?, ?)",
                   [secret_hash(session), username, csrf, now + SESSION_S])
        name, role, community, _, contact = rows[0]
        return session, Person(username, str(name), str(role), str(community), csrf,
                               str(contact))

    def session(self, cookie: str, *, now: float) -> Person | None:
        """Who a session cookie belongs to, while it lasts."""
        with self.db.transaction(write=False) as tx:
            rows = tx.rows("SELECT p.username, p.name, p.role, p.community, s.csrf, p.contact "
                           "FROM sessions s "
                           "JOIN people p ON p.username = s.username "
                           "WHERE s.id_hash = ? AND s.expires_at > ?", [secret_hash(cookie), now])
        return Person(*(str(value) for value in rows[0])) if rows else None

    def log_out(self, cookie: str) -> None:
        with self.db.transaction(write=True) as tx:
            tx.run("DELETE FROM sessions WHERE id_hash = ?", [secret_hash(cookie)])


@functools.cache
def _dummy_hash() -> str:
    """A hash to check a password against when the username is unknown (same time)."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def _matches(kept: str, password: str) -> bool:
    try:
        return bool(_HASHER.verify(kept, password))
    except (VerificationError, InvalidHashError):
        return False
