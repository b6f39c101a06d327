"""The GSM modem over a serial port: the AT protocol (reader, replies, URCs), the port
with its reader thread, set-up, the recovery ladder, and SerialModem, which sends PDUs
and reads stored messages. Set-up and recovery depend on the ModemLink protocol, not on
SerialModem, so no modules here import each other in a circle.

May import: firmware_bridge.errors, firmware_bridge.sms, pyserial.
"""
