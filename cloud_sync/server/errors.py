"""Errors of the reference receiver, all under the project's base error."""

from __future__ import annotations

from cloud_sync.contract.errors import HubError


class ReceiverError(HubError):
    """The receiver could not do what was asked; the message says why and what to do."""


class ReceiverSetupError(ReceiverError, ValueError):
    """A receiver option (broker URL, topic root, group, address) has the wrong form."""


class BatchError(ReceiverError, ValueError):
    """A payload from a hub does not follow the wire contract; the message names the field."""


class NotAllowed(ReceiverError):
    """A caller who is logged in asked for what is not theirs (another hub's batch or
    commands); nothing was changed."""


class ReceiverStoreError(ReceiverError):
    """The receiver's database could not be opened, read or written; `retry` if trying again may work."""

    def __init__(self, message: str, *, retry: bool = False) -> None:
        super().__init__(message)
        self.retry = retry
