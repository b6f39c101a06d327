"""Errors of the contract: a roster, file or command that does not have the agreed form.
Both derive from the project's root error (firmware_bridge.errors.HubError), which is
re-exported here so that the server needs nothing else to name it."""

from firmware_bridge.errors import HubError

__all__ = ["CommandError", "ConfigError", "HubError"]


class ConfigError(HubError, ValueError):
    """A configuration value is missing, unknown or of the wrong form."""


class CommandError(HubError, ValueError):
    """A command from the server was malformed or not allowed; nothing was changed."""
