"""A watch's GPS fix in a BTHome raw object (0x54), sized to fit an encrypted legacy advert."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from firmware_bridge.ble.bthome_table import RAW_OBJECT_ID
from firmware_bridge.errors import FrameError

ADVERT_BUDGET = 31
"""Bytes in one legacy BLE advertisement, and how an encrypted fix frame spends them.

    flags AD (length, type 0x01, flags)          3
    service-data AD header (length, type 0x16)   2
    BTHome UUID 0xFCD2                           2
    BTHome device-info byte                      1
    encryption counter                           4
    MIC                                          4
                                               ---
    overhead                                    16   -> 31 - 16 = 15 bytes of objects
    raw object id 0x54 + length byte             2   -> 15 - 2 = 13 bytes of fix payload

Fix payload, little-endian: tag 0x47 ('G', layout 1) | latitude int32 (1e-7 deg) |
longitude int32 (1e-7 deg) | accuracy uint16 (m, capped) | age of fix uint16 (s, capped).
"""

ADVERT_OVERHEAD = 3 + 2 + 2 + 1 + 4 + 4
OBJECT_BUDGET = ADVERT_BUDGET - ADVERT_OVERHEAD
FIX_LENGTH = OBJECT_BUDGET - 2
FIX_TAG = 0x47
CAP = 0xFFFF
DEGREE_SCALE = 10_000_000

_LAYOUT = struct.Struct("<BiiHH")


@dataclass(frozen=True, slots=True)
class GnssFix:
    """Where the watch was: WGS84 degrees, horizontal accuracy in metres, seconds since the fix."""

    lat: float
    lon: float
    accuracy_m: int
    age_s: int


def pack_fix(fix: GnssFix) -> bytes:
    """Return the 13-byte fix payload; ValueError for impossible coordinates or negative numbers."""
    if not -90 <= fix.lat <= 90:
        raise ValueError(f"latitude {fix.lat!r} is outside -90..90 degrees")
    if not -180 <= fix.lon <= 180:
        raise ValueError(f"longitude {fix.lon!r} is outside -180..180 degrees")
    if not fix.accuracy_m >= 0:
        raise ValueError(f"accuracy must be 0 or more metres, got {fix.accuracy_m!r}")
    if not fix.age_s >= 0:
        raise ValueError(f"age of fix must be 0 or more seconds, got {fix.age_s!r}")
    return _LAYOUT.pack(
        FIX_TAG,
        round(fix.lat * DEGREE_SCALE),
        round(fix.lon * DEGREE_SCALE),
        round(min(fix.accuracy_m, CAP)),
        round(min(fix.age_s, CAP)),
    )


def unpack_fix(raw: bytes) -> GnssFix:
    """Return the fix in a raw-object payload; FrameError saying what is wrong otherwise."""
    if len(raw) != FIX_LENGTH:
        raise FrameError(f"a fix payload is {FIX_LENGTH} bytes, got {len(raw)}")
    tag, lat, lon, accuracy, age = _LAYOUT.unpack(raw)
    if tag != FIX_TAG:
        raise FrameError(
            f"fix payload starts with tag 0x{tag:02x}, expected 0x{FIX_TAG:02x} ('G', layout 1)"
        )
    if abs(lat) > 90 * DEGREE_SCALE:
        raise FrameError(f"fix latitude {lat / DEGREE_SCALE} is outside -90..90 degrees")
    if abs(lon) > 180 * DEGREE_SCALE:
        raise FrameError(f"fix longitude {lon / DEGREE_SCALE} is outside -180..180 degrees")
    return GnssFix(lat=lat / DEGREE_SCALE, lon=lon / DEGREE_SCALE, accuracy_m=accuracy, age_s=age)


def is_fix_payload(raw: bytes) -> bool:
    """Whether a raw-object payload has the fix layout's length and tag."""
    return len(raw) == FIX_LENGTH and raw[0] == FIX_TAG


def fix_object(fix: GnssFix) -> tuple[int, bytes]:
    """Return the (object id, value) pair that pack_objects and encode_frame take for a fix."""
    return RAW_OBJECT_ID, pack_fix(fix)
