"""PahoUplink: the hub's MQTT v5 connection (paho-mqtt 2.x, callback API version 2).

paho runs its own network thread; every callback here only translates and hands over to
the hub's callbacks, which the composition marshals into the event loop. Exceptions in a
callback are caught and logged so they never stop the network thread.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from cloud_sync.contract.wire import Topics
from cloud_sync.uplink.errors import UplinkError

# How long an urgent publish (an alert) holds the caller while paho's thread writes it: the
# caller lets go of the interpreter's lock at once, so the thread need not wait for it
# while the caller's loop goes on with other frames. Nearly always well under a
# millisecond; the bound only matters when the socket cannot take the bytes.
URGENT_WAIT_S = 0.01


@dataclass(frozen=True, slots=True)
class MqttSettings:
    """Where the broker is and how to prove who we are."""

    host: str
    port: int
    client_id: str
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    username: str | None = None
    password: str | None = None
    keepalive_s: int = 30
    reconnect_max_s: int = 60
    window: int = 100


class PahoUplink:
    """Connects, keeps reconnecting with back-off, publishes, and delivers commands."""

    def __init__(self, settings: MqttSettings, topics: Topics, will: bytes, *,
                 on_connected: Callable[[bool, str], object],
                 on_published: Callable[[int, bool, str], object],
                 on_command: Callable[[bytes], object],
                 log: logging.Logger | None = None) -> None:
        self.settings = settings
        self.topics = topics
        self._on_connected = on_connected
        self._on_published = on_published
        self._on_command = on_command
        self._log = log or logging.getLogger("edge.uplink")
        self._written = threading.Event()  # paho's thread wrote all it had queued
        self.client = self._client(will)

    def _client(self, will: bytes) -> mqtt.Client:
        s = self.settings
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=s.client_id,
                             protocol=mqtt.MQTTv5)
        client.suppress_exceptions = True
        client.max_inflight_messages_set(s.window)
        client.reconnect_delay_set(1, s.reconnect_max_s)
        client.will_set(self.topics.status, will, qos=1, retain=True)
        if s.username:
            client.username_pw_set(s.username, s.password)
        if s.tls:
            client.tls_set(ca_certs=s.ca_file, certfile=s.cert_file, keyfile=s.key_file)
        client.on_connect = self._guard(self._connected)
        client.on_disconnect = self._guard(self._disconnected)
        client.on_publish = self._guard(self._published)
        client.on_message = self._guard(self._message)
        client.on_socket_open = self._guard(self._socket_open)
        # paho's thread calls this once it has written everything queued (loop_write)
        client.on_socket_unregister_write = lambda c, u, sock: self._written.set()
        return client

    def _guard(self, callback: Callable[..., None]) -> Callable[..., None]:
        def guarded(*args: Any) -> None:
            try:
                callback(*args)
            except Exception:  # never let our bug stop paho's network thread
                self._log.exception("An uplink callback failed; the connection carries on.")
        return guarded

    def start(self) -> None:
        """Connect in the background; paho reconnects by itself with back-off."""
        self.client.connect_async(self.settings.host, self.settings.port,
                                  keepalive=self.settings.keepalive_s, clean_start=True)
        self.client.loop_start()

    def stop(self, goodbye: bytes | None = None, timeout_s: float = 2.0) -> None:
        """Say 'offline' (retained) if connected, then disconnect and stop the thread."""
        if goodbye is not None and self.client.is_connected():
            info = self.client.publish(self.topics.status, goodbye, qos=1, retain=True)
            try:
                info.wait_for_publish(timeout_s)
            except (RuntimeError, ValueError):
                pass
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, topic: str, payload: bytes, *, retain: bool = False,
                urgent: bool = False) -> int:
        """Publish at QoS 1 and return the message id that on_published will report.
        `urgent`: return once paho's thread has written it to the socket (or after
        URGENT_WAIT_S), rather than when that thread next gets the interpreter's lock."""
        if urgent:
            self._written.clear()
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise UplinkError(f"publish to {topic} failed at once: {mqtt.error_string(info.rc)}")
        if urgent:
            self._written.wait(URGENT_WAIT_S)
        return int(info.mid)

    def _connected(self, client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode,
                   properties: Properties | None) -> None:
        if reason.is_failure:
            self._log.warning("The broker %s:%d refused the hub (%s); retrying with back-off.",
                              self.settings.host, self.settings.port, reason)
            self._on_connected(False, str(reason))
            return
        client.subscribe(self.topics.cmd, qos=1)
        self._on_connected(True, str(reason))

    def _disconnected(self, client: mqtt.Client, userdata: Any, flags: Any,
                      reason: ReasonCode, properties: Properties | None) -> None:
        self._on_connected(False, str(reason))

    def _published(self, client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode,
                   properties: Properties | None) -> None:
        self._on_published(mid, not reason.is_failure, str(reason))

    def _message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic != self.topics.cmd:
            self._log.warning("Ignored a message on %s: commands are taken only from %s.",
                              message.topic, self.topics.cmd)
            return
        self._on_command(bytes(message.payload))

    @staticmethod
    def _socket_open(client: mqtt.Client, userdata: Any, sock: Any) -> None:
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
