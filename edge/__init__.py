"""The building hub.

    domain, clock, errors   the hub's vocabulary, which every layer may use (imports
                            only cloud_sync.contract, cloud_sync.uplink.errors,
                            firmware_bridge.errors and firmware_bridge.ble.addresses)
    wakeup                  when the hub's loop wakes: its next timer, or work arriving
    storage                 the durable store
    alerts                  the alert core: frames to reports to alerts
    sms                     the SMS conversation with responders
    config                  hub.toml
    uplink                  the link to the community server
    supervision, panel      the hub watching itself; the GPIO panel
    app                     the composition root: the one place that knows every part
    simulated               the simulated building (demo, simulate)
    tools                   the command line and installer tools

Each layer imports only those listed before it (tests/test_layout.py checks), and
the hub imports cloud_sync and firmware_bridge, which never import it.
"""

__version__ = "0.1.0"
