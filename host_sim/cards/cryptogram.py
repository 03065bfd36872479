"""The card's symmetric cryptography: application cryptograms, issuer
application data, ARPC checks and issuer script secure messaging.

Two families, chosen by the profile's cryptogram version (CVN):

- Visa-like (CVN 10, 18, 22): IAD = 06 || DKI || CVN || CVR (03 + 3 bytes);
  the AC covers 9F02 9F03 9F1A 95 5F2A 9A 9C 9F37 82 9F36 and the CVR
  (CVN 10) or the whole IAD (CVN 18/22) — ``hsm_sim.crypto.emv_ac``;
  script MACs use the Visa SM session key from the ATC and MAC
  header || ATC || ARQC || data.
- Mastercard-like (CVN 16, 17, 20, 21): IAD = DKI || CVN || CVR (6 bytes) ||
  DAC/ICC dynamic number (2) || counters (8); the AC covers the same tags
  then the 6-byte CVR; script MACs use the EMV common session key with
  R = ARQC (+ n for the n-th command of the script) and MAC
  header || ATC || ARQC || data.

Keys are the ICC master keys the loader derived from the issuer master keys
(``data/issuer_keys.json``); the card never sees an issuer master key.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from hsm_sim.crypto import emv_ac, emv_kd, emv_sm, pinblock
from protocols.errors import DecodeError

# Book 3 CID bits b8-b7 / GENERATE AC P1 bits b8-b7.
AAC = 0x00
TC = 0x40
ARQC = 0x80


class IccKeys:
    """The ICC master keys for AC, SM integrity and SM confidentiality."""

    def __init__(self, ac: bytes, smi: bytes, smc: bytes) -> None:
        self.ac = ac
        self.smi = smi
        self.smc = smc


def derive_icc_keys(issuer: Mapping[str, str], pan: str, psn: str, cvn: int) -> IccKeys:
    """ICC master keys from an issuer key set (hex ``ac``, ``smi``, ``smc``)
    by the CVN's derivation option (A or B)."""
    option = emv_ac.profile(cvn)["option"]

    def one(name: str) -> bytes:
        return emv_kd.derive_icc_mk(bytes.fromhex(issuer[name]), pan, psn, option)

    return IccKeys(one("ac"), one("smi"), one("smc"))


def scheme(cvn: int) -> str:
    return str(emv_ac.profile(cvn)["scheme"])


def _field(store: Mapping[int, bytes], tag: int, length: int) -> bytes:
    value = store.get(tag, b"")
    return value[:length].rjust(length, b"\x00") if len(value) != length else value


def ac_input(cvn: int, store: Mapping[int, bytes], aip: bytes, atc: bytes, iad: bytes) -> bytes:
    """The data the card MACs for its cryptogram (see the module notes)."""
    values = {**store, 0x82: aip, 0x9F36: atc}
    data = b"".join(_field(values, tag, length) for tag, length in emv_ac.AC_DATA_TAGS)
    return data + emv_ac.iad_part(cvn, iad)


def application_cryptogram(
    keys: IccKeys, cvn: int, store: Mapping[int, bytes], aip: bytes, atc: bytes, iad: bytes
) -> bytes:
    prof = emv_ac.profile(cvn)
    if prof["session"] == "none":
        key = keys.ac
    elif prof["session"] == "common":
        key = emv_kd.ac_session_key(keys.ac, atc)
    else:
        key = emv_kd.mastercard_session_key(keys.ac, atc, _field(store, 0x9F37, 4))
    return emv_ac.generate_ac(key, ac_input(cvn, store, aip, atc, iad), prof["padding"])


def issuer_application_data(cvn: int, dki: int, cvr: bytes, idn: bytes = b"") -> bytes:
    if scheme(cvn) == "visa":
        if len(cvr) != 3:
            raise ValueError("Visa CVR is 3 bytes")
        return bytes((0x06, dki, cvn, 0x03)) + cvr
    if len(cvr) != 6:
        raise ValueError("Mastercard CVR is 6 bytes")
    return bytes((dki, cvn)) + cvr + idn[:2].rjust(2, b"\x00") + bytes(8)


