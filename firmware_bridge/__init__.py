"""The devices the hub talks to but does not own, and their simulators: BLE watches
(BTHome over bleak), the GSM modem (AT commands and SMS PDUs over pyserial), the GPIO
panel (gpiozero), and the virtual air and emulated modem that stand in for them in tests.

The lowest layer: imports nothing from edge or cloud_sync. It owns the project's root
error (errors.HubError) and the device errors, so every layer above derives from them.

    errors      HubError and the device errors
    ble         MAC and key rules, BTHome frames and objects, GNSS fixes, the bleak radio
    sms         GSM 7-bit, SMS PDU fields, encoding and decoding, reassembly
    panel       the panel's light and buzzer patterns and the gpiozero driver
    modem       the AT protocol, the serial port, set-up, recovery, SerialModem
    simulators  the virtual air and the emulated modem (tests, demo, simulate)
"""
