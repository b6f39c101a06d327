"""The project's root error and the errors of the devices: the lowest layer owns them, so
every layer above (contract, server, hub) derives from the same root and a caller can
catch any of them as HubError."""


class HubError(Exception):
    """Base of every error the project raises on purpose."""


class FrameError(HubError, ValueError):
    """A BLE advert could not be accepted; the message says why."""


class RadioError(HubError):
    """The Bluetooth radio failed; the message says what to check."""


class PduError(HubError, ValueError):
    """An SMS PDU could not be encoded or decoded; the message says which field."""


class ModemError(HubError):
    """The GSM modem failed or refused; `kind` says what the caller should do."""

    def __init__(self, message: str, kind: str = "transient", code: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code


class ModemSilent(ModemError):
    """The modem did not answer a command in time: nothing more can be asked of it until
    it is set up again. Its kind stays "transient", so the SMS path treats it as before."""
