"""What a hub and its server agree on: the ids of hubs, communities and people and the
plain text a name may hold; the roster's values and its file format (the tables of
hub.toml, of a pushed roster and of a server's roster file, read with the typed reader
in schema); the wire messages; broker and HTTP addresses; ConfigError and CommandError.

May import: firmware_bridge.errors and firmware_bridge.ble.addresses only.
"""
