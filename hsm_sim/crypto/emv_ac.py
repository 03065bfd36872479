"""EMV application cryptograms (ARQC/TC/AAC) and ARPC (EMV 4.4 Book 2, 8.1–8.2).

- Application cryptogram: ISO/IEC 9797-1 MAC algorithm 3 (single-DES CBC,
  final TDES step) over the transaction data with the AC key, full 8 bytes.
  EMV padding is ISO 9797-1 method 2 (0x80 then zeros); Visa CVN 10 pads with
  zeros only (method 1, nothing added when the data is already a multiple of
  8). ARQC, TC and AAC are computed the same way; only the data differs.
- ARPC method 1 (8.2.1): TDES(key, ARQC XOR (ARC || 00 x6)), 8 bytes; the
  issuer authentication data (tag 91) is ARPC || ARC.
- ARPC method 2 (8.2.2): MAC algorithm 3, padding method 2, over
  ARQC || CSU || proprietary authentication data (0–8 bytes), leftmost 4
  bytes; tag 91 is ARPC || CSU || proprietary data.

Cryptogram versions are data (``CVN_PROFILES``): which ICC master key option,
which AC key (the ICC MK itself, the EMV common session key, or Mastercard's
SKD), which padding, which ARPC method and which key the ARPC uses.
Supported: Visa CVN 10, 18, 22; Mastercard M/Chip CVN 16, 17, 20, 21 (the
M/Chip ones take the unpredictable number for their session key).

The transaction data is what the card MACs; ``visa_ac_data`` builds it for the
Visa CVNs from the usual tags. Verification compares in constant time.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from hsm_sim.crypto import emv_kd
from hsm_sim.crypto._cardutil import mac_alg3, tdes_ecb, xor

PADDING_EMV = 2  # ISO/IEC 9797-1 padding method 2
PADDING_VISA = 1  # ISO/IEC 9797-1 padding method 1 (Visa CVN 10)

# Per cryptogram version: ICC MK option, AC key, padding, ARPC method and key.
# "none" = the ICC MK is used directly; "common" = EMV common session key with
# R = ATC || 00 x6; "mastercard" = R = ATC || 00 00 || UN.
CVN_PROFILES: dict[int, dict[str, Any]] = {
    10: {"scheme": "visa", "option": "a", "session": "none", "padding": PADDING_VISA,
         "arpc_method": 1, "arpc_key": "icc_mk", "iad": "cvr"},
    18: {"scheme": "visa", "option": "b", "session": "common", "padding": PADDING_EMV,
         "arpc_method": 2, "arpc_key": "session", "iad": "full"},
    22: {"scheme": "visa", "option": "b", "session": "common", "padding": PADDING_EMV,
         "arpc_method": 2, "arpc_key": "session", "iad": "full"},
    16: {"scheme": "mastercard", "option": "a", "session": "mastercard",
         "padding": PADDING_EMV, "arpc_method": 1, "arpc_key": "icc_mk", "iad": "caller"},
    17: {"scheme": "mastercard", "option": "a", "session": "mastercard",
         "padding": PADDING_EMV, "arpc_method": 1, "arpc_key": "icc_mk", "iad": "caller"},
    20: {"scheme": "mastercard", "option": "a", "session": "common",
         "padding": PADDING_EMV, "arpc_method": 1, "arpc_key": "session", "iad": "caller"},
    21: {"scheme": "mastercard", "option": "a", "session": "common",
         "padding": PADDING_EMV, "arpc_method": 1, "arpc_key": "session", "iad": "caller"},
}  # fmt: skip

# The tags (and lengths) every Visa CVN MACs, in order; then CVN 10 adds the
# 4-byte CVR from the IAD, CVN 18/22 the whole IAD (tag 9F10).
VISA_AC_TAGS: tuple[tuple[str, int], ...] = (
    ("9F02", 6),  # amount, authorised
    ("9F03", 6),  # amount, other
    ("9F1A", 2),  # terminal country code
    ("95", 5),  # terminal verification results
    ("5F2A", 2),  # transaction currency code
    ("9A", 3),  # transaction date
    ("9C", 1),  # transaction type
    ("9F37", 4),  # unpredictable number
    ("82", 2),  # application interchange profile
    ("9F36", 2),  # application transaction counter
)


# The same list with tags as numbers (the card and the host read TLV stores).
AC_DATA_TAGS: tuple[tuple[int, int], ...] = tuple((int(t, 16), n) for t, n in VISA_AC_TAGS)


def iad_part(cvn: int, iad: bytes) -> bytes:
    """What of the issuer application data a cryptogram of version ``cvn``
    covers after the tags: CVN 10 the CVR (IAD bytes 4-7), CVN 18/22 the
    whole IAD, the Mastercard CVNs the CVR (bytes 3-8).  ValueError when
    the IAD is too short to hold it."""
    prof = profile(cvn)
    if prof["scheme"] == "visa":
        if prof["iad"] != "cvr":
            return iad
        if len(iad) < 7:
            raise ValueError("CVN 10 IAD too short for the CVR (bytes 4-7)")
        return iad[3:7]
    if len(iad) < 8:
        raise ValueError("Mastercard IAD too short for the CVR (bytes 3-8)")
    return iad[2:8]


def profile(cvn: int) -> dict[str, Any]:
    try:
        return CVN_PROFILES[cvn]
    except KeyError:
        supported = ", ".join(str(c) for c in sorted(CVN_PROFILES))
        raise ValueError(f"unsupported CVN {cvn} (supported: {supported})") from None


def _check_padding(padding: int) -> None:
    if padding not in (PADDING_EMV, PADDING_VISA):
        raise ValueError("padding must be 1 (Visa, zeros) or 2 (EMV, 80 00..)")


def generate_ac(key: bytes, data: bytes, padding: int = PADDING_EMV) -> bytes:
    """The 8-byte application cryptogram of ``data`` under the 16-byte AC key."""
    _check_padding(padding)
    if padding == PADDING_VISA and not data:
        raise ValueError("no data to MAC")
    return mac_alg3(key, data, padding)


def verify_ac(key: bytes, data: bytes, ac: bytes, padding: int = PADDING_EMV) -> bool:
    """True when ``ac`` is the cryptogram of ``data`` (constant-time compare)."""
    if len(ac) != 8:
        raise ValueError("application cryptogram must be 8 bytes")
    return hmac.compare_digest(generate_ac(key, data, padding), ac)


def arpc_method_1(key: bytes, arqc: bytes, arc: bytes) -> bytes:
    """ARPC method 1: TDES(key, ARQC XOR (ARC || 00 x6)), 8 bytes."""
    if len(key) != 16:
        raise ValueError("ARPC key must be 16 bytes")
    if len(arqc) != 8:
        raise ValueError("ARQC must be 8 bytes")
    if len(arc) != 2:
        raise ValueError("authorisation response code (ARC) must be 2 bytes")
    return tdes_ecb(key, xor(arqc, arc + bytes(6)))


def arpc_method_2(key: bytes, arqc: bytes, csu: bytes, prop_data: bytes = b"") -> bytes:
    """ARPC method 2: MAC alg. 3 (padding 2) of ARQC || CSU || prop. data, 4 bytes."""
    if len(arqc) != 8:
        raise ValueError("ARQC must be 8 bytes")
    if len(csu) != 4:
        raise ValueError("card status update (CSU) must be 4 bytes")
    if len(prop_data) > 8:
        raise ValueError("proprietary authentication data must be 0 to 8 bytes")
    return mac_alg3(key, arqc + csu + prop_data, PADDING_EMV)[:4]


def ac_keys(
    imk: bytes,
    pan: str,
    psn: str,
    atc: bytes,
    cvn: int,
    option: str | None = None,
    un: bytes | None = None,
) -> tuple[bytes, bytes]:
    """(ICC MK, AC key) for a card and transaction under cryptogram version
    ``cvn``. For CVN 10/16/17 the AC key is the ICC MK (no session key);
    ``option`` overrides the CVN's master key derivation option."""
    prof = profile(cvn)
    icc_mk = emv_kd.derive_icc_mk(imk, pan, psn, option or prof["option"])
    session = prof["session"]
    if session == "none":
        return icc_mk, icc_mk
    if session == "common":
        return icc_mk, emv_kd.ac_session_key(icc_mk, atc)
    if un is None:
        raise ValueError(f"CVN {cvn} session key needs the unpredictable number (9F37)")
    return icc_mk, emv_kd.mastercard_session_key(icc_mk, atc, un)


