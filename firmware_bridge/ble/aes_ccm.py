"""AES-128-CCM with BTHome's 13-byte nonce and 4-byte MIC, from the OpenSSL that Python's
own ssl module has already loaded.

The `cryptography` package brings a second, statically linked OpenSSL: some 8 MB of a Pi's
memory for this one cipher, which the system's libcrypto (mapped into every Python that
can speak TLS) has too. So the cipher is called there through ctypes, with the EVP
interface (https://docs.openssl.org/3.0/man3/EVP_EncryptInit/, "CCM mode"). Where Python
has no shared libcrypto mapped (OpenSSL linked in statically, or no ssl at all), or the one
it has fails a known answer, `cryptography`'s AESCCM does the same job. Tests check both
against each other.
"""

from __future__ import annotations

import ctypes
import threading
from pathlib import Path
from typing import Any, Protocol

KEY_LENGTH = 16
NONCE_LENGTH = 13
TAG_LENGTH = 4
MAX_TEXT = 0xFFFF  # what a 13-byte nonce leaves room to count (2 length bytes)
_SET_IVLEN, _GET_TAG, _SET_TAG = 0x9, 0x10, 0x11  # EVP_CTRL_AEAD_* (= EVP_CTRL_CCM_*)


class Ccm(Protocol):
    """One key's cipher: sealed = ciphertext + MIC."""

    def encrypt(self, nonce: bytes, plaintext: bytes) -> bytes: ...
    def decrypt(self, nonce: bytes, sealed: bytes) -> bytes | None: ...


def libcrypto_path(maps: Path = Path("/proc/self/maps")) -> str | None:
    """The libcrypto this process already has mapped (Python's _ssl links it), or None.
    Never a second one: two OpenSSLs in one process is asking for trouble."""
    try:
        import _ssl  # noqa: F401  (maps libcrypto where Python links it dynamically)
    except ImportError:
        return None
    try:
        for line in maps.read_text().splitlines():
            path = line.split(maxsplit=5)[5:]
            if path and Path(path[0]).name.startswith("libcrypto.so"):
                return path[0]
    except OSError:
        pass
    return None


class _Library:
    """The few EVP functions CCM needs, bound once. PyDLL keeps the GIL during each call
    (they take microseconds), and no Python error can be pending after one."""

    def __init__(self, path: str) -> None:
        lib = ctypes.PyDLL(path)
        pointer = ctypes.c_void_p
        lib.EVP_aes_128_ccm.restype = pointer
        lib.EVP_CIPHER_CTX_new.restype = pointer
        lib.EVP_CIPHER_CTX_free.argtypes = [pointer]
        lib.ERR_clear_error.restype = None
        self.lib, self.cipher = lib, pointer(lib.EVP_aes_128_ccm())
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

    def rekey(self, context: ctypes.c_void_p, key: bytes, encrypting: bool) -> None:
        """After a failed call: OpenSSL's errors cleared, and the key set again, which
        resets the context whatever the failure left in it."""
        init = self.lib.EVP_EncryptInit_ex if encrypting else self.lib.EVP_DecryptInit_ex
        init(context, None, None, key, None)
        self.lib.ERR_clear_error()

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

    def __reduce__(self) -> Any:
        raise TypeError("an AES-CCM key's cipher is not copied or pickled; make another")

    def decrypt(self, nonce: bytes, sealed: bytes) -> bytes | None:
        nonce, sealed = _checked(nonce), bytes(sealed)
        size = len(sealed) - TAG_LENGTH
        if not 0 <= size <= MAX_TEXT:
            return None
        lib, context, length = self._library.lib, self._decrypting, ctypes.byref(self._length)
        out = ctypes.create_string_buffer(size or 1)
        with self._lock:
            ok = (lib.EVP_CIPHER_CTX_ctrl(context, _SET_TAG, TAG_LENGTH, sealed[size:]) == 1
                  and lib.EVP_DecryptInit_ex(context, None, None, None, nonce) == 1
                  and lib.EVP_DecryptUpdate(context, None, length, None, size) == 1
                  and lib.EVP_DecryptUpdate(context, out, length, sealed, size) > 0)
            if not ok:
                self._library.rekey(context, self._key, encrypting=False)
        return out.raw[:size] if ok else None

    def encrypt(self, nonce: bytes, plaintext: bytes) -> bytes:
        nonce, plaintext = _checked(nonce), bytes(plaintext)
        size = len(plaintext)
        if size > MAX_TEXT:
            raise ValueError(f"AES-CCM here takes at most {MAX_TEXT} bytes, got {size}")
        lib, length = self._library.lib, ctypes.byref(self._length)
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
                self._library.rekey(context, self._key, encrypting=True)
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
        return bytes(self._cipher.encrypt(_checked(nonce), plaintext, None))

    def decrypt(self, nonce: bytes, sealed: bytes) -> bytes | None:
        nonce = _checked(nonce)
        if not TAG_LENGTH <= len(sealed) <= MAX_TEXT + TAG_LENGTH:
            return None
        try:
            return bytes(self._cipher.decrypt(nonce, sealed, None))
        except self._invalid:
            return None


def _checked(nonce: bytes) -> bytes:
    nonce = bytes(nonce)
    if len(nonce) != NONCE_LENGTH:
        raise ValueError(f"expected a {NONCE_LENGTH}-byte nonce, got {len(nonce)} bytes")
    return nonce


# One known answer (key 00..0f, nonce 00..0c, plaintext "BTHome"), from the cryptography
# package: a libcrypto that does not give it (or cannot build a context) is not used.
_PROBE_KEY, _PROBE_NONCE, _PROBE_TEXT = bytes(range(16)), bytes(range(13)), b"BTHome"
_PROBE_SEALED = bytes.fromhex("5460fce73e6ca43262d2")


def _load() -> _Library | None:
    path = libcrypto_path()
    try:
        library = _Library(path) if path else None
        if library is None:
            return None
        cipher = _EvpCcm(library, _PROBE_KEY)
        works = (cipher.encrypt(_PROBE_NONCE, _PROBE_TEXT) == _PROBE_SEALED
                 and cipher.decrypt(_PROBE_NONCE, _PROBE_SEALED) == _PROBE_TEXT
                 and cipher.decrypt(_PROBE_NONCE, _PROBE_SEALED[:-1] + b"\0") is None)
        return library if works else None
    except (OSError, AttributeError):  # not there, without the EVP functions, or failing
        return None


_LIBRARY = _load()


def ccm(key: bytes, *, package: bool = False) -> Ccm:
    """AES-128-CCM under `key`: libcrypto's where there is one (or `cryptography`'s, with
    `package`)."""
    key = bytes(key)
    if len(key) != KEY_LENGTH:
        raise ValueError(f"expected a {KEY_LENGTH}-byte AES-128 key, got {len(key)} bytes")
    if _LIBRARY is not None and not package:
        return _EvpCcm(_LIBRARY, key)
    return _PackageCcm(key)
