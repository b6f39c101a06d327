"""Composition of the uplink: paho on its thread, OutboxSync and commands on the loop."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from cloud_sync.contract.broker_url import parse_broker_url
from cloud_sync.contract.wire import Topics
from edge.alerts.dispatch import AlertChange
from edge.alerts.hub import Hub
from edge.clock import Clock
from edge.config.loader import HubConfig, community_id_of
from edge.config.uplink import UplinkSection
from edge.uplink.commands import CommandHandler, ServerConfirmations
from edge.uplink.http_fallback import HttpFallback
from edge.uplink.sync import OutboxSync

if TYPE_CHECKING:
    from cloud_sync.uplink.mqtt import MqttSettings, PahoUplink

_log = logging.getLogger("edge.uplink")
T = TypeVar("T")
# Telemetry events (battery levels, fixes) are gathered this long before they are sent:
# one batch and one acknowledgement every 2 s for a building of chattering watches, not
# one every loop tick. Alerts go at once (the uplink is a dispatcher path).
SEND_TELEMETRY_S = 2.0


@dataclass(slots=True)
class LoopBridge:
    """Hands calls from other threads (paho's) to the event loop, once it runs."""

    loop: asyncio.AbstractEventLoop | None = None

    def call(self, fn: Callable[..., Any], *args: Any) -> bool:
        """Schedule fn(*args) on the loop; False when no loop runs (the call is dropped)."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(fn, *args)
            return True
        return False


class Gathered(Generic[T]):
    """Items from another thread, handed to `deliver` on the loop many per turn: a burst
    of PUBACKs wakes the loop once and refills the window once, not once each."""

    def __init__(self, bridge: LoopBridge, deliver: Callable[[list[T]], None]) -> None:
        self._bridge, self._deliver = bridge, deliver
        self._items: list[T] = []
        self._lock = threading.Lock()  # held only to append or take the list

    def add(self, item: T) -> None:
        with self._lock:
            self._items.append(item)
            if len(self._items) > 1:
                return  # a hand-over is already on its way and will take this one too
        if not self._bridge.call(self._hand_over):
            with self._lock:  # no loop runs: dropped, as the bridge drops any call
                self._items.clear()

    def _hand_over(self) -> None:
        with self._lock:
            items, self._items = self._items, []
        if items:
            self._deliver(items)


@dataclass(slots=True)
class Uplink:
    """The running uplink: what the app starts, ticks and stops."""

    sync: OutboxSync
    paho: PahoUplink
    commands: CommandHandler
    bridge: LoopBridge = field(default_factory=LoopBridge)
    http: HttpFallback | None = None
    wake: Callable[[], object] = lambda: None  # the hub's loop: its timers may have moved

    async def run(self, stop: asyncio.Event) -> None:
        """Connect and keep connecting until `stop`; HTTPS takes over while MQTT is down."""
        self.bridge.loop = asyncio.get_running_loop()
        self.paho.start()
        try:
            if self.http is not None:
                await self.http.run(stop)
            else:
                await stop.wait()
        finally:
            goodbye = self.sync.status_payload("offline")  # the store is the loop's
            self.bridge.loop = None
            await asyncio.get_running_loop().run_in_executor(None, self.paho.stop, goodbye)

    def tick(self) -> None:
        self.sync.tick()

    def next_due(self, now: float) -> float | None:
        return self.sync.next_due(now)

    def connection_changed(self, up: bool, reason: str) -> None:
        """On the loop: the broker came or went (alerts awaiting a receipt go by SMS)."""
        self.sync.connection_changed(up, reason)
        self.wake()

    def command(self, payload: bytes) -> None:
        """On the loop: a command from the server (an ack, a claim, a roster)."""
        self.commands.handle(payload)
        self.wake()

    def alert_changed(self, change: AlertChange) -> None:
        """Dispatcher: an alert changed; send it now rather than on the next tick."""
        self.sync.pump()


def settings_of(section: UplinkSection, hub_id: str, community_id: str) -> MqttSettings:
    """paho's settings; the client id is unique across communities by default (two hubs
    with one id in two communities must not take over each other's session)."""
    from cloud_sync.uplink.mqtt import MqttSettings

    address = parse_broker_url(section.broker)
    return MqttSettings(
        host=address.host, port=address.port,
        client_id=section.client_id or f"{community_id}:{hub_id}",
        tls=address.tls or section.ca_file is not None,
        ca_file=str(section.ca_file) if section.ca_file else None,
        cert_file=str(section.cert_file) if section.cert_file else None,
        key_file=str(section.key_file) if section.key_file else None,
        username=section.username or address.username,
        password=section.password or address.password,
        reconnect_max_s=section.reconnect_max_s, window=section.window,
    )


def build_uplink(config: HubConfig, section: UplinkSection, hub: Hub, clock: Clock,
                 confirmations: ServerConfirmations | None,
                 sms_status: Callable[[], str]) -> Uplink:
    """Wire paho, the sync and the command handler for this hub."""
    from cloud_sync.uplink.mqtt import PahoUplink

    community = community_id_of(config.hub)
    topics = Topics.of(section.topic_root, community, config.hub.id)
    bridge = LoopBridge()
    box: dict[str, Any] = {}
    pubacks: Gathered[tuple[int, bool, str]] = Gathered(
        bridge, lambda results: box["sync"].publishes_done(results))
    paho = PahoUplink(
        settings_of(section, config.hub.id, community), topics, b"",
        on_connected=lambda up, why: bridge.call(box["uplink"].connection_changed, up, why),
        on_published=lambda mid, ok, why: pubacks.add((mid, ok, why)),
        on_command=lambda payload: bridge.call(box["uplink"].command, payload),
    )
    sync = OutboxSync(hub.store, paho, topics, config.hub.id, community, clock,
                      batch_size=section.batch_size, window=section.window,
                      resend_after_s=section.resend_after_s, heartbeat_s=section.heartbeat_s,
                      max_events=section.max_outbox_events)
    sync.community_name = config.hub.community
    paho.client.will_set(topics.status, sync.status_payload("offline"), qos=1, retain=True)
    commands = CommandHandler(
        hub, sync, lambda payload: _publish_reply(paho, topics, payload),
        default_address=config.hub.address, confirmations=confirmations,
        sms_status=sms_status)
    box.update(sync=sync, commands=commands)
    http = None
    if section.http_url:  # requests is loaded only for a hub that has the HTTPS path
        from cloud_sync.uplink.https import HttpUplink

        login = settings_of(section, config.hub.id, community)
        port = HttpUplink(section.http_url, verify=str(section.ca_file) if section.ca_file
                          else True, auth=(login.username, login.password or "")
                          if login.username else None)
        http = HttpFallback(sync, port, lambda payload: box["uplink"].command(payload), clock,
                            after_s=section.http_after_s, poll_s=section.http_poll_s)
    box["uplink"] = Uplink(sync, paho, commands, bridge, http)
    return box["uplink"]


def _publish_reply(paho: PahoUplink, topics: Topics, payload: bytes) -> None:
    try:
        paho.publish(topics.reply, payload)
    except Exception as error:  # the server asks again if it needs the answer
        _log.warning("Could not publish a command reply (%s).", error)
