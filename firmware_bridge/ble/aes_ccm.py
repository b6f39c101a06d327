"""AES-128-CCM with BTHome's 13-byte nonce and 4-byte MIC, from the OpenSSL that Python's
own ssl module has already loaded.

The `cryptography` package brings a second, statically linked OpenSSL: some 8 MB of a Pi's
memory for this one cipher, which the system's libcrypto (mapped into every Python that
can speak TLS) has too. So the cipher is called there through ctypes, with the EVP
interface (https://docs.openssl.org/3.0/man3/EVP_EncryptInit/, "CCM mode"). Where no
shared libcrypto can be found (a Python built with OpenSSL linked in statically),
`cryptography`'s AESCCM does the same job. Tests check both against each other.
"""

from __future__ import annotations

import ctypes
import threading
from ctypes.util import find_library
from pathlib import Path
from typing import Any, Protocol

NONCE_LENGTH = 13
TAG_LENGTH = 4
_SET_IVLEN, _GET_TAG, _SET_TAG = 0x9, 0x10, 0x11  # EVP_CTRL_AEAD_* (= EVP_CTRL_CCM_*)


class Ccm(Protocol):
    """One key's cipher: sealed = ciphertext + MIC."""

    def encrypt(self, nonce: bytes, plaintext: bytes) -> bytes: ...
    def decrypt(self, nonce: bytes, sealed: bytes) -> bytes | None: ...


def libcrypto_path(maps: Path = Path("/proc/self/maps")) -> str | None:
    """The libcrypto this process already has mapped (Python's _ssl links it), else the
    one the system's linker would find, else None."""
    import _ssl  # noqa: F401  (loads libcrypto where Python links it dynamically)

    try:
        for line in maps.read_text().splitlines():
            path = line.split(maxsplit=5)[5:]
            if path and Path(path[0]).name.startswith("libcrypto.so"):
                return path[0]
    except OSError:
        pass
    return find_library("crypto")


class _Library:
    """The few EVP functions CCM needs, bound once. PyDLL keeps the GIL during each call
    (they take microseconds), and no Python error can be pending after one."""

    def __init__(self, path: str) -> None:
        lib = ctypes.PyDLL(path)
        pointer = ctypes.c_void_p
        lib.EVP_aes_128_ccm.restype = pointer
        lib.EVP_CIPHER_CTX_new.restype = pointer
        lib.EVP_CIPHER_CTX_free.argtypes = [pointer]
        self.lib, self.cipher = lib, pointer(lib.EVP_aes_128_ccm())
        # Probe: a library without CCM, or one that cannot build a context, is not used.
        if not self.cipher.value:
            raise OSError(f"{path} has no AES-128-CCM")

    def context(self, key: bytes, encrypting: bool) -> ctypes.c_void_p:
        """A cipher context holding the key; the MIC length is fixed before the key, as
        OpenSSL requires."""
        lib = self.lib
        context = ctypes.c_void_p(lib.EVP_CIPHER_CTX_new())
        init = lib.EVP_EncryptInit_ex if encrypting else lib.EVP_DecryptInit_ex
        ok = (bool(context.value)
              and init(context, self.cipher, None, None, None) == 1
              and lib.EVP_CIPHER_CTX_ctrl(context, _SET_IVLEN, NONCE_LENGTH, None) == 1
              and lib.EVP_CIPHER_CTX_ctrl(context, _SET_TAG, TAG_LENGTH, None) == 1
              and init(context, None, None, key, None) == 1)
        if not ok:
            self.free(context)
            raise OSError("libcrypto could not set up an AES-128-CCM context")
        return context

    def free(self, context: ctypes.c_void_p) -> None:
        if context.value:
            self.lib.EVP_CIPHER_CTX_free(context)


