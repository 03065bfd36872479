"""EMV issuer script secure messaging (EMV 4.4 Book 2, section 9 and A1.1).

Integrity (9.2): the command MAC is ISO/IEC 9797-1 MAC algorithm 3 with
padding method 2 under the secure-messaging integrity session key, over the
command header (CLA INS P1 P2 Lc, where Lc counts the MAC) followed by what
the scheme adds: Visa (VIS) and the CCD-style "format 2, padded with
transaction data" put ATC || ARQC between header and data; other schemes MAC
header || data alone (the ARQC is then in the session key). Length 4–8 bytes.

Confidentiality (9.3): the data (e.g. a new offline PIN) is TDES-enciphered
under the confidentiality session key. Three variants are in use:

- ``"emv"``: CBC with a zero IV, always padded with ISO 9797-1 method 2;
- ``"mastercard"``: CBC with a zero IV, padded (method 2) only when the data
  is not a multiple of 8 bytes;
- ``"visa"``: ECB over (length byte || data) padded with method 2.

Session keys: Visa CVN 10/18 use the Visa SM key from the ATC
(``emv_kd.visa_sm_session_key``); EMV common session key derivation with
R = ARQC elsewhere (``emv_kd.derive_common_sk``).

PIN change: the VIS PIN block (Visa Integrated Circuit Card Specification,
PIN change) is (00 00 00 00 || bytes 5–8 of the ICC AC master key) XOR
(PIN length byte || PIN digits padded with F), further XORed with the current
PIN (digits padded with 0) when the current PIN is given; other schemes carry
an ISO 9564 format 2 block. No PIN is logged.
"""

from __future__ import annotations

from hsm_sim.crypto import emv_kd
from hsm_sim.crypto._cardutil import (
    is_digits,
    mac_alg3,
    pad_method_2,
    tdes_cbc,
    tdes_ecb,
    xor,
)

ENCRYPTION_MODES = ("emv", "mastercard", "visa")


def command_mac(sk_smi: bytes, mac_data: bytes, length: int = 8) -> bytes:
    """The script command MAC (MAC algorithm 3, padding method 2)."""
    if not 4 <= length <= 8:
        raise ValueError("MAC length must be 4 to 8 bytes")
    return mac_alg3(sk_smi, mac_data, 2)[:length]


def visa_mac_data(header: bytes, atc: bytes, arqc: bytes, data: bytes = b"") -> bytes:
    """MAC input for Visa / format 2 with transaction data: header || ATC || ARQC || data."""
    if len(header) != 5:
        raise ValueError("command header must be 5 bytes (CLA INS P1 P2 Lc)")
    if len(atc) != 2 or len(arqc) != 8:
        raise ValueError("ATC must be 2 bytes and ARQC 8 bytes")
    return header + atc + arqc + data


def _check_mode(mode: str) -> None:
    if mode not in ENCRYPTION_MODES:
        raise ValueError(f"unknown encryption mode {mode!r} ({', '.join(ENCRYPTION_MODES)})")


def encrypt_data(sk_smc: bytes, data: bytes, mode: str = "emv") -> bytes:
    """Encipher confidential script data (see the module notes for the modes)."""
    _check_mode(mode)
    if len(sk_smc) != 16:
        raise ValueError("session key must be 16 bytes")
    if mode == "visa":
        if len(data) > 255:
            raise ValueError("Visa confidential data is at most 255 bytes")
        return tdes_ecb(sk_smc, pad_method_2(bytes([len(data)]) + data))
    if mode == "mastercard" and data and len(data) % 8 == 0:
        return tdes_cbc(sk_smc, data)
    return tdes_cbc(sk_smc, pad_method_2(data))


def decrypt_data(
    sk_smc: bytes, enciphered: bytes, mode: str = "emv", length: int | None = None
) -> bytes:
    """Inverse of encrypt_data (the card side); strips the padding it added.

    In ``"mastercard"`` mode block-aligned data is not padded, so the result
    is ambiguous when such data ends in 80 00..: pass the plaintext ``length``
    (known from the command) to settle it."""
    _check_mode(mode)
    if len(sk_smc) != 16:
        raise ValueError("session key must be 16 bytes")
    if not enciphered or len(enciphered) % 8:
        raise ValueError("enciphered data must be a non-empty multiple of 8 bytes")
    if mode == "visa":
        plain = tdes_ecb(sk_smc, enciphered, decrypt=True)
        n = plain[0]
        if pad_method_2(plain[: n + 1]) != plain:
            raise ValueError("Visa length byte or padding is wrong")
        return plain[1 : n + 1]
    plain = tdes_cbc(sk_smc, enciphered, decrypt=True)
    if length is not None:
        if not 0 <= length <= len(plain):
            raise ValueError("length runs past the deciphered data")
        aligned = mode == "mastercard" and length == len(plain) and length % 8 == 0
        if not aligned and pad_method_2(plain[:length]) != plain:
            raise ValueError("padding method 2 not found")
        return plain[:length]
    stripped = plain.rstrip(b"\x00")
    if stripped.endswith(b"\x80") and pad_method_2(stripped[:-1]) == plain:
        return stripped[:-1]
    if mode == "mastercard":
        return plain  # block-aligned data, sent unpadded
    raise ValueError("padding method 2 not found")


def vis_pin_block(icc_mk_ac: bytes, pin: str, current_pin: str | None = None) -> bytes:
    """The 8-byte VIS PIN change block (see the module notes)."""
    if len(icc_mk_ac) != 16:
        raise ValueError("ICC AC master key must be 16 bytes")
    for value in (pin, current_pin):
        if value is not None and (not is_digits(value) or not 4 <= len(value) <= 12):
            raise ValueError("PIN must be 4 to 12 decimal digits")
    block = xor(bytes(4) + icc_mk_ac[4:8], bytes([len(pin)]) + bytes.fromhex(pin.ljust(14, "F")))
    if current_pin is not None:
        block = xor(block, bytes.fromhex(current_pin.ljust(16, "0")))
    return block


def iso_format2_pin_block(pin: str) -> bytes:
    """ISO 9564 format 2 block (2, length, PIN, F fill) as offline PIN data."""
    if not is_digits(pin) or not 4 <= len(pin) <= 12:
        raise ValueError("PIN must be 4 to 12 decimal digits")
    return bytes.fromhex(f"2{len(pin):X}{pin}".ljust(16, "F"))


def visa_pin_change_command(
    icc_mk_ac: bytes,
    icc_mk_smi: bytes,
    icc_mk_smc: bytes,
    atc: bytes,
    arqc: bytes,
    pin: str,
    current_pin: str | None = None,
) -> bytes:
    """The complete Visa (CVN 10/18) PIN CHANGE/UNBLOCK script command:
    84 24 00 P2 Lc || enciphered VIS PIN block || MAC (P2 = 02 without the
    current PIN, 01 with it), Visa SM session keys from the ATC."""
    sk_smc = emv_kd.visa_sm_session_key(icc_mk_smc, atc)
    sk_smi = emv_kd.visa_sm_session_key(icc_mk_smi, atc)
    enciphered = encrypt_data(sk_smc, vis_pin_block(icc_mk_ac, pin, current_pin), "visa")
    p2 = 0x02 if current_pin is None else 0x01
    header = bytes([0x84, 0x24, 0x00, p2, len(enciphered) + 8])
    mac = command_mac(sk_smi, visa_mac_data(header, atc, arqc, enciphered))
    return header + enciphered + mac
