"""The hub watching itself: periodic checks of watches, modem, uplink and storage
(checks, watches, integrity), the residents' welfare checks (welfare), the job runner (schedule), systemd notification, and
stopping early on a signal.

May import: edge.uplink, edge.config, edge.sms, edge.alerts, edge.storage.
"""
