"""The reference receiver: stands in for the community server, and scales out.

Receivers of one group share the hubs' events through MQTT v5 shared subscriptions
($share/<group>/…), store them once each (SQLite, or PostgreSQL shared by the group), and
answer every hub on its own cmd topic. Embed it with `Receiver(...).start()`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions
from starlette.applications import Starlette

from cloud_sync.contract.broker_url import BrokerUrl, parse_broker_url
from cloud_sync.server.access import Access
from cloud_sync.server.changes import ListenedChanges, PolledChanges
from cloud_sync.server.db import redacted
from cloud_sync.server.duty import DEFAULT_DEADLINE_S, Duty
from cloud_sync.server.errors import BatchError, ReceiverError, ReceiverSetupError
from cloud_sync.server.http_front import HttpFront
from cloud_sync.server.people import People
from cloud_sync.server.roster import CommunityRoster, check_rosters
from cloud_sync.server.roster_book import RosterBook
from cloud_sync.server.service import ReceiverService
from cloud_sync.server.settings import (
    DEFAULT_DB,
    DEFAULT_GROUP,
    DEFAULT_ROOT,
    LOOPBACK,
    check_topic_root,
)
from cloud_sync.server.store import SqlReceiverStore, open_store

_log = logging.getLogger("cloud_sync.server.receiver")


def group_name(text: str) -> str:
    """A shared-subscription group name, or raise ReceiverSetupError."""
    if not text or set("/+#\x00") & set(text):
        raise ReceiverSetupError(f"group {text!r}: expected a name like receivers, "
                                 "without '/', '+' or '#'")
    return text


def paho_client(broker: BrokerUrl, client_id: str, *, reconnect_max_s: float = 30.0) -> mqtt.Client:
    """A paho MQTT v5 client set up for `broker` (TLS and login as the URL says)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    if broker.username is not None:
        client.username_pw_set(broker.username, broker.password)
    if broker.tls:
        client.tls_set()
    client.reconnect_delay_set(min_delay=1, max_delay=max(1, int(reconnect_max_s)))
    return client


