"""The hub's wired panel: what the lights and buzzer show for the hub's situation (pure
patterns) and the gpiozero driver that plays them and reads the buttons and inputs.

May import: firmware_bridge.errors, gpiozero. The panel takes its pins as a protocol,
so the hub's [panel] section fits it without this package importing the hub.
"""
