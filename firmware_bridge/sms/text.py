"""SMS text (TS 23.040/23.038): alphabets, splitting into parts, and TP-UD with its UDH; pure."""

from __future__ import annotations

from firmware_bridge.errors import PduError
from firmware_bridge.sms import gsm7
from firmware_bridge.sms.fields import PduReader

DCS_GSM7 = 0x00
DCS_UCS2 = 0x08
MAX_UD_OCTETS = 140
MAX_PARTS = 255


# --- alphabets -----------------------------------------------------------------------------


def text_encoding(text: str) -> str:
    """"gsm7" when every character fits the GSM 7-bit alphabet, else "ucs2"."""
    return "gsm7" if gsm7.is_gsm7(text) else "ucs2"


def text_dcs(text: str) -> int:
    """The TP-DCS that text is sent with: GSM 7-bit when it fits, else UCS2."""
    return DCS_GSM7 if text_encoding(text) == "gsm7" else DCS_UCS2


def dcs_alphabet(dcs: int) -> str:
    """"gsm7", "8bit" or "ucs2" from a TP-DCS (TS 23.038 4); message class is ignored."""
    group = dcs >> 4
    if group <= 0b0111:  # general data coding, with or without automatic deletion
        if dcs & 0x20:
            raise PduError(f"DCS: {dcs:02X} marks compressed text, which is not supported")
        return ("gsm7", "8bit", "ucs2", "gsm7")[(dcs >> 2) & 0b11]
    if group == 0b1111:
        return "8bit" if dcs & 0x04 else "gsm7"
    # 1110 is message waiting in UCS2; 1100/1101 and the reserved 10xx groups read as GSM 7-bit.
    return "ucs2" if group == 0b1110 else "gsm7"


# --- splitting text into parts -------------------------------------------------------------


def concat_udh_size(ref_bits: int) -> int:
    """Octets of a UDH holding only a concatenation element with an 8- or 16-bit reference."""
    return 6 if ref_bits == 8 else 7


def count_parts(text: str) -> int:
    """How many SMS-SUBMIT parts encode_submit makes of text."""
    return len(split_text(text, text_encoding(text), concat_udh_size(8)))


def capacity(encoding: str, udh_size: int = 0) -> int:
    """Septets (gsm7) or UTF-16 units (ucs2) that fit one part after a UDH of udh_size octets."""
    if encoding == "gsm7":
        return (MAX_UD_OCTETS * 8) // 7 - (udh_size * 8 + 6) // 7
    return (MAX_UD_OCTETS - udh_size) // 2


def _cost(char: str, encoding: str) -> int:
    if encoding == "gsm7":
        return gsm7.char_septets(char)
    if 0xD800 <= ord(char) <= 0xDFFF:
        raise PduError(f"text: lone surrogate U+{ord(char):04X}; pass whole characters")
    return 2 if ord(char) > 0xFFFF else 1


def split_text(text: str, encoding: str, udh_size: int) -> list[str]:
    """Text cut into parts that fit; an escape pair or surrogate pair is never cut."""
    costs = [_cost(char, encoding) for char in text]
    if sum(costs) <= capacity(encoding):
        return [text]
    limit = capacity(encoding, udh_size)
    parts: list[str] = []
    start = used = 0
    for index, cost in enumerate(costs):
        if used + cost > limit:
            parts.append(text[start:index])
            start, used = index, 0
        used += cost
    parts.append(text[start:])
    if len(parts) > MAX_PARTS:
        raise PduError(
            f"text: needs {len(parts)} parts, a concatenated SMS has at most {MAX_PARTS}")
    return parts


# --- user data -----------------------------------------------------------------------------


def encode_user_data(text: str, encoding: str, elements: bytes) -> bytes:
    """TP-UDL followed by TP-UD, with a UDH of the information elements when there are any."""
    udh = bytes([len(elements)]) + elements if elements else b""
    if encoding == "gsm7":
        header_septets = (len(udh) * 8 + 6) // 7
        septets = gsm7.to_septets(text)
        fill_bits = header_septets * 7 - len(udh) * 8
        return bytes([header_septets + len(septets)]) + udh + gsm7.pack_septets(septets, fill_bits)
    body = text.encode("utf-16-be")
    return bytes([len(udh) + len(body)]) + udh + body


def udh_elements(header: bytes) -> list[tuple[int, bytes]]:
    """(IEI, value) of every information element of a UDH (its length octet left off)."""
    elements: list[tuple[int, bytes]] = []
    at = 0
    while at < len(header):
        if at + 2 > len(header):
            raise PduError(f"UDH: information element at byte {at} is cut off")
        iei, size = header[at], header[at + 1]
        value = header[at + 2:at + 2 + size]
        if len(value) < size:
            raise PduError(f"UDH: element {iei:02X} says {size} bytes but only {len(value)} follow")
        elements.append((iei, value))
        at += 2 + size
    return elements


def read_user_data(
    reader: PduReader, udhi: bool, encoding: str
) -> tuple[str, list[tuple[int, bytes]]]:
    """TP-UDL and TP-UD: the text (hex for 8-bit data) and the UDH's information elements."""
    udl = reader.octet("UDL")
    size = gsm7.packed_length(udl) if encoding == "gsm7" else udl
    unit = f"septets ({size} bytes)" if encoding == "gsm7" else "bytes"
    if size > MAX_UD_OCTETS:
        raise PduError(f"UDL: {udl} {unit} do not fit the {MAX_UD_OCTETS} bytes of user data")
    if reader.left != size:
        only = "only " if reader.left < size else ""
        raise PduError(f"UDL says {udl} {unit} but {only}{reader.left} bytes follow")
    data = reader.take(size, "UD")
    header_size = (1 + data[0] if data else 1) if udhi else 0
    if header_size > len(data):
        raise PduError(f"UDH: needs {header_size} bytes but the user data is {len(data)} bytes")
    elements = udh_elements(data[1:header_size]) if udhi else []
    body = data[header_size:]
    if encoding == "gsm7":
        return _gsm7_body(body, udl, header_size), elements
    if encoding == "8bit":
        return body.hex(), elements
    if len(body) % 2:
        raise PduError(f"UD: UCS2 text must be whole 2-byte units, got {len(body)} bytes")
    return body.decode("utf-16-be", "surrogatepass"), elements


def _gsm7_body(body: bytes, udl: int, header_size: int) -> str:
    header_septets = (header_size * 8 + 6) // 7
    if header_septets > udl:
        raise PduError(f"UDH: {header_size} bytes do not fit a UDL of {udl} septets")
    fill_bits = header_septets * 7 - header_size * 8
    return gsm7.from_septets(gsm7.unpack_septets(body, udl - header_septets, fill_bits))
