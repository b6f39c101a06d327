"""SMS as the modem takes and gives it: the GSM 7-bit alphabet, PDU fields, encoding a
text into SUBMIT parts and decoding DELIVER and STATUS-REPORT PDUs, and joining parts.

May import: firmware_bridge.errors.
"""
