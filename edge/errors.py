"""Every error the hub handles, in one place: its own, and those of the layers below it
(devices, the wire contract, the uplink adapters), all under one root, HubError."""

from cloud_sync.contract.errors import CommandError, ConfigError
from cloud_sync.uplink.errors import UplinkError
from firmware_bridge.errors import (
    FrameError,
    HubError,
    ModemError,
    ModemSilent,
    PduError,
    RadioError,
)

__all__ = [
    "AlertError", "CommandError", "ConfigError", "FrameError", "HubError", "ModemError",
    "ModemSilent", "PduError", "RadioError", "StorageFault", "StoreError", "UplinkError",
]


class StoreError(HubError):
    """The database could not be opened or written."""


class StorageFault(StoreError):
    """A write failed because the disk would not take it; `retry` is True when the store
    made room or moved to memory, so the same write should be done again."""

    def __init__(self, message: str, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry


class AlertError(HubError, ValueError):
    """An alert transition was asked that the alert's state does not allow."""
