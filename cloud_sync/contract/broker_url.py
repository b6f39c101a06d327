"""Broker addresses as written on a command line: mqtt://[user:pass@]host:port, mqtts:// for TLS."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

PLAIN_PORT = 1883
TLS_PORT = 8883
_FORM = "mqtt://[user:password@]host:port (or mqtts://… for TLS)"


@dataclass(frozen=True, slots=True)
class BrokerUrl:
    """Where the MQTT broker is and how to log in; the password never appears in repr."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        user = "" if self.username is None else f"{self.username}@"
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


def parse_broker_url(text: str) -> BrokerUrl:
    """Parse a broker URL, or raise ValueError naming the expected form."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        raise ValueError(f"expected a broker URL like {_FORM}, got {text!r} (bad port)") from None
    if parts.scheme not in ("mqtt", "mqtts"):
        raise ValueError(f"expected a broker URL like {_FORM}, got {text!r}")
    if not parts.hostname:
        raise ValueError(f"expected a broker URL like {_FORM}, got {text!r} (no host)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"expected a broker URL like {_FORM} with nothing after the port, got {text!r}")
    tls = parts.scheme == "mqtts"
    if port == 0:
        raise ValueError(f"expected a broker URL like {_FORM}, got {text!r} (port 0)")
    username = None if parts.username is None else unquote(parts.username)
    password = None if parts.password is None else unquote(parts.password)
    return BrokerUrl(parts.hostname, port or (TLS_PORT if tls else PLAIN_PORT), tls, username, password)


def parse_http_address(text: str) -> tuple[str, int]:
    """Parse HOST:PORT for the receiver's HTTP front, or raise ValueError."""
    host, sep, port_text = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not (port_text.isascii() and port_text.isdigit()) or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"expected HOST:PORT like 0.0.0.0:8080, got {text!r}")
    return host, int(port_text)
