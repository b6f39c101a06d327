"""The community server (the reference receiver): it takes hubs' batches over MQTT
(shared subscriptions) and HTTP, stores events and alerts in SQLite or PostgreSQL,
confirms them, pushes each community's roster and sends acknowledgements and claims.
Its command line is `edge-hub receiver`.

May import: cloud_sync.contract only (never the hub's internals).
"""
