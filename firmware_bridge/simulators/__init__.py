"""Stand-ins for the radio and the modem, used by the tests, `edge-hub demo` and
`edge-hub simulate`: the virtual air (watches that advertise BTHome frames through a
bleak backend, with activity sensors and residents' daily life) and the emulated modem (AT commands on a pseudo-terminal, with faults).

May import: firmware_bridge.errors, firmware_bridge.ble, firmware_bridge.sms,
firmware_bridge.modem. Nothing imports it but tests and edge.simulated.
"""
