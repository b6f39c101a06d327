"""The benches' building: N residents each with a keyed watch, one duty-desk contact, a
modem and an uplink where asked; and the simulated air with those watches. Light to
import (no MQTT client), so that a bench measuring memory holds only what the hub does."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from edge.config.loader import HubConfig, parse_config
from edge.config.uplink import UplinkSection
from firmware_bridge.simulators.virtual_air import VirtualAir
from tests.building import key_for, mac_for

WATCHES = 300
def config_for(port: str | None, watches: int, broker: str | None = None) -> HubConfig:
    """A building of `watches` residents; a modem on `port` and an uplink to `broker`
    where given."""
    residents = [{"id": f"r{i}", "name": f"住户{i}", "room": str(100 + i)} for i in range(watches)]
    data: dict[str, Any] = {
        "hub": {"id": "bench", "community": "c", "building": "3号楼", "address": "幸福里路 18 号"},
        "alerts": {"cancel_window_s": 0, "repeat_window_s": 1},
        "residents": residents,
        "watches": [{"mac": mac_for(i), "resident": f"r{i}", "key": key_for(i).hex()}
                    for i in range(watches)],
        "contacts": [{"id": "desk", "name": "值班室", "phone": "+8613800138000",
                      "role": "duty_desk", "tier": 1}],
    }
    if port is not None:
        data["modem"] = {"port": port, "command_timeout_s": 5, "send_timeout_s": 10}
    config = parse_config(data, source="bench.toml", base_dir=Path("."))
    if broker is not None:
        config = replace(config, uplink=UplinkSection(broker=broker, reconnect_max_s=1))
    return config


def population(watches: int = WATCHES) -> VirtualAir:
    """The simulated air with `watches` keyed watches, as config_for registers them."""
    air = VirtualAir()
    for i in range(watches):
        air.add_watch(mac_for(i), key_for(i))
    return air
