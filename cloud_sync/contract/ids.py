"""Names both sides agree on: ids of hubs, communities and people, MAC addresses, and
the plain text a name may hold."""

from __future__ import annotations

import re
import unicodedata
from typing import TypeGuard

from firmware_bridge.ble.addresses import normalise_mac

__all__ = ["ID_PATTERN", "identifier", "is_id", "normalise_mac", "plain_text"]

_NOT_PLAIN = frozenset({"Cc", "Cf", "Cs"})
ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def plain_text(text: str) -> bool:
    """No control or format characters (line breaks, DEL, bidi overrides, zero-width
    marks) and no lone surrogates (which no UTF-8 text could carry): what a name texted to
    responders or shown to a worker may hold."""
    if text.isprintable():  # the common case, checked in C: no Other or Separator at all
        return True
    return not any(unicodedata.category(ch) in _NOT_PLAIN for ch in text)


def identifier(text: str) -> str:
    """text when it is an id (ID_PATTERN), else ValueError."""
    if not ID_PATTERN.fullmatch(text):
        raise ValueError(text)
    return text


def is_id(value: object) -> TypeGuard[str]:
    """True when value is an id (ID's form): safe as an MQTT topic level, a file name, a key."""
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None
