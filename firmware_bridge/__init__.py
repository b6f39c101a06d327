"""Protocols of devices we do not own (BLE watches, GSM modem, GPIO) and their simulators."""
