"""How a watch is named and keyed on the air: its MAC address and its AES key."""

from __future__ import annotations

import re

MAC_PATTERN = re.compile(r"^[0-9A-F]{2}(:[0-9A-F]{2}){5}$")
_HEX_KEY = re.compile(r"[0-9a-f]{32}")


def normalise_mac(text: str) -> str:
    """Return MAC as upper-case colon form, or raise ValueError naming the expected form."""
    candidate = text.strip().upper().replace("-", ":")
    if len(candidate) == 12 and ":" not in candidate:
        candidate = ":".join(candidate[i : i + 2] for i in range(0, 12, 2))
    if not MAC_PATTERN.fullmatch(candidate):
        raise ValueError(f"expected a MAC address like A4:C1:38:12:34:56, got {text!r}")
    return candidate


def parse_key(text: str) -> bytes:
    """Return a 128-bit AES key from 32 hex digits, or raise ValueError."""
    cleaned = text.strip().lower()
    if not _HEX_KEY.fullmatch(cleaned):
        raise ValueError("expected 32 hex digits (a 128-bit AES key)")
    return bytes.fromhex(cleaned)
