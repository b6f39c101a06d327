"""The simulated building: `edge-hub demo` (a scripted scenario) and `edge-hub
simulate` (the production hub on the virtual air and emulated modem, with a control
API). Imported only by those commands and by tests.

May import: any layer below it: edge.app and what it is built of, firmware_bridge.simulators,
cloud_sync.server (the demo's own server).
"""
