"""The project's error types: one base, translated at every boundary."""


class HubError(Exception):
    """Base of every error the hub raises on purpose."""


class ConfigError(HubError, ValueError):
    """A configuration value is missing, unknown or of the wrong form."""


class FrameError(HubError, ValueError):
    """A BLE advert could not be accepted; the message says why."""


class RadioError(HubError):
    """The Bluetooth radio failed; the message says what to check."""


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


class PduError(HubError, ValueError):
    """An SMS PDU could not be encoded or decoded; the message says which field."""


class ModemError(HubError):
    """The GSM modem failed or refused; `kind` says what the caller should do."""

    def __init__(self, message: str, kind: str = "transient", code: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code


class CommandError(HubError, ValueError):
    """A command from the server was malformed or not allowed; nothing was changed."""


class UplinkError(HubError):
    """The uplink to the community server failed; the message says what to check."""
