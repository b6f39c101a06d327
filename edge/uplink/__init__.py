"""The hub's link to its server: the outbox sync over MQTT (sync, outbox), the
server's commands (commands), the HTTPS fallback, and the service that wires them to
the adapters in cloud_sync.uplink (imported only when [uplink] is configured).

May import: edge.config, edge.sms, edge.alerts, edge.storage, cloud_sync.contract and
cloud_sync.uplink.
"""
