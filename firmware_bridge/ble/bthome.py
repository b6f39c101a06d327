"""BTHome v2 frames: device-info byte, optional MAC, AES-CCM encryption; pure, no I/O."""

from __future__ import annotations

import functools
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from firmware_bridge.ble.addresses import normalise_mac, parse_key
from firmware_bridge.ble.aes_ccm import ccm
from firmware_bridge.ble.bthome_objects import BTObject, pack_objects, parse_objects
from firmware_bridge.errors import FrameError

BTHOME_UUID16 = 0xFCD2
BTHOME_SERVICE_UUID = "0000fcd2-0000-1000-8000-00805f9b34fb"
BTHOME_VERSION = 2

ENCRYPTED_FLAG = 0x01
MAC_INCLUDED_FLAG = 0x02
TRIGGER_BASED_FLAG = 0x04
VERSION_SHIFT = 5

KEY_LENGTH = 16
COUNTER_LENGTH = 4
MIC_LENGTH = 4
MAC_LENGTH = 6
MAX_COUNTER = 2**32 - 1

_UUID_LE = BTHOME_UUID16.to_bytes(2, "little")
_COUNTER = struct.Struct("<I")


class BTHomeKey:
    """A watch's 128-bit AES key with its AES-CCM cipher built once; repr never shows the key."""

    __slots__ = ("_cipher",)

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes | bytearray) or len(key) != KEY_LENGTH:
            shown = (
                f"{len(key)} bytes" if isinstance(key, bytes | bytearray) else type(key).__name__
            )
            raise FrameError(f"expected a {KEY_LENGTH}-byte (128-bit) AES key, got {shown}")
        self._cipher = ccm(bytes(key))

    @classmethod
    def from_hex(cls, text: str) -> BTHomeKey:
        """Build a key from 32 hex digits; FrameError (a ValueError) otherwise."""
        try:
            return cls(parse_key(text))
        except (ValueError, AttributeError):
            raise FrameError("expected 32 hex digits (a 128-bit AES key)") from None

    def __repr__(self) -> str:
        return "BTHomeKey(<hidden>)"

    def encrypt(self, nonce: bytes, plaintext: bytes) -> bytes:
        """Return ciphertext followed by the 4-byte MIC."""
        return self._cipher.encrypt(nonce, plaintext)

    def decrypt(self, nonce: bytes, sealed: bytes) -> bytes | None:
        """Return the plaintext of ciphertext + MIC, or None when the MIC does not match."""
        return self._cipher.decrypt(nonce, sealed)


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded BTHome v2 advert: flags, counter, and the objects it carried."""

    mac: str
    encrypted: bool
    mac_included: bool
    trigger_based: bool
    version: int
    counter: int | None
    mic_verified: bool
    objects: tuple[BTObject, ...]
    unknown_object: int | None = None

    def to_json(self) -> dict[str, object]:
        """Return a JSON-ready dict of the frame."""
        unknown = None if self.unknown_object is None else f"0x{self.unknown_object:02x}"
        return {
            "mac": self.mac,
            "encrypted": self.encrypted,
            "mac_included": self.mac_included,
            "trigger_based": self.trigger_based,
            "bthome_version": self.version,
            "counter": self.counter,
            "mic_verified": self.mic_verified,
            "objects": [obj.to_json() for obj in self.objects],
            "stopped_at_unknown_object": unknown,
        }


def peek_flags(service_data: bytes) -> int | None:
    """Return the device-info byte, or None for empty service data."""
    return service_data[0] if service_data else None


def _nonce(mac_bytes: bytes, info: int, counter_bytes: bytes) -> bytes:
    """AES-CCM nonce: MAC (display order) + UUID 0xFCD2 little-endian + info byte + counter."""
    return mac_bytes + _UUID_LE + bytes((info,)) + counter_bytes


@functools.lru_cache(maxsize=4096)  # the registered watches' and sensors' MACs, mostly
def _mac_bytes(mac: str) -> bytes:
    """Return the 6 MAC bytes in display order, or FrameError naming the expected form."""
    try:
        return bytes.fromhex(normalise_mac(mac).replace(":", ""))
    except (ValueError, AttributeError) as error:
        raise FrameError(str(error)) from None


def _header(data: bytes, advertiser: str) -> tuple[int, bytes, int]:
    """Return the info byte, the MAC bytes the frame speaks for, and where the body starts."""
    if not data:
        raise FrameError("empty BTHome service data: expected at least the device-info byte")
    info = data[0]
    version = info >> VERSION_SHIFT
    if version != BTHOME_VERSION:
        raise FrameError(
            f"device-info byte 0x{info:02x} says BTHome version {version}; "
            "only version 2 is accepted"
        )
    if not info & MAC_INCLUDED_FLAG:
        return info, _mac_bytes(advertiser), 1
    if len(data) < 1 + MAC_LENGTH:
        raise FrameError(
            f"device-info byte says a MAC is included but only {len(data) - 1} bytes follow, need 6"
        )
    return info, data[MAC_LENGTH:0:-1], 1 + MAC_LENGTH


def _open(
    data: bytes, start: int, info: int, mac_bytes: bytes, mac: str, key: BTHomeKey | None
) -> tuple[bytes, int]:
    """Return the decrypted objects and the counter of an encrypted frame body."""
    if key is None:
        raise FrameError(
            f"frame is encrypted but no key is registered for {mac}; add the watch's key"
        )
    body = data[start:]
    if len(body) < COUNTER_LENGTH + MIC_LENGTH:
        raise FrameError(
            f"encrypted frame from {mac} is too short: needs a 4-byte counter and a 4-byte MIC "
            f"after the header, only {len(body)} bytes"
        )
    counter_bytes = body[-8:-4]
    payload = key.decrypt(_nonce(mac_bytes, info, counter_bytes), body[:-8] + body[-4:])
    if payload is None:
        raise FrameError(f"MIC check failed: wrong key for {mac} or corrupted frame")
    counter: int = _COUNTER.unpack(counter_bytes)[0]
    return payload, counter


def decode_frame(service_data: bytes, mac: str, key: BTHomeKey | None = None) -> Frame:
    """Decode the fcd2 service data of an advert from mac; refusals raise FrameError only."""
    data = bytes(service_data)
    info, mac_bytes, start = _header(data, mac)
    frame_mac = mac_bytes.hex(":").upper()
    encrypted = bool(info & ENCRYPTED_FLAG)
    counter: int | None = None
    if encrypted:
        payload, counter = _open(data, start, info, mac_bytes, frame_mac, key)
    else:
        payload = data[start:]
    objects, unknown = parse_objects(payload)
    return Frame(
        mac=frame_mac,
        encrypted=encrypted,
        mac_included=bool(info & MAC_INCLUDED_FLAG),
        trigger_based=bool(info & TRIGGER_BASED_FLAG),
        version=BTHOME_VERSION,
        counter=counter,
        mic_verified=encrypted,
        objects=objects,
        unknown_object=unknown,
    )


def encode_frame(
    objects: Sequence[tuple[int, object]],
    *,
    mac: str,
    key: BTHomeKey | None,
    counter: int | None = None,
    mac_included: bool = False,
    trigger_based: bool = False,
) -> bytes:
    """Return fcd2 service data carrying objects; encrypted (counter required) when keyed."""
    mac_bytes = bytes.fromhex(normalise_mac(mac).replace(":", ""))
    info = BTHOME_VERSION << VERSION_SHIFT
    info |= (ENCRYPTED_FLAG if key is not None else 0) | (MAC_INCLUDED_FLAG if mac_included else 0)
    info |= TRIGGER_BASED_FLAG if trigger_based else 0
    header = bytes((info,)) + (mac_bytes[::-1] if mac_included else b"")
    payload = pack_objects(objects)
    if key is None:
        if counter is not None:
            raise ValueError(
                "a counter is only sent in encrypted frames; pass a key or drop the counter"
            )
        return header + payload
    if isinstance(counter, bool) or not isinstance(counter, int) or not 0 <= counter <= MAX_COUNTER:
        raise ValueError(f"an encrypted frame needs a counter 0..{MAX_COUNTER}, got {counter!r}")
    counter_bytes = _COUNTER.pack(counter)
    sealed = key.encrypt(_nonce(mac_bytes, info, counter_bytes), payload)
    return header + sealed[:-MIC_LENGTH] + counter_bytes + sealed[-MIC_LENGTH:]
