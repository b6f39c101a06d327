"""BTHome v2 codec: the published vector, bthome-ble agreeing with us, refusals as FrameError."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.errors import FrameError, HubError
from firmware_bridge.ble.bthome import (
    BTHOME_SERVICE_UUID,
    BTHOME_UUID16,
    BTHomeKey,
    decode_frame,
    encode_frame,
    peek_flags,
)
from firmware_bridge.ble.bthome_objects import (
    OBJECT_SPECS,
    BTObject,
    Kind,
    ObjectSpec,
    pack_objects,
    parse_objects,
)
from firmware_bridge.ble.gnss_fix import GnssFix, fix_object, pack_fix
from tests.bthome_reference import reference_parse, reference_values

# The published BTHome v2 encryption example (bthome.io/encryption). Expected bytes come from
# running the example script shipped in bthome-ble (bthome_ble/bthome_v2_encryption.py, main()),
# which prints Ciphertext e445f3c9962b, count_id 33221100, MIC 6c7c4519 and the advert
# d2fc41e445f3c9962b332211006c7c4519 (UUID d2fc first; bleak hands us what follows it).
EXAMPLE_KEY_HEX = "231d39c1d7cc1ab1aee224cd096db932"
EXAMPLE_MAC = "54:48:E6:8F:80:A5"
EXAMPLE_COUNTER = 0x00112233
EXAMPLE_PLAINTEXT = bytes.fromhex("02CA0903BF13")
EXAMPLE_SERVICE_DATA = bytes.fromhex("41e445f3c9962b332211006c7c4519")

KEY = BTHomeKey.from_hex(EXAMPLE_KEY_HEX)
KEY_BYTES = bytes.fromhex(EXAMPLE_KEY_HEX)
OTHER_KEY = BTHomeKey(bytes(range(16)))
WATCH = "A4:C1:38:12:34:56"
SOS = [(0x00, 17), (0x01, 87), (0x3A, "press")]


def values(frame_objects: tuple[BTObject, ...]) -> dict[str, object]:
    """Name -> value of decoded objects (names are unique in each test's frame)."""
    return {obj.name: obj.value for obj in frame_objects}


# --- the published vector --------------------------------------------------------------------


def test_encoder_reproduces_the_published_ciphertext_counter_and_mic() -> None:
    frame = encode_frame(
        [(0x02, 25.06), (0x03, 50.55)], mac=EXAMPLE_MAC, key=KEY, counter=EXAMPLE_COUNTER
    )
    assert frame == EXAMPLE_SERVICE_DATA
    assert pack_objects([(0x02, 25.06), (0x03, 50.55)]) == EXAMPLE_PLAINTEXT


def test_published_frame_decodes_to_25_06_degrees_and_50_55_percent() -> None:
    frame = decode_frame(EXAMPLE_SERVICE_DATA, "54:48:e6:8f:80:a5", KEY)
    assert values(frame.objects) == {"temperature": 25.06, "humidity": 50.55}
    assert [obj.unit for obj in frame.objects] == ["°C", "%"]
    assert (frame.counter, frame.mic_verified, frame.encrypted) == (EXAMPLE_COUNTER, True, True)
    assert (frame.mac, frame.version, frame.mac_included, frame.trigger_based) == (
        EXAMPLE_MAC,
        2,
        False,
        False,
    )


def test_reference_parser_reads_the_published_frame_as_we_do() -> None:
    reference = reference_values(reference_parse(EXAMPLE_SERVICE_DATA, EXAMPLE_MAC, KEY_BYTES))
    assert reference == {"temperature": 25.06, "humidity": 50.55}


def test_constants_name_the_bthome_service() -> None:
    assert BTHOME_UUID16 == 0xFCD2
    assert BTHOME_SERVICE_UUID.startswith(f"0000{BTHOME_UUID16:04x}-")


# --- cross-check against bthome-ble ------------------------------------------------------------

FIX = GnssFix(lat=52.3702157, lon=4.8951679, accuracy_m=12, age_s=5)
MIXES: dict[str, tuple[list[tuple[int, object]], dict[str, object]]] = {
    "sos press with battery": (
        [(0x00, 17), (0x01, 87), (0x3A, "press")],
        {"packet_id": 17, "battery": 87, "event:button": ("press", None)},
    ),
    "double press": (
        [(0x01, 5), (0x3A, "double_press")],
        {"battery": 5, "event:button": ("double_press", None)},
    ),
    "triple press": ([(0x3A, "triple_press")], {"event:button": ("triple_press", None)}),
    "long press cancels": (
        [(0x01, 100), (0x3A, "long_press")],
        {"battery": 100, "event:button": ("long_press", None)},
    ),
    "climate": (
        [(0x02, -12.34), (0x03, 99.99), (0x04, 1013.25), (0x0C, 2.981)],
        {"temperature": -12.34, "humidity": 99.99, "pressure": 1013.25, "voltage": 2.981},
    ),
    "binary battery low and charging": (
        [(0x15, True), (0x16, False)],
        {"binary:battery": True, "binary:battery_charging": False},
    ),
    "gps fix": ([fix_object(FIX)], {"raw": pack_fix(FIX).hex()}),
    "battery then fix": (
        [(0x01, 42), fix_object(FIX)],
        {"battery": 42, "raw": pack_fix(FIX).hex()},
    ),
    "dimmer text timestamp": (
        [(0x3C, "rotate_right:2"), (0x50, 1_700_000_000), (0x53, "Rm 12")],
        {
            "event:dimmer": ("rotate_right", {"steps": 2}),
            "timestamp": datetime.fromtimestamp(1_700_000_000, UTC),
            "text": "Rm 12",
        },
    ),
}


@pytest.mark.parametrize("mac_included", [False, True], ids=["advertiser-mac", "mac-included"])
@pytest.mark.parametrize("encrypted", [True, False], ids=["encrypted", "plaintext"])
@pytest.mark.parametrize("name", list(MIXES))
def test_reference_parser_reads_our_frames_to_the_same_values(
    name: str, encrypted: bool, mac_included: bool
) -> None:
    objects, expected = MIXES[name]
    key = KEY if encrypted else None
    counter = 1000 if encrypted else None
    frame = encode_frame(objects, mac=WATCH, key=key, counter=counter, mac_included=mac_included)
    advertiser = "7B:00:00:00:00:01" if mac_included else WATCH  # a resolvable private address
    reference = reference_values(
        reference_parse(frame, advertiser, KEY_BYTES if encrypted else None)
    )
    assert reference == expected
    ours = decode_frame(frame, advertiser, key)
    assert [(obj.object_id, obj.value) for obj in ours.objects] == objects
    assert (ours.mac, ours.encrypted, ours.mac_included, ours.counter) == (
        WATCH,
        encrypted,
        mac_included,
        counter,
    )


def _reference_comparable(spec: ObjectSpec) -> bool:
    """Numbers and binaries bthome-ble reports as plain values (0x58 it rounds to 1 decimal)."""
    return spec.kind in (Kind.NUMBER, Kind.BINARY) and spec.object_id not in (0x50, 0x58, 0xF0)


COMPARABLE = sorted(spec.object_id for spec in OBJECT_SPECS.values() if _reference_comparable(spec))


@settings(max_examples=300, deadline=None)
@given(object_id=st.sampled_from(COMPARABLE), data=st.data(), encrypted=st.booleans())
def test_any_number_or_binary_reads_the_same_in_bthome_ble(
    object_id: int, data: st.DataObject, encrypted: bool
) -> None:
    spec = OBJECT_SPECS[object_id]
    payload = bytes((object_id,)) + data.draw(canonical_data(spec))
    (obj,), _ = parse_objects(payload)
    frame = encode_frame(
        [(object_id, obj.value)],
        mac=WATCH,
        key=KEY if encrypted else None,
        counter=9 if encrypted else None,
    )
    reference = reference_values(reference_parse(frame, WATCH, KEY_BYTES if encrypted else None))
    assert list(reference.values()) == [obj.value]


# --- objects: round trips and table ------------------------------------------------------------


def canonical_data(spec: ObjectSpec) -> st.SearchStrategy[bytes]:
    """Data bytes (after the id) with exactly one encoding: bytes -> value -> bytes is identity."""
    if spec.kind is Kind.NUMBER:
        return st.integers(*spec.raw_range).map(
            lambda raw: raw.to_bytes(spec.length, "little", signed=spec.signed)
        )
    if spec.kind is Kind.BINARY:
        return st.sampled_from([b"\x00", b"\x01"])
    if spec.kind is Kind.COMMAND:
        return st.tuples(st.integers(0, 255), st.binary(max_size=31)).map(
            lambda t: bytes((len(t[1]), t[0])) + t[1]
        )
    if spec.kind is Kind.RAW:
        return st.binary(max_size=255).map(lambda raw: bytes((len(raw),)) + raw)
    if spec.kind is Kind.TEXT:
        encoded = st.text(max_size=60).map(lambda text: text.encode("utf-8"))
        return encoded.map(lambda raw: bytes((len(raw),)) + raw)
    return st.binary(min_size=spec.length, max_size=spec.length)


@st.composite
def canonical_payload(draw: st.DrawFn) -> bytes:
    """A payload of 0..6 known objects, each canonically encoded."""
    ids = draw(st.lists(st.sampled_from(sorted(OBJECT_SPECS)), max_size=6))
    return b"".join(
        bytes((object_id,)) + draw(canonical_data(OBJECT_SPECS[object_id])) for object_id in ids
    )


@settings(max_examples=500)
@given(canonical_payload())
def test_objects_round_trip_bytes_to_values_to_bytes(payload: bytes) -> None:
    objects, unknown = parse_objects(payload)
    assert unknown is None
    assert pack_objects([(obj.object_id, obj.value) for obj in objects]) == payload


@given(
    st.lists(
        st.one_of(
            st.tuples(
                st.just(0x3A),
                st.sampled_from(["none", "press", "double_press", "long_press", "hold_press"]),
            ),
            st.tuples(st.sampled_from([0x0F, 0x15, 0x21, 0x2D]), st.booleans()),
            st.tuples(st.just(0x53), st.text(max_size=40)),
            st.tuples(st.just(0x54), st.binary(max_size=40)),
            st.tuples(st.just(0x01), st.integers(0, 255)),
            st.tuples(st.just(0x45), st.integers(-32768, 32767).map(lambda raw: raw / 10)),
        ),
        max_size=5,
    )
)
def test_values_round_trip_values_to_bytes_to_values(pairs: list[tuple[int, object]]) -> None:
    objects, unknown = parse_objects(pack_objects(pairs))
    assert unknown is None
    assert [(obj.object_id, obj.value) for obj in objects] == pairs


def test_table_covers_the_v2_ids_with_short_names() -> None:
    expected = set(range(0x30)) | set(range(0x3A, 0x66)) | {0xF0, 0xF1, 0xF2}
    assert set(OBJECT_SPECS) == expected
    names = {spec.object_id: spec.name for spec in OBJECT_SPECS.values()}
    assert [names[i] for i in (0x00, 0x01, 0x02, 0x03, 0x04, 0x05)] == [
        "packet_id", "battery", "temperature", "humidity", "pressure", "illuminance",
    ]  # fmt: skip
    assert [names[i] for i in (0x0F, 0x10, 0x11, 0x15, 0x16, 0x2D)] == [
        "generic_boolean", "power", "opening", "battery_low", "battery_charging", "window",
    ]  # fmt: skip
    assert [names[i] for i in (0x3A, 0x3B, 0x3C, 0x50, 0x53, 0x54, 0xF0, 0xF1, 0xF2)] == [
        "button", "command", "dimmer", "timestamp", "text", "raw", "device_type_id",
        "firmware_version", "firmware_version",
    ]  # fmt: skip
    assert all(name.isidentifier() and name == name.lower() for name in names.values())


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("3a00", "none"), ("3a01", "press"), ("3a02", "double_press"), ("3a03", "triple_press"),
        ("3a04", "long_press"), ("3a05", "long_double_press"), ("3a06", "long_triple_press"),
        ("3a80", "hold_press"), ("3a07", "unknown_0x07"), ("3c0103", "rotate_left:3"),
        ("3c0202", "rotate_right:2"), ("3c0000", "none:0"), ("3b0002", "toggle"),
        ("3b02010a0b", "on:0a0b"),
        ("f100010204", "4.2.1.0"), ("f2000106", "6.1.0"), ("500065cd1d", 0x1DCD6500),
        ("5802", 0.7), ("62c0bdf0ff", -1.0), ("4561fe", -41.5), ("2e23", 35),
    ],
)  # fmt: skip
def test_events_and_special_objects_decode_to_documented_values(
    payload: str, expected: object
) -> None:
    (obj,), unknown = parse_objects(bytes.fromhex(payload))
    assert (obj.value, unknown) == (expected, None)
    assert pack_objects([(obj.object_id, obj.value)]) == bytes.fromhex(payload)


