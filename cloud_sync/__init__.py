"""Uplink to the community server (MQTT, HTTP) and the reference receiver.

The uplink is built in a later issue; the hub hands it events through the outbox
(edge.storage.store.Store.outbox_pending) and the Dispatcher seam (edge.alerts.dispatch).
"""
