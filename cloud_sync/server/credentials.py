"""Who may talk to the server: each hub's login (one secret for MQTT and HTTPS) and the
tokens the JSON API asks of people and their programs, kept only as hashes.

A hub logs in as "<community>/<hub>" (ids have no "/", so the name is unique) with a
random 256-bit secret. The server keeps its SHA-256 (enough for a random secret, and
quick to check on every request) and Mosquitto's PBKDF2-SHA512 form for the broker's
password file; the secret itself is shown once, when it is made.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

MOSQUITTO_ITERATIONS = 101  # Mosquitto 2's own default for its $7$ (PBKDF2-SHA512) hashes
_SALT_BYTES = 12


@dataclass(frozen=True, slots=True)
class HubLogin:
    """A hub's identity as its login names it."""

    community: str
    hub: str

    @property
    def username(self) -> str:
        return login_name(self.community, self.hub)


@dataclass(frozen=True, slots=True)
class ApiCaller:
    """Who is calling the JSON API: a named token that sees one community."""

    name: str
    community: str


def login_name(community: str, hub: str) -> str:
    """The broker and HTTPS user name of a hub."""
    return f"{community}/{hub}"


def new_secret() -> str:
    """A fresh random secret: 43 URL-safe characters (256 bits)."""
    return secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """What the server keeps of a random secret to recognise it."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def same_hash(secret: str, kept: str) -> bool:
    """True when secret is the one kept (compared in constant time)."""
    return hmac.compare_digest(secret_hash(secret), kept)


def mosquitto_hash(secret: str, salt: bytes | None = None,
                   iterations: int = MOSQUITTO_ITERATIONS) -> str:
    """The secret as a line of Mosquitto's password file expects it after "user:"."""
    salt = salt if salt is not None else secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", secret.encode("utf-8"), salt, iterations, 64)
    return (f"$7${iterations}${base64.b64encode(salt).decode('ascii')}$"
            f"{base64.b64encode(digest).decode('ascii')}")
