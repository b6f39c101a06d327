"""The alert core: the Hub, which turns a watch's frame into reports and alerts (gate:
registered, decrypted, in order; refusals: replays and counter restarts), the alert
policy and transitions, where the resident is (location), and the Dispatcher seam that
hands alert changes to SMS, the uplink and the panel. Activity sensors' frames become
activity (activity); the welfare rules (welfare, pure) say when a check is due, and a
check is an alert of its own kind.

May import: edge.storage, edge.domain/clock/errors, cloud_sync.contract,
firmware_bridge.ble.
"""
