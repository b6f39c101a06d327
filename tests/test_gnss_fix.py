"""The GPS fix layout: 13 bytes in a raw object, an encrypted fix advert in exactly 31 bytes."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.errors import FrameError
from firmware_bridge.ble.bthome import BTHomeKey, decode_frame, encode_frame
from firmware_bridge.ble.gnss_fix import (
    ADVERT_BUDGET,
    FIX_LENGTH,
    GnssFix,
    fix_object,
    is_fix_payload,
    pack_fix,
    unpack_fix,
)

README = Path(__file__).resolve().parents[1] / "firmware_bridge" / "README.md"
WATCH = "54:48:E6:8F:80:A5"
KEY = BTHomeKey.from_hex("231d39c1d7cc1ab1aee224cd096db932")  # bthome.io's public example key
DAM_SQUARE = GnssFix(lat=52.3702157, lon=4.8951679, accuracy_m=12, age_s=5)
DAM_SQUARE_HEX = "47 8d0f371f 7ff1ea02 0c00 0500"


def compact(text: str) -> str:
    """Hex without spaces, for comparing with the README's spaced hex."""
    return "".join(text.split()).lower()


def test_worked_example_packs_to_the_documented_bytes() -> None:
    assert pack_fix(DAM_SQUARE) == bytes.fromhex(DAM_SQUARE_HEX)
    assert unpack_fix(bytes.fromhex(DAM_SQUARE_HEX)) == DAM_SQUARE


def test_readme_shows_the_same_worked_example() -> None:
    text = compact(README.read_text(encoding="utf-8"))
    assert compact(DAM_SQUARE_HEX) in text
    advert = encode_frame([fix_object(DAM_SQUARE)], mac=WATCH, key=KEY, counter=0x00112234)
    assert advert.hex() in text


def test_an_encrypted_fix_advert_fills_a_legacy_advert_exactly() -> None:
    service_data = encode_frame([fix_object(DAM_SQUARE)], mac=WATCH, key=KEY, counter=7)
    flags_ad, service_ad_header, uuid = 3, 2, 2
    assert flags_ad + service_ad_header + uuid + len(service_data) == ADVERT_BUDGET == 31
    assert FIX_LENGTH == 13 == len(pack_fix(DAM_SQUARE))


def test_fix_travels_through_an_encrypted_frame() -> None:
    service_data = encode_frame([fix_object(DAM_SQUARE)], mac=WATCH, key=KEY, counter=8)
    (raw,) = decode_frame(service_data, WATCH, KEY).objects
    assert raw.name == "raw" and isinstance(raw.value, bytes) and is_fix_payload(raw.value)
    assert unpack_fix(raw.value) == DAM_SQUARE


@pytest.mark.parametrize(("lat", "lon"), [(90, 180), (-90, -180), (90.0, -180.0), (0, 0)])
def test_boundary_coordinates_round_trip_exactly(lat: float, lon: float) -> None:
    fix = unpack_fix(pack_fix(GnssFix(lat=lat, lon=lon, accuracy_m=0, age_s=0)))
    assert (fix.lat, fix.lon) == (lat, lon)


def test_accuracy_and_age_are_capped_at_65535() -> None:
    fix = unpack_fix(pack_fix(GnssFix(lat=1, lon=2, accuracy_m=70_000, age_s=10**9)))
    assert (fix.accuracy_m, fix.age_s) == (65535, 65535)
    endless = GnssFix(lat=1, lon=2, accuracy_m=math.inf, age_s=65535)  # type: ignore[arg-type]
    assert unpack_fix(pack_fix(endless)).accuracy_m == 65535


@given(
    lat=st.floats(-90, 90),
    lon=st.floats(-180, 180),
    accuracy=st.integers(0, 10**6),
    age=st.integers(0, 10**6),
)
def test_any_fix_round_trips_to_a_tenth_of_a_microdegree(
    lat: float, lon: float, accuracy: int, age: int
) -> None:
    fix = unpack_fix(pack_fix(GnssFix(lat=lat, lon=lon, accuracy_m=accuracy, age_s=age)))
    assert abs(fix.lat - lat) <= 0.5e-7 + 1e-12 and abs(fix.lon - lon) <= 0.5e-7 + 1e-12
    assert (fix.accuracy_m, fix.age_s) == (min(accuracy, 65535), min(age, 65535))


@given(
    lat=st.integers(-900_000_000, 900_000_000),
    lon=st.integers(-1_800_000_000, 1_800_000_000),
    accuracy=st.integers(0, 65535),
    age=st.integers(0, 65535),
)
def test_any_valid_payload_round_trips_byte_for_byte(
    lat: int, lon: int, accuracy: int, age: int
) -> None:
    raw = struct.pack("<BiiHH", 0x47, lat, lon, accuracy, age)
    assert pack_fix(unpack_fix(raw)) == raw


@pytest.mark.parametrize(
    ("fix", "message"),
    [
        (GnssFix(lat=90.0000001, lon=0, accuracy_m=1, age_s=1), "latitude 90.0000001 is outside"),
        (GnssFix(lat=-90.5, lon=0, accuracy_m=1, age_s=1), "latitude -90.5 is outside"),
        (GnssFix(lat=0, lon=180.00001, accuracy_m=1, age_s=1), "longitude 180.00001 is outside"),
        (GnssFix(lat=math.nan, lon=0, accuracy_m=1, age_s=1), "latitude nan is outside"),
        (GnssFix(lat=0, lon=0, accuracy_m=-1, age_s=1), "accuracy must be 0 or more metres"),
        (GnssFix(lat=0, lon=0, accuracy_m=1, age_s=-5), "age of fix must be 0 or more seconds"),
    ],
)
def test_impossible_fixes_are_refused_when_packing(fix: GnssFix, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pack_fix(fix)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (bytes.fromhex(DAM_SQUARE_HEX)[:-1], "a fix payload is 13 bytes, got 12"),
        (bytes.fromhex(DAM_SQUARE_HEX) + b"\x00", "a fix payload is 13 bytes, got 14"),
        (b"", "a fix payload is 13 bytes, got 0"),
        (b"\x48" + bytes.fromhex(DAM_SQUARE_HEX)[1:], r"tag 0x48, expected 0x47 \('G', layout 1\)"),
        (struct.pack("<BiiHH", 0x47, 900_000_001, 0, 0, 0), "latitude 90.0000001 is outside"),
        (struct.pack("<BiiHH", 0x47, 0, -1_800_000_001, 0, 0), "longitude -180.0000001 is outside"),
    ],
)
def test_bad_payloads_are_frame_errors_that_say_why(raw: bytes, message: str) -> None:
    with pytest.raises(FrameError, match=message):
        unpack_fix(raw)


def test_is_fix_payload_checks_length_and_tag() -> None:
    assert is_fix_payload(pack_fix(DAM_SQUARE))
    assert not is_fix_payload(pack_fix(DAM_SQUARE)[:-1])
    assert not is_fix_payload(b"\x00" * FIX_LENGTH)
    assert not is_fix_payload(b"")


@given(st.binary(max_size=20))
def test_any_bytes_unpack_to_a_fix_or_a_frame_error(raw: bytes) -> None:
    try:
        fix = unpack_fix(raw)
    except FrameError:
        return
    assert -90 <= fix.lat <= 90 and -180 <= fix.lon <= 180