class _EvpCcm:
    """AES-128-CCM on libcrypto: one context per direction, kept for the key's life (the
    decrypting one made at once, the encrypting one, which only simulators and tests use,
    when first needed), used by one thread at a time."""

    __slots__ = ("_library", "_key", "_decrypting", "_encrypting", "_length", "_lock")

    def __init__(self, library: _Library, key: bytes) -> None:
        self._library, self._key, self._lock = library, key, threading.Lock()
        self._length = ctypes.c_int()
        self._encrypting: ctypes.c_void_p | None = None
        self._decrypting = library.context(key, encrypting=False)

    def __del__(self) -> None:
        for context in (getattr(self, "_decrypting", None), getattr(self, "_encrypting", None)):
            if context is not None:
                self._library.free(context)

    def decrypt(self, nonce: bytes, sealed: bytes) -> bytes | None:
        _check(nonce)
        size = len(sealed) - TAG_LENGTH
        if size < 0:
            return None
        lib, context, length = self._library.lib, self._decrypting, ctypes.byref(self._length)
        out = ctypes.create_string_buffer(size or 1)
        with self._lock:
            ok = (lib.EVP_CIPHER_CTX_ctrl(context, _SET_TAG, TAG_LENGTH, sealed[size:]) == 1
                  and lib.EVP_DecryptInit_ex(context, None, None, None, nonce) == 1
                  and lib.EVP_DecryptUpdate(context, None, length, None, size) == 1
                  and lib.EVP_DecryptUpdate(context, out, length, sealed, size) > 0)
        return out.raw[:size] if ok else None

    def encrypt(self, nonce: bytes, plaintext: bytes) -> bytes:
        _check(nonce)
        lib, length = self._library.lib, ctypes.byref(self._length)
        size = len(plaintext)
        out, tag = ctypes.create_string_buffer(size or 1), ctypes.create_string_buffer(TAG_LENGTH)
        with self._lock:
            if self._encrypting is None:
                self._encrypting = self._library.context(self._key, encrypting=True)
            context = self._encrypting
            ok = (lib.EVP_CIPHER_CTX_ctrl(context, _SET_TAG, TAG_LENGTH, None) == 1
                  and lib.EVP_EncryptInit_ex(context, None, None, None, nonce) == 1
                  and lib.EVP_EncryptUpdate(context, None, length, None, size) == 1
                  and lib.EVP_EncryptUpdate(context, out, length, plaintext, size) == 1
                  and lib.EVP_CIPHER_CTX_ctrl(context, _GET_TAG, TAG_LENGTH, tag) == 1)
        if not ok:
            raise OSError("libcrypto failed to encrypt with AES-128-CCM")
        return out.raw[:size] + tag.raw


class _PackageCcm:
    """The same cipher from the `cryptography` package."""

    __slots__ = ("_cipher", "_invalid")

    def __init__(self, key: bytes) -> None:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESCCM

        self._cipher: Any = AESCCM(key, tag_length=TAG_LENGTH)
        self._invalid = InvalidTag

    def encrypt(self, nonce: bytes, plaintext: bytes) -> bytes:
        _check(nonce)
        return bytes(self._cipher.encrypt(nonce, plaintext, None))

    def decrypt(self, nonce: bytes, sealed: bytes) -> bytes | None:
        _check(nonce)
        if len(sealed) < TAG_LENGTH:
            return None
        try:
            return bytes(self._cipher.decrypt(nonce, sealed, None))
        except self._invalid:
            return None


def _check(nonce: bytes) -> None:
    if len(nonce) != NONCE_LENGTH:
        raise ValueError(f"expected a {NONCE_LENGTH}-byte nonce, got {len(nonce)} bytes")


def _load() -> _Library | None:
    path = libcrypto_path()
    try:
        return _Library(path) if path else None
    except (OSError, AttributeError):  # not there, or without the EVP functions
        return None


_LIBRARY = _load()


def ccm(key: bytes, *, package: bool = False) -> Ccm:
    """AES-128-CCM under `key`: libcrypto's where there is one (or `cryptography`'s, with
    `package`)."""
    if _LIBRARY is not None and not package:
        return _EvpCcm(_LIBRARY, bytes(key))
    return _PackageCcm(bytes(key))