def generate_arqc(
    imk: bytes,
    pan: str,
    psn: str,
    atc: bytes,
    data: bytes,
    cvn: int = 18,
    option: str | None = None,
    un: bytes | None = None,
) -> dict[str, bytes]:
    """ICC MK, AC key ("session_key"; the ICC MK where the CVN has none) and
    the cryptogram over ``data`` for cryptogram version ``cvn``."""
    icc_mk, key = ac_keys(imk, pan, psn, atc, cvn, option, un)
    arqc = generate_ac(key, data, profile(cvn)["padding"])
    return {"icc_mk": icc_mk, "session_key": key, "arqc": arqc}


def verify_arqc_and_respond(
    imk: bytes,
    pan: str,
    psn: str,
    atc: bytes,
    data: bytes,
    arqc: bytes,
    cvn: int,
    arc: bytes = b"00",
    csu: bytes = bytes(4),
    prop_data: bytes = b"",
    option: str | None = None,
    un: bytes | None = None,
) -> bytes | None:
    """Issuer side: verify the ARQC and, when it is right, return the ARPC by
    the CVN's method and key (method 1 uses ``arc``, 2 bytes, default "00" =
    30 30; method 2 uses ``csu``/``prop_data``); None when the ARQC is wrong."""
    prof = profile(cvn)
    icc_mk, key = ac_keys(imk, pan, psn, atc, cvn, option, un)
    if not verify_ac(key, data, arqc, prof["padding"]):
        return None
    arpc_key = icc_mk if prof["arpc_key"] == "icc_mk" else key
    if prof["arpc_method"] == 1:
        return arpc_method_1(arpc_key, arqc, arc)
    return arpc_method_2(arpc_key, arqc, csu, prop_data)


def visa_ac_data(cvn: int, tags: Mapping[str, bytes]) -> bytes:
    """The data a Visa card MACs for CVN 10 (tags + CVR = IAD bytes 4–7) or
    CVN 18/22 (tags + the whole IAD, tag 9F10)."""
    prof = profile(cvn)
    if prof["scheme"] != "visa":
        raise ValueError(f"CVN {cvn} is not a Visa cryptogram version")
    parts = []
    for tag, length in VISA_AC_TAGS:
        value = tags.get(tag)
        if value is None or len(value) != length:
            raise ValueError(f"tag {tag} must be {length} bytes")
        parts.append(value)
    iad = tags.get("9F10")
    if iad is None:
        raise ValueError("tag 9F10 (issuer application data) is missing")
    parts.append(iad_part(cvn, iad))
    return b"".join(parts)
