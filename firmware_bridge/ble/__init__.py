"""BLE watches: MAC addresses and AES keys, BTHome v2 frames (decrypting, decoding,
encoding) and their objects, the GNSS fix object, and the bleak radio that hears them.

May import: firmware_bridge.errors, bleak, cryptography (where no libcrypto is shared).
"""