def test_object_json_shows_hex_id_and_hex_bytes() -> None:
    button, raw = parse_objects(bytes.fromhex("3a015402beef"))[0]
    assert button.to_json() == {"id": "0x3a", "name": "button", "value": "press", "unit": None}
    assert raw.to_json() == {"id": "0x54", "name": "raw", "value": "beef", "unit": None}


def test_truncated_object_is_named_with_what_is_missing() -> None:
    with pytest.raises(
        FrameError, match=r"object 0x02 \(temperature\) needs 2 bytes at offset 3, only 1 left"
    ):
        parse_objects(bytes.fromhex("015002ca"))
    with pytest.raises(
        FrameError, match=r"object 0x54 \(raw\) needs a length byte at offset 1, none left"
    ):
        parse_objects(bytes.fromhex("54"))
    with pytest.raises(
        FrameError, match=r"object 0x54 \(raw\) needs 13 bytes at offset 2, only 2 left"
    ):
        parse_objects(bytes.fromhex("540d4701"))


def test_text_that_is_not_utf8_is_refused_as_a_frame_error() -> None:
    with pytest.raises(FrameError, match="not valid UTF-8"):
        parse_objects(bytes.fromhex("5302c328"))


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ([(0x01, 256)], r"0x01 \(battery\) value 256 is out of range 0\.\.255"),
        ([(0x02, 327.68)], r"0x02 \(temperature\) value 327.68 is out of range -327.68\.\.327.67"),
        ([(0x01, -1)], "out of range"),
        ([(0x01, 1.5)], "whole number"),
        ([(0x02, float("nan"))], "finite number"),
        ([(0x02, "hot")], "takes a number"),
        ([(0x15, 2)], "True or False"),
        ([(0x3A, "squeeze")], "has no event 'squeeze'"),
        ([(0x3C, "rotate_left")], "rotate_left:N"),
        ([(0x54, b"x" * 256)], "at most 255 bytes"),
        ([(0x53, b"bytes")], "takes a str"),
        ([(0xF2, "1.2.3.4")], "version 'a.b.c'"),
        ([(0x9A, 1)], "unknown BTHome object id 0x9a"),
    ],
)
def test_pack_refuses_bad_values_with_value_error(
    pairs: list[tuple[int, object]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        pack_objects(pairs)


# --- frames: flags, unknown objects, keys ------------------------------------------------------


def test_unknown_object_stops_parsing_cleanly_and_is_reported() -> None:
    frame = decode_frame(bytes.fromhex("4001509a01023a01"), WATCH)
    assert values(frame.objects) == {"battery": 80}
    assert frame.unknown_object == 0x9A
    assert frame.to_json()["stopped_at_unknown_object"] == "0x9a"


def test_unknown_object_inside_an_encrypted_frame_is_reported_after_the_mic_check() -> None:
    plaintext_with_unknown = bytes.fromhex("0150") + bytes.fromhex("30ff")
    info, counter = 0x41, (7).to_bytes(4, "little")
    nonce = bytes.fromhex(WATCH.replace(":", "")) + b"\xd2\xfc" + bytes((info,)) + counter
    sealed = KEY.encrypt(nonce, plaintext_with_unknown)
    frame = decode_frame(bytes((info,)) + sealed[:-4] + counter + sealed[-4:], WATCH, KEY)
    assert (values(frame.objects), frame.unknown_object, frame.mic_verified) == (
        {"battery": 80},
        0x30,
        True,
    )


def test_mac_included_flag_uses_the_watch_mac_not_the_advertiser_address() -> None:
    service_data = encode_frame(SOS, mac=WATCH, key=KEY, counter=3, mac_included=True)
    assert service_data[0] == 0x43 and service_data[1:7] == bytes.fromhex("563412 38c1a4")
    frame = decode_frame(service_data, "7B:11:22:33:44:55", KEY)
    assert (frame.mac, frame.mac_included, frame.counter) == (WATCH, True, 3)


def test_trigger_based_flag_is_reported() -> None:
    frame = decode_frame(
        encode_frame(SOS, mac=WATCH, key=KEY, counter=4, trigger_based=True), WATCH, KEY
    )
    assert (
        frame.trigger_based
        and peek_flags(encode_frame(SOS, mac=WATCH, key=None, trigger_based=True)) == 0x44
    )


def test_plaintext_frame_decodes_with_or_without_a_key_and_says_so() -> None:
    service_data = encode_frame(SOS, mac=WATCH, key=None)
    assert service_data == bytes.fromhex("40001101573a01")
    for key in (None, KEY):
        frame = decode_frame(service_data, WATCH.lower(), key)
        assert (frame.encrypted, frame.mic_verified, frame.counter) == (False, False, None)
        assert values(frame.objects) == {"packet_id": 17, "battery": 87, "button": "press"}


def test_frame_json_has_the_documented_keys() -> None:
    frame = decode_frame(EXAMPLE_SERVICE_DATA, EXAMPLE_MAC, KEY).to_json()
    assert list(frame) == [
        "mac", "encrypted", "mac_included", "trigger_based", "bthome_version", "counter",
        "mic_verified", "objects", "stopped_at_unknown_object",
    ]  # fmt: skip
    assert frame["objects"] == [
        {"id": "0x02", "name": "temperature", "value": 25.06, "unit": "°C"},
        {"id": "0x03", "name": "humidity", "value": 50.55, "unit": "%"},
    ]


def test_peek_flags_reads_the_info_byte_cheaply() -> None:
    assert peek_flags(EXAMPLE_SERVICE_DATA) == 0x41
    assert peek_flags(b"") is None


def test_key_is_never_shown_and_bad_keys_are_refused() -> None:
    assert EXAMPLE_KEY_HEX not in repr(KEY) and "231d" not in str(KEY)
    for text in ("231d39c1", "zz" * 16, EXAMPLE_KEY_HEX + "00", ""):
        with pytest.raises(FrameError, match=r"expected 32 hex digits \(a 128-bit AES key\)"):
            BTHomeKey.from_hex(text)
    with pytest.raises(ValueError, match="16-byte"):
        BTHomeKey(b"short")
    assert decode_frame(
        EXAMPLE_SERVICE_DATA, EXAMPLE_MAC, BTHomeKey.from_hex(f"  {EXAMPLE_KEY_HEX.upper()} ")
    ).counter


def test_encoder_refuses_a_missing_or_out_of_range_counter() -> None:
    for counter in (None, -1, 2**32, True):
        with pytest.raises(ValueError, match=r"counter 0\.\.4294967295"):
            encode_frame(SOS, mac=WATCH, key=KEY, counter=counter)
    with pytest.raises(ValueError, match="only sent in encrypted frames"):
        encode_frame(SOS, mac=WATCH, key=None, counter=1)
    assert (
        decode_frame(encode_frame(SOS, mac=WATCH, key=KEY, counter=2**32 - 1), WATCH, KEY).counter
        == 2**32 - 1
    )


# --- refusals: only FrameError, with the reason -------------------------------------------------

SEALED = encode_frame(SOS, mac=WATCH, key=KEY, counter=41)


def test_wrong_key_fails_the_mic_check() -> None:
    with pytest.raises(
        FrameError, match=f"MIC check failed: wrong key for {WATCH} or corrupted frame"
    ):
        decode_frame(SEALED, WATCH, OTHER_KEY)


def test_wrong_advertiser_mac_fails_the_mic_check() -> None:
    with pytest.raises(FrameError, match="MIC check failed"):
        decode_frame(SEALED, "A4:C1:38:12:34:57", KEY)


def test_encrypted_frame_without_a_key_asks_for_the_key() -> None:
    message = f"frame is encrypted but no key is registered for {WATCH}; add the watch's key"
    with pytest.raises(FrameError, match=message):
        decode_frame(SEALED, WATCH, None)


@pytest.mark.parametrize("position", range(1, len(SEALED)))
def test_any_flipped_bit_after_the_info_byte_is_refused(position: int) -> None:
    for bit in range(8):
        tampered = bytearray(SEALED)
        tampered[position] ^= 1 << bit
        with pytest.raises(FrameError, match="MIC check failed"):
            decode_frame(bytes(tampered), WATCH, KEY)


@pytest.mark.parametrize("bit", range(1, 8))
def test_flipped_info_bits_are_refused(bit: int) -> None:
    tampered = bytes((SEALED[0] ^ (1 << bit),)) + SEALED[1:]
    with pytest.raises(FrameError):
        decode_frame(tampered, WATCH, KEY)


def test_clearing_the_encryption_bit_is_reported_as_plaintext_not_hidden() -> None:
    try:
        frame = decode_frame(bytes((SEALED[0] & ~1,)) + SEALED[1:], WATCH, KEY)
    except FrameError:
        return
    assert not frame.encrypted and not frame.mic_verified


@pytest.mark.parametrize("mac_included", [False, True])
def test_encrypted_frame_truncated_at_every_length_is_refused(mac_included: bool) -> None:
    sealed = encode_frame(SOS, mac=WATCH, key=KEY, counter=5, mac_included=mac_included)
    for length in range(len(sealed)):
        with pytest.raises(FrameError):
            decode_frame(sealed[:length], WATCH, KEY)


def test_plaintext_frame_truncated_at_every_length_is_refused_or_a_prefix() -> None:
    plain = encode_frame([*SOS, (0x02, 21.5), fix_object(FIX)], mac=WATCH, key=None)
    full = decode_frame(plain, WATCH).objects
    for length in range(len(plain)):
        try:
            frame = decode_frame(plain[:length], WATCH)
        except FrameError:
            continue
        assert frame.objects == full[: len(frame.objects)]


@pytest.mark.parametrize(
    ("service_data", "message"),
    [
        (b"", "empty BTHome service data"),
        (bytes.fromhex("210150"), "BTHome version 1; only version 2 is accepted"),
        (bytes.fromhex("00"), "version 0"),
        (bytes.fromhex("e0"), "version 7"),
        (bytes.fromhex("425634"), "MAC is included but only 2 bytes follow"),
        (bytes.fromhex("4101020304050607"), "too short: needs a 4-byte counter and a 4-byte MIC"),
    ],
)
def test_malformed_frames_say_why(service_data: bytes, message: str) -> None:
    with pytest.raises(FrameError, match=message):
        decode_frame(service_data, WATCH, KEY)


def test_bad_advertiser_address_is_a_frame_error() -> None:
    with pytest.raises(FrameError, match="expected a MAC address"):
        decode_frame(bytes.fromhex("400150"), "not-a-mac", None)


def test_frame_errors_are_hub_errors_and_value_errors() -> None:
    with pytest.raises(HubError):
        decode_frame(b"", WATCH)
    with pytest.raises(ValueError):
        decode_frame(b"", WATCH)


@settings(max_examples=1000)
@given(
    service_data=st.one_of(
        st.binary(max_size=40),
        st.builds(
            lambda low, rest: bytes((0x40 | low,)) + rest,
            st.integers(0, 31),
            st.binary(max_size=40),
        ),
    ),
    key=st.sampled_from([None, KEY]),
)
def test_garbage_raises_nothing_but_frame_error(service_data: bytes, key: BTHomeKey | None) -> None:
    try:
        frame = decode_frame(service_data, WATCH, key)
    except FrameError:
        return
    assert frame.version == 2 and not frame.mic_verified
