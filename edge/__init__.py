"""The building hub: domain types, alert policy, store, hub wiring and CLI."""

__version__ = "0.1.0"
