"""A building with a broker, the reference receiver and an emulated modem."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from cloud_sync.uplink.relay import TcpRelay
from edge.app import HubApp
from edge.clock import Clock
from edge.config.loader import HubConfig
from edge.config.uplink import UplinkSection
from tests.mqtt_broker import Broker
from tests.sms_building import SmsBuilding, building_config, until


def uplink_config(port: str, broker_url: str, hub: dict[str, Any] | None = None,
                  **uplink: Any) -> HubConfig:
    config = building_config(port, hub)
    settings = {"broker": broker_url, "confirm_timeout_s": 20,
                "resend_after_s": 30, "reconnect_max_s": 1, **uplink}
    return replace(config, uplink=UplinkSection(**settings))


class UplinkBuilding(SmsBuilding):
    """SmsBuilding whose hub also has an uplink to `broker` through a cuttable relay."""

    def __init__(self, folder: Path, broker: Broker, *, hub: dict[str, Any] | None = None,
                 clock: Clock | None = None, **uplink: Any) -> None:
        super().__init__(folder, hub=hub, clock=clock)
        self.broker = broker
        self.relay = TcpRelay("127.0.0.1", broker.port)
        self.uplink_settings = uplink

    def config(self) -> HubConfig:
        return uplink_config(self.port, self.relay.url, self.hub_settings,
                             **self.uplink_settings)

    @property
    def hub_app(self) -> HubApp:
        assert self.app is not None
        return self.app

    async def connected(self, up: bool = True, timeout: float = 10.0) -> None:
        sync = self.hub_app.uplink.sync if self.hub_app.uplink else None
        assert sync is not None
        await until(lambda: sync.connected is up, timeout=timeout)

    def close(self) -> None:
        self.relay.close()
        super().close()