def check_arpc(
    keys: IccKeys, cvn: int, atc: bytes, arqc: bytes, auth_data: bytes
) -> tuple[bool, bytes, bytes]:
    """Verify issuer authentication data (tag 91) against the last ARQC.

    Returns (valid, ARC, CSU): method 1 data is ARPC (8) || ARC (2), method 2
    data is ARPC (4) || CSU (4) || proprietary data (0-8).
    """
    prof = emv_ac.profile(cvn)
    if prof["session"] == "none":
        session = keys.ac
    elif prof["session"] == "common":
        session = emv_kd.ac_session_key(keys.ac, atc)
    else:
        session = keys.ac  # Mastercard SKD cards answer under the ICC MK
    key = keys.ac if prof["arpc_key"] == "icc_mk" else session
    if prof["arpc_method"] == 1:
        if len(auth_data) != 10:
            return False, b"", b""
        arc = auth_data[8:10]
        expected = emv_ac.arpc_method_1(key, arqc, arc)
        return hmac.compare_digest(expected, auth_data[:8]), arc, b""
    if not 8 <= len(auth_data) <= 16:
        return False, b"", b""
    csu = auth_data[4:8]
    expected = emv_ac.arpc_method_2(key, arqc, csu, auth_data[8:])
    return hmac.compare_digest(expected, auth_data[:4]), b"", csu


def _r_for(arqc: bytes, index: int) -> bytes:
    return ((int.from_bytes(arqc, "big") + index) % (1 << 64)).to_bytes(8, "big")


def script_session_keys(
    keys: IccKeys, cvn: int, atc: bytes, arqc: bytes, index: int
) -> tuple[bytes, bytes, bytes]:
    """(SK integrity, SK confidentiality, ARQC value in the MAC data) for the
    ``index``-th (0-based) script command of the transaction."""
    if scheme(cvn) == "visa" and cvn in (10, 18):
        return (
            emv_kd.visa_sm_session_key(keys.smi, atc),
            emv_kd.visa_sm_session_key(keys.smc, atc),
            arqc,
        )
    r = _r_for(arqc, index)
    return emv_kd.derive_common_sk(keys.smi, r), emv_kd.derive_common_sk(keys.smc, r), r


def check_script_mac(
    keys: IccKeys, cvn: int, atc: bytes, arqc: bytes, index: int, header: bytes, data: bytes
) -> bool:
    """Verify the 8-byte MAC ending ``data`` (header is CLA INS P1 P2 Lc)."""
    if len(data) < 8:
        return False
    sk_smi, _smc, r = script_session_keys(keys, cvn, atc, arqc, index)
    body, mac = data[:-8], data[-8:]
    expected = emv_sm.command_mac(sk_smi, header + atc + r + body)
    return hmac.compare_digest(expected, mac)


def decipher_pin(
    keys: IccKeys,
    cvn: int,
    atc: bytes,
    arqc: bytes,
    index: int,
    enciphered: bytes,
    current_pin: str,
) -> str | None:
    """The new PIN from a PIN CHANGE command's enciphered block, or None."""
    _smi, sk_smc, _r = script_session_keys(keys, cvn, atc, arqc, index)
    try:
        if scheme(cvn) == "visa" and cvn in (10, 18):
            block = emv_sm.decrypt_data(sk_smc, enciphered, "visa")
            for current in (None, current_pin):
                pin = _vis_pin(keys.ac, block, current)
                if pin is not None:
                    return pin
            return None
        block = emv_sm.decrypt_data(sk_smc, enciphered, "mastercard", 8)
    except ValueError:
        return None
    return offline_pin(block)


def _vis_pin(icc_mk_ac: bytes, block: bytes, current: str | None) -> str | None:
    if len(block) != 8:
        return None
    mask = bytes(4) + icc_mk_ac[4:8]
    clear = bytes(a ^ b for a, b in zip(block, mask, strict=True))
    if current is not None:
        cur = bytes.fromhex(current.ljust(16, "0"))
        clear = bytes(a ^ b for a, b in zip(clear, cur, strict=True))
    length = clear[0]
    digits = clear[1:].hex().upper()
    if not 4 <= length <= 12 or not digits[:length].isdigit():
        return None
    if digits[length:] != "F" * (14 - length):
        return None
    return digits[:length]


def offline_pin(block: bytes) -> str | None:
    """The PIN of a plaintext ISO 9564 format 2 block (2, N, PIN, F fill),
    as VERIFY and PIN CHANGE carry it to the card; None when it is not one."""
    try:
        return pinblock.decode(2, block)
    except DecodeError:
        return None
