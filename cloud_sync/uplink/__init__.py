"""The hub's side of the wire, as adapters the hub drives: paho MQTT, the HTTPS
fallback (requests), a local Mosquitto for the demo, and a relay between brokers.

May import: cloud_sync.contract, firmware_bridge.errors; never cloud_sync.server or edge.
"""
