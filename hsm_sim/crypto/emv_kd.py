"""EMV key derivation (EMV 4.4 Book 2, Annex A1.3 and A1.4), TDES.

- ICC master key, option A (A1.4.1): X = PAN || PSN; Y = the rightmost 16
  digits of X (left-padded with zeros when shorter), as 8 BCD bytes;
  MK = TDES(IMK, Y) || TDES(IMK, Y XOR FF..FF), odd parity.
- ICC master key, option B (A1.4.2), for PANs of more than 16 digits (for 16
  or fewer it is option A): SHA-1 over X = PAN || PSN (left-padded with one
  zero to an even number of digits, as BCD); Y = the first 16 decimal digits
  of the hash's hex form, completed if needed from its letters A–F mapped to
  0–5 in order; then as option A.
- EMV common session key (A1.3.1): for an 8-byte diversification value
  R = R0..R7, SK = TDES(MK, R0 R1 F0 R3..R7) || TDES(MK, R0 R1 0F R3..R7),
  odd parity. Application cryptograms use R = ATC || 00 00 00 00 00 00;
  secure messaging uses R = the application cryptogram (ARQC).
- Mastercard session key derivation (M/Chip "SKD"): the common session key
  with R = ATC || 00 00 || unpredictable number.
- Visa secure-messaging session key (Visa VIS/CVN 10 and 18): MK XORed
  with 00..00 || ATC in the left half and 00..00 || (ATC XOR FFFF) in the
  right half, odd parity.

Keys are bytes; PAN and PSN are decimal strings. Nothing here logs key
material.
"""

from __future__ import annotations

import hashlib

from hsm_sim.crypto._cardutil import adjust_odd_parity, is_digits, tdes_ecb, xor


def _check_mk(key: bytes, what: str) -> None:
    if len(key) != 16:
        raise ValueError(f"{what} must be a 16-byte TDES key, got {len(key)} bytes")


def _check_pan_psn(pan: str, psn: str) -> None:
    if not is_digits(pan) or not 1 <= len(pan) <= 19:
        raise ValueError("PAN must be 1 to 19 decimal digits")
    if len(psn) != 2 or not is_digits(psn):
        raise ValueError("PAN sequence number must be 2 decimal digits")


def _mk_from_y(imk: bytes, y_digits: str) -> bytes:
    y = bytes.fromhex(y_digits)
    left = tdes_ecb(imk, y)
    right = tdes_ecb(imk, xor(y, b"\xff" * 8))
    return adjust_odd_parity(left + right)


def derive_icc_mk_a(imk: bytes, pan: str, psn: str = "00") -> bytes:
    """ICC master key, option A."""
    _check_mk(imk, "issuer master key")
    _check_pan_psn(pan, psn)
    return _mk_from_y(imk, (pan + psn)[-16:].rjust(16, "0"))


def option_b_y(pan: str, psn: str = "00") -> str:
    """The 16 digits Y of option B for a PAN longer than 16 digits."""
    x = pan + psn
    if len(x) % 2:
        x = "0" + x
    digest = hashlib.sha1(bytes.fromhex(x)).hexdigest().upper()
    chosen = [c for c in digest if c.isdigit()]
    chosen += [str(int(c, 16) - 10) for c in digest if c in "ABCDEF"]
    return "".join(chosen[:16])


def derive_icc_mk_b(imk: bytes, pan: str, psn: str = "00") -> bytes:
    """ICC master key, option B (option A for PANs of 16 or fewer digits)."""
    _check_mk(imk, "issuer master key")
    _check_pan_psn(pan, psn)
    if len(pan) <= 16:
        return derive_icc_mk_a(imk, pan, psn)
    return _mk_from_y(imk, option_b_y(pan, psn))


def derive_icc_mk(imk: bytes, pan: str, psn: str = "00", option: str = "a") -> bytes:
    """ICC master key by option ``"a"`` or ``"b"``."""
    if option.lower() == "a":
        return derive_icc_mk_a(imk, pan, psn)
    if option.lower() == "b":
        return derive_icc_mk_b(imk, pan, psn)
    raise ValueError(f"unknown ICC master key derivation option {option!r} (a or b)")


def derive_common_sk(icc_mk: bytes, r: bytes) -> bytes:
    """EMV common session key for the 8-byte diversification value ``r``."""
    _check_mk(icc_mk, "ICC master key")
    if len(r) != 8:
        raise ValueError("diversification value R must be 8 bytes")
    f1 = r[:2] + b"\xf0" + r[3:]
    f2 = r[:2] + b"\x0f" + r[3:]
    return adjust_odd_parity(tdes_ecb(icc_mk, f1) + tdes_ecb(icc_mk, f2))


def _check_atc(atc: bytes) -> None:
    if len(atc) != 2:
        raise ValueError("ATC must be 2 bytes")


def ac_session_key(icc_mk: bytes, atc: bytes) -> bytes:
    """Application cryptogram session key: common SK with R = ATC || 00 x6."""
    _check_atc(atc)
    return derive_common_sk(icc_mk, atc + bytes(6))


def mastercard_session_key(icc_mk: bytes, atc: bytes, un: bytes) -> bytes:
    """Mastercard SKD: common SK with R = ATC || 00 00 || UN (4 bytes)."""
    _check_atc(atc)
    if len(un) != 4:
        raise ValueError("unpredictable number must be 4 bytes")
    return derive_common_sk(icc_mk, atc + b"\x00\x00" + un)


def visa_sm_session_key(icc_mk: bytes, atc: bytes) -> bytes:
    """Visa secure-messaging session key from the ICC MK and the ATC."""
    _check_mk(icc_mk, "ICC master key")
    _check_atc(atc)
    inverted = bytes(b ^ 0xFF for b in atc)
    left = xor(icc_mk[:8], bytes(6) + atc)
    right = xor(icc_mk[8:], bytes(6) + inverted)
    return adjust_odd_parity(left + right)
