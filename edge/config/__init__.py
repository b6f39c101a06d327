"""The hub's configuration: hub.toml read and checked into sections (loader), the
[sms]/[calls]/[modem], [panel], [supervision], [uplink] and [welfare] sections, and where
the file is by default (paths, cheap to import). The roster's tables and the typed reader
come from cloud_sync.contract, because the server reads the same format.

May import: edge.sms (texts and reply words are checked on load), edge.calls (night
hours are checked on load), edge.alerts.welfare (the rules [welfare] is read into),
edge.domain/errors, cloud_sync.contract.
"""
