"""The SMS conversation with responders: who is told and when (responders, escalation),
the texts (messages), the outgoing queue and its retries (texts, retry), the worker that
drives the modem, and reading replies (replies, reply_meaning, conversation).

May import: edge.alerts, edge.calls (ring calls follow texts), edge.storage,
edge.domain/clock/errors/wakeup, firmware_bridge.sms.
"""
