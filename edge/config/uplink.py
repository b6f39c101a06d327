"""[uplink]: the community server's broker, how to prove who we are, and its timings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from cloud_sync.contract.broker_url import parse_broker_url
from cloud_sync.contract.schema import Rule, above, meta

SECONDS = "a number of seconds"


def _broker(text: str) -> str:
    try:
        parse_broker_url(text)
    except ValueError:
        raise ValueError(text) from None
    return text


_LOOPBACK = ("localhost", "127.0.0.1", "::1")


def _http(text: str) -> str:
    """https://…, or http:// to this machine only: the hub's login travels with every call."""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(text)
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise ValueError(text)
    return text.rstrip("/")


def _root(text: str) -> str:
    if not text or "+" in text or "#" in text:
        raise ValueError(text)
    return text if text.endswith("/") else text + "/"


def _receipt_hold(value: float) -> float:
    if not 1 <= value <= 300:
        raise ValueError(str(value))
    return value


def _heartbeat(value: float) -> float:
    if not 1 <= value <= 300:
        raise ValueError(str(value))
    return value


BROKER = Rule("a broker URL like mqtt://broker.local:1883 or mqtts://broker:8883", _broker)
HTTP_URL = Rule("an https:// URL like https://server.example/eldercare (the hub's login "
                "goes with every call; http:// only to this machine)", _http)
ROOT = Rule('a topic root without wildcards, like "eldercare/v1/"', _root)


@dataclass(frozen=True, slots=True)
class UplinkSection:
    """[uplink]: omit it for a hub without internet (SMS only)."""

    broker: str = field(metadata=meta("the broker", BROKER))
    topic_root: str = field(default="eldercare/v1/", metadata=meta("topic root", ROOT))
    client_id: str | None = field(default=None, metadata=meta(
        'MQTT client id; default "<community id>:<hub id>", unique across communities'))
    username: str | None = field(default=None, metadata=meta(
        "the hub's login at the server (broker and HTTPS), like xingfuli/3hao"))
    password: str | None = field(default=None, metadata=meta(
        "the secret of that login (edge-hub server add-hub prints it)", secret=True))
    ca_file: Path | None = field(default=None, metadata=meta("CA certificate (PEM) for TLS"))
    cert_file: Path | None = field(default=None, metadata=meta("client certificate (PEM)"))
    key_file: Path | None = field(default=None, metadata=meta("client key (PEM)"))
    confirm_timeout_s: float = field(
        default=20.0, metadata=meta("SMS goes out if the server has not confirmed an alert "
                                    "within this long", above(0, SECONDS)))
    receipt_hold_s: float = field(
        default=60.0, metadata=meta("how long the server's automatic receipt holds SMS back "
                                    "(stored is not someone on it; a person's claim holds "
                                    "longer), at most 300", Rule("a number of seconds from 1 to "
                                                                 "300", _receipt_hold)))
    worker_wait_s: float | None = field(
        default=None, metadata=meta("no longer used: a person's claim at the server holds SMS "
                                    "(alert_claimed), see receipt_hold_s", above(0, SECONDS)))
    batch_size: int = field(default=50, metadata=meta("events per message",
                                                      above(0, "an integer")))
    window: int = field(default=100, metadata=meta("messages in flight",
                                                   above(0, "an integer")))
    heartbeat_s: float = field(
        default=300.0, metadata=meta("status heartbeat interval, at most 300",
                                     Rule("a number of seconds from 1 to 300", _heartbeat)))
    resend_after_s: float = field(
        default=60.0, metadata=meta("send again what the server has not acknowledged after "
                                    "this long", above(0, SECONDS)))
    reconnect_max_s: int = field(default=60, metadata=meta("longest reconnect back-off",
                                                           above(0, "an integer")))
    max_outbox_events: int = field(
        default=200_000, metadata=meta("cap of stored events; the oldest telemetry goes first, "
                                       "alerts never", above(0, "an integer")))
    http_url: str | None = field(default=None, metadata=meta("HTTPS fallback base", HTTP_URL))
    http_after_s: float = field(
        default=120.0, metadata=meta("use HTTPS after MQTT failed this long", above(0, SECONDS)))
    http_poll_s: float = field(
        default=30.0, metadata=meta("fetch commands over HTTPS this often", above(0, SECONDS)))
