"""Everything on the wire between a hub and its community server.

    contract  what both sides agree on: ids and names, the roster and its file format,
              the wire messages (batches, status, commands, replies), broker addresses
    uplink    the hub's side: the MQTT and HTTPS adapters, a local broker, a relay
    server    the community server (the receiver): MQTT and HTTP intake, its database,
              the roster it pushes and the commands it sends

May import: firmware_bridge (the root error, MAC and key rules) and nothing from edge.
The uplink and the server do not import each other; the server imports only the
contract. The wire contract is described in cloud_sync/README.md.
"""
