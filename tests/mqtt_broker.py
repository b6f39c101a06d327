"""Test helpers: a real Mosquitto on a free loopback port, and a cuttable TCP proxy."""

from __future__ import annotations

from cloud_sync.uplink.local_broker import LocalMosquitto as Broker
from cloud_sync.uplink.local_broker import free_port, wait_for_port
from cloud_sync.uplink.relay import TcpRelay


class TcpProxy(TcpRelay):
    """The relay pointed at a local broker port."""

    def __init__(self, target_port: int) -> None:
        super().__init__("127.0.0.1", target_port)


__all__ = ["Broker", "TcpProxy", "free_port", "wait_for_port"]
