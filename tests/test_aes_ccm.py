"""The BTHome cipher on the system's libcrypto gives, byte for byte, what the
`cryptography` package gives, refuses every tampered frame, and keeps working after one."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.ble import aes_ccm
from firmware_bridge.ble.aes_ccm import ccm, libcrypto_path

KEYS = st.binary(min_size=16, max_size=16)
NONCES = st.binary(min_size=13, max_size=13)
PLAINTEXTS = st.binary(max_size=48)


def test_the_hub_uses_the_libcrypto_python_already_has() -> None:
    assert aes_ccm._LIBRARY is not None, "no shared libcrypto found on this machine"
    assert type(ccm(bytes(16))).__name__ == "_EvpCcm"


@settings(max_examples=400, deadline=None)
@given(KEYS, NONCES, PLAINTEXTS)
def test_both_ciphers_seal_and_open_as_the_package_does(
        key: bytes, nonce: bytes, plaintext: bytes) -> None:
    sealed = AESCCM(key, tag_length=4).encrypt(nonce, plaintext, None)
    for cipher in (ccm(key), ccm(key, package=True)):
        assert cipher.encrypt(nonce, plaintext) == sealed
        assert cipher.decrypt(nonce, sealed) == plaintext


@settings(max_examples=400, deadline=None)
@given(KEYS, NONCES, PLAINTEXTS, st.data())
def test_any_flipped_bit_is_refused_and_the_next_frame_still_opens(
        key: bytes, nonce: bytes, plaintext: bytes, data: st.DataObject) -> None:
    sealed = AESCCM(key, tag_length=4).encrypt(nonce, plaintext, None)
    bit = data.draw(st.integers(0, len(sealed) * 8 - 1))
    tampered = bytearray(sealed)
    tampered[bit // 8] ^= 1 << bit % 8
    other_nonce = bytes([nonce[0] ^ 1]) + nonce[1:]
    for cipher in (ccm(key), ccm(key, package=True)):
        assert cipher.decrypt(nonce, bytes(tampered)) is None
        assert cipher.decrypt(other_nonce, sealed) is None
        assert ccm(bytes(b ^ 0xFF for b in key)).decrypt(nonce, sealed) is None
        assert cipher.decrypt(nonce, sealed) == plaintext


@pytest.mark.parametrize("package", [False, True])
def test_short_frames_are_refused_and_a_wrong_nonce_is_a_programming_error(
        package: bool) -> None:
    cipher = ccm(bytes(range(16)), package=package)
    assert cipher.decrypt(bytes(13), b"abc") is None
    assert cipher.decrypt(bytes(13), b"") is None
    with pytest.raises(ValueError, match="13-byte nonce, got 12"):
        cipher.decrypt(bytes(12), bytes(8))
    with pytest.raises(ValueError, match="13-byte nonce, got 7"):
        cipher.encrypt(bytes(7), b"x")


def test_one_key_shared_by_threads_gives_each_its_own_answer() -> None:
    key = bytes(range(16))
    reference, shared = AESCCM(key, tag_length=4), ccm(key)
    wrong: list[object] = []
    done: list[int] = []

    def work(seed: int) -> None:
        try:
            for n in range(2_000):
                nonce = (seed * 100_000 + n).to_bytes(13, "big")
                text = n.to_bytes(4, "big") * (n % 5)
                sealed = shared.encrypt(nonce, text)
                if sealed != reference.encrypt(nonce, text, None) \
                        or shared.decrypt(nonce, sealed) != text \
                        or shared.decrypt(nonce, sealed[:-1] + bytes([sealed[-1] ^ 1])) is not None:
                    wrong.append(n)
            done.append(seed)
        except Exception as error:  # a thread that dies must fail the test, not hide
            wrong.append(error)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == [] and sorted(done) == [0, 1, 2, 3]


@pytest.mark.parametrize("package", [False, True])
def test_an_oversized_input_is_refused_and_the_key_goes_on_working(package: bool) -> None:
    key, nonce = bytes(range(16)), bytes(13)
    cipher = ccm(key, package=package)
    sealed = cipher.encrypt(nonce, b"SOS")
    assert cipher.decrypt(nonce, bytes(0x10000 + 4)) is None
    with pytest.raises(ValueError, match="at most 65535 bytes"):
        ccm(key).encrypt(nonce, bytes(0x10000))
    assert cipher.decrypt(nonce, sealed) == b"SOS"
    assert cipher.encrypt(nonce, b"SOS") == sealed


def test_keys_of_the_wrong_length_and_copies_are_refused() -> None:
    for key in (b"abc", bytes(15), bytes(17)):
        with pytest.raises(ValueError, match="16-byte AES-128 key"):
            ccm(key)
    with pytest.raises(TypeError, match="not copied"):
        copy.copy(ccm(bytes(16)))


def test_the_library_is_the_one_already_mapped_or_none(tmp_path: Path) -> None:
    maps = tmp_path / "maps"
    maps.write_text("7f00-7f01 r-xp 00000000 08:01 12 /opt/lib/libcrypto.so.3\n"
                    "7f02-7f03 r--p 00000000 00:00 0\n")
    assert libcrypto_path(maps) == "/opt/lib/libcrypto.so.3"
    maps.write_text("7f02-7f03 r--p 00000000 00:00 0 [heap]\n")
    assert libcrypto_path(maps) is None  # never a second OpenSSL from elsewhere
    assert libcrypto_path(tmp_path / "absent") is None


def test_a_libcrypto_that_fails_the_known_answer_is_not_used(tmp_path: Path) -> None:
    """With only OpenSSL's base provider (no AES), the hub falls back to the package."""
    code = ("from firmware_bridge.ble import aes_ccm; from firmware_bridge.ble.bthome import "
            "BTHomeKey; key = BTHomeKey(bytes(16)); sealed = key.encrypt(bytes(13), b'SOS'); "
            "print(aes_ccm._LIBRARY is None, key.decrypt(bytes(13), sealed))")
    config = tmp_path / "openssl.cnf"
    config.write_text("openssl_conf = init\n[init]\nproviders = providers\n[providers]\n"
                      "base = base\n[base]\nactivate = 1\n")
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).resolve().parents[1],
                            env={**os.environ, "OPENSSL_CONF": str(config)})
    assert answer.stdout.split() == ["True", "b'SOS'"]


def test_the_running_hub_does_not_load_the_cryptography_package() -> None:
    code = ("import sys; from edge.app import build_hub; from firmware_bridge.ble.bthome "
            "import BTHomeKey; BTHomeKey(bytes(16)).decrypt(bytes(13), bytes(8)); "
            "print('cryptography' in sys.modules)")
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).resolve().parents[1])
    assert answer.stdout.strip() == "False"
