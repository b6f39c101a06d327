"""The hub's side of the GPIO panel: it shows the hub's situation on the panel of
firmware_bridge.panel and turns its buttons, pull-cords and power inputs into hub
actions. Imported only when [panel] is configured.

May import: edge.uplink, edge.config, edge.alerts, edge.storage, firmware_bridge.panel.
"""