class PahoOutbound:
    """Publishes commands through a paho client, QoS 1."""

    def __init__(self, client: mqtt.Client) -> None:
        self.client = client

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        info = self.client.publish(topic, data, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            _log.warning("Could not send %s to %s now (%s); paho sends it after reconnecting.",
                         payload.get("type"), topic, mqtt.error_string(info.rc))


class Receiver:
    """An in-process receiver: paho network thread, optional HTTP front, one store."""

    def __init__(self, broker_url: str, db_url: str | None = None, *, group: str = DEFAULT_GROUP,
                 topic_root: str = DEFAULT_ROOT, rosters: Iterable[CommunityRoster] = (),
                 http: tuple[str, int] | None = None,
                 client_id: str | None = None, reconnect_max_s: float = 30.0,
                 claim_deadline_s: float = DEFAULT_DEADLINE_S,
                 trusted_proxies: tuple[str, ...] = LOOPBACK) -> None:
        try:
            self.broker = parse_broker_url(broker_url)
        except ValueError as error:
            raise ReceiverSetupError(f"--broker: {error}") from None
        files = check_rosters(rosters).values()  # refused before the store opens
        self.group = group_name(group)
        self.topic_root = check_topic_root(topic_root)
        self.client_id = client_id or f"receiver-{self.group}-{uuid.uuid4().hex[:10]}"
        self._client = paho_client(self.broker, self.client_id, reconnect_max_s=reconnect_max_s)
        self.db_url = db_url or DEFAULT_DB
        self.store: SqlReceiverStore = open_store(self.db_url)
        self.rosters = RosterBook(self.store.db)
        self.service = ReceiverService(self.store, PahoOutbound(self._client),
                                       topic_root=self.topic_root, rosters=self.rosters)
        try:
            for entry in files:
                self._load_roster(entry)
            self.access, self.people = Access(self.store.db), People(self.store.db)
            self.duty, self.claim_deadline_s = Duty(self.store.db), claim_deadline_s
            self.changes: ListenedChanges | PolledChanges = ListenedChanges(self.db_url) \
                if self.store.db.dialect == "postgresql" else \
                PolledChanges(self.service.alerts_version)
            self._http = None if http is None else HttpFront(
                self.service, self.access, self.people, self.changes, *http, duty=self.duty,
                rosters=self.rosters, trusted_proxies=trusted_proxies)
        except ReceiverSetupError:
            self.store.close()
            raise
        self._overdue = threading.Thread(target=self._watch_deadlines, name="server-deadlines",
                                         daemon=True)
        self._stopped = threading.Event()
        self._subscribed = threading.Event()
        self._stopping = False
        self.unreachable = ""  # why the broker cannot be reached now ("" once it can)
        self._wire_callbacks()

    def _load_roster(self, entry: CommunityRoster) -> None:
        """Take a --roster file as its community's roster (unless loaded before unchanged)."""
        try:
            loaded = self.rosters.load_file(entry, now=time.time())
        except BatchError as error:
            raise ReceiverSetupError(f"{entry.source}: {error}") from None
        if loaded is None:
            _log.info("Roster file %s was loaded before; the roster of %s stays as it is in "
                      "the database (with the console's changes).", entry.source,
                      entry.community)
        elif loaded.replaced_edits:
            _log.warning("Roster file %s replaced the roster of %s as edited in the console "
                         "(now version %s): the console's changes are gone; its hubs get the "
                         "file's roster when they are next online.", entry.source,
                         entry.community, loaded.version)
        else:
            _log.info("Roster of community %s loaded from %s as version %s; its hubs get it "
                      "when they are next online.", entry.community, entry.source,
                      loaded.version)

    @property
    def subscriptions(self) -> list[str]:
        """The shared subscriptions this receiver holds."""
        return [f"$share/{self.group}/{self.topic_root}+/+/{kind}" for kind in ("events", "status")]

    @property
    def http_app(self) -> Starlette | None:
        """The HTTP front's ASGI application (its routes), or None without --http."""
        return None if self._http is None else self._http.app

    @property
    def http_address(self) -> tuple[str, int] | None:
        """Where the HTTP front listens (the real port when 0 was asked), or None."""
        return None if self._http is None else self._http.address

    def start(self, wait_s: float = 10.0, *, keep_trying: bool = True) -> bool:
        """Connect (retrying in the background) and wait up to wait_s for the subscriptions;
        False when they were not granted in that time (said why, unless the caller gives up
        instead of `keep_trying`: it says so itself)."""
        _log.info("Receiver %s starting: group %s, database %s, topics %s.", self.client_id,
                  self.group, redacted(self.db_url), " and ".join(self.subscriptions))
        self.changes.start()
        if self._http is not None:
            self._http.start()
        self._overdue.start()
        self._client.connect_async(self.broker.host, self.broker.port, keepalive=30, clean_start=True)
        self._client.loop_start()
        if self.wait_subscribed(wait_s) or not keep_trying:
            return self._subscribed.is_set()
        _log.warning("Broker %s not reached within %.0f s: %s; still trying in the background.",
                     self.broker, wait_s, self.why_not_connected())
        return False

    def why_not_connected(self) -> str:
        """Why the receiver has no subscriptions: the network's answer, or the broker's."""
        from cloud_sync.server.broker_reach import why_unreachable

        return (self.unreachable or why_unreachable(self.broker)
                or "it takes connections but did not accept this one or its subscriptions "
                   "(see the lines above)")

    def wait_subscribed(self, timeout: float) -> bool:
        """True once the broker has granted the subscriptions (after each reconnect)."""
        return self._subscribed.wait(timeout)

    def stop(self) -> None:
        """Disconnect, stop the HTTP front, close the store."""
        self._stopping = True
        self._stopped.set()
        if self._overdue.is_alive():
            self._overdue.join(10)
        self._client.disconnect()
        self._client.loop_stop()
        if self._http is not None:
            self._http.stop()
        self.changes.stop()
        self.store.close()

    def _watch_deadlines(self) -> None:
        """Every two seconds: alerts nobody claimed in time turn overdue (service.check_overdue)."""
        while not self._stopped.wait(2.0):
            try:
                self.service.check_overdue(self.duty, self.claim_deadline_s)
            except Exception:  # noqa: BLE001 -- a failed check must not stop the next one
                _log.exception("Checking the claim deadlines failed; trying again in 2 s.")

    def acknowledge(self, alert: str, by: str) -> list[str]:
        """A worker took the alert: tell every hub that reported it; return their alert uids."""
        return self.service.acknowledge(alert, by)

    def claim(self, alert: str, by: str, for_s: float = 1200.0) -> list[str]:
        """A worker is going: every hub that reported it holds SMS while the claim lasts."""
        return self.service.claim(alert, by, for_s)

    def resident_away(self, community: str, resident: str, until: float | None,
                      by: str) -> list[str]:
        """A resident is away until `until` (or back: None): every hub of the community is
        told and pauses (or resumes) their welfare rules; returns the hubs told."""
        return self.service.resident_away(community, resident, until, by)

    def _wire_callbacks(self) -> None:
        self._client.on_connect = self._on_connect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_subscribe = self._on_subscribe
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        """paho could not connect (name, port or TLS): say why, once per different reason."""
        from cloud_sync.server.broker_reach import why_unreachable

        reason = why_unreachable(self.broker) or "the connection failed"
        if reason != self.unreachable and not self._stopping:
            _log.warning("Cannot reach broker %s: %s; trying again with back-off.",
                         self.broker, reason)
        self.unreachable = reason

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode,
                    properties: Properties | None) -> None:
        self.unreachable = ""
        if reason.is_failure:
            _log.error("Broker %s refused the receiver: %s; check the URL and login.", self.broker,
                       reason)
            return
        client.subscribe([(topic, SubscribeOptions(qos=1)) for topic in self.subscriptions])
        _log.info("Connected to broker %s as %s (group %s).", self.broker, self.client_id, self.group)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: list[ReasonCode],
                      properties: Properties | None) -> None:
        refused = [str(reason) for reason in reasons if reason.is_failure]
        if refused:
            _log.error("Broker %s refused the shared subscriptions (%s); it must support MQTT v5 "
                       "shared subscriptions and allow this client to read %s.", self.broker,
                       ", ".join(refused), self.topic_root)
            return
        self._subscribed.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode,
                       properties: Properties | None) -> None:
        self._subscribed.clear()
        if not self._stopping:
            _log.warning("Lost broker %s (%s); reconnecting with back-off.", self.broker, reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            self.service.on_message(message.topic, bytes(message.payload))
        except Exception:  # noqa: BLE001 -- a bug must never stop the network thread
            _log.exception("Failed to handle a message on %r; it was dropped.", message.topic)


def publish_commands(broker: BrokerUrl, messages: list[tuple[str, dict[str, Any]]], *,
                     timeout: float = 10.0) -> None:
    """Connect, publish each (topic, command) at QoS 1, wait for the broker's PUBACKs, leave."""
    client = paho_client(broker, f"receiver-cli-{uuid.uuid4().hex[:10]}")
    connected = threading.Event()
    client.on_connect = lambda c, u, f, reason, p: None if reason.is_failure else connected.set()
    try:
        client.connect(broker.host, broker.port, keepalive=30)
    except (OSError, ValueError) as error:
        raise ReceiverError(f"cannot reach broker {broker}: {error}; check --broker and that the "
                            "broker is running, then run the same command again") from None
    client.loop_start()
    try:
        if not connected.wait(timeout):
            raise ReceiverError(f"broker {broker} did not accept the connection within {timeout:.0f} s; "
                                "check the login, then run the same command again")
        sent = [client.publish(topic, json.dumps(payload, ensure_ascii=False).encode("utf-8"), qos=1)
                for topic, payload in messages]
        for info in sent:
            info.wait_for_publish(timeout)
    except (RuntimeError, ValueError) as error:
        raise ReceiverError(f"broker {broker} did not take the commands ({error}); run the same "
                            "command again") from None
    finally:
        client.disconnect()
        client.loop_stop()
    if not all(info.is_published() for info in sent):
        raise ReceiverError(f"broker {broker} did not confirm the commands within {timeout:.0f} s; "
                            "run the same command again")
