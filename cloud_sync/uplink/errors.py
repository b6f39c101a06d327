"""The uplink adapters' error."""

from firmware_bridge.errors import HubError


class UplinkError(HubError):
    """The uplink to the community server failed; the message says what to check."""
