"""KQ: ARQC verification and/or ARPC generation → KR (payterm layout, docs/hsm.md).

Fields: mode (1 N: 0 verify the ARQC, 1 verify and generate the ARPC, 2
generate the ARPC only), cryptogram version (2 N: 10, 18, 22 Visa; 16, 17,
20, 21 Mastercard), IMK-AC (key usage E0, TDES), PAN length (2 N), PAN, PSN
(2 N), ATC (4 H), unpredictable number (8 H), data length (3 N, bytes),
data (H), ``;``, ARQC (16 H), then for modes 1 and 2 the ARPC input of the
CVN's method: method 1 ARC (4 H); method 2 CSU (8 H), proprietary data
length (1 N, 0–8 bytes) and the data (H).

The ICC master key (option A or B as the CVN says), the session key and
the cryptograms come from ``hsm_sim.crypto.emv_kd`` / ``emv_ac``.
Response: the ARPC (16 H for method 1, 8 H for method 2) in modes 1 and 2;
error 01 when the ARQC does not verify.
"""

from __future__ import annotations

import hmac
from collections import OrderedDict

from hsm_sim import errors as errs
from hsm_sim.commands import _fast
from hsm_sim.commands._base import Context, Handler, Reader, hexu
from hsm_sim.crypto import emv_ac, emv_kd, keys
from hsm_sim.errors import HsmError

# ICC master keys by (IMK, PAN, PSN, option): a card's master key is the
# same for every transaction, so the HSM derives it once (in memory only).
_ICC_MK_CACHE: OrderedDict[tuple[bytes, str, str, str], bytes] = OrderedDict()
_ICC_MK_CACHE_SIZE = 8192


def _icc_mk(imk: bytes, pan: str, psn: str, option: str) -> bytes:
    key = (imk, pan, psn, option)
    hit = _ICC_MK_CACHE.get(key)
    if hit is None:
        hit = emv_kd.derive_icc_mk(imk, pan, psn, option)
        _ICC_MK_CACHE[key] = hit
        if len(_ICC_MK_CACHE) > _ICC_MK_CACHE_SIZE:
            _ICC_MK_CACHE.popitem(last=False)
    else:
        _ICC_MK_CACHE.move_to_end(key)
    return hit


def common_session_key(icc_mk: bytes, r: bytes) -> bytes:
    """``emv_kd.derive_common_sk`` on the C-speed TDES of ``_fast``: both
    halves in one ECB call under the card's master key."""
    if len(icc_mk) != 16 or len(r) != 8:
        raise ValueError("common session key: 16-byte master key and 8-byte R")
    f1 = r[:2] + b"\xf0" + r[3:]
    f2 = r[:2] + b"\x0f" + r[3:]
    return keys.adjust_parity(_fast.tdes_ecb(icc_mk, f1 + f2))


def ac_keys(imk: bytes, pan: str, psn: str, atc: bytes, cvn: int, un: bytes) -> tuple[bytes, bytes]:
    """(ICC MK, AC key) as ``emv_ac.ac_keys``, with the ICC MK cached."""
    profile = emv_ac.profile(cvn)
    icc_mk = _icc_mk(imk, pan, psn, profile["option"])
    if profile["session"] == "none":
        return icc_mk, icc_mk
    if len(atc) != 2:
        raise ValueError("ATC must be 2 bytes")
    if profile["session"] == "common":
        return icc_mk, common_session_key(icc_mk, atc + bytes(6))
    if len(un) != 4:
        raise ValueError("unpredictable number must be 4 bytes")
    return icc_mk, common_session_key(icc_mk, atc + b"\x00\x00" + un)


def kq(ctx: Context, r: Reader) -> str:
    mode = r.choice(1, "mode flag", ("0", "1", "2"))
    cvn = r.number(2, "cryptogram version")
    if cvn not in emv_ac.CVN_PROFILES:
        raise HsmError(errs.INVALID_INPUT, reason=f"unsupported cryptogram version {cvn}")
    profile = emv_ac.profile(cvn)
    imk = r.key("IMK-AC", ("E0",), "XN", "T")
    if len(imk.value) != 16:
        raise HsmError(errs.INCOMPATIBLE_KEY_LENGTH, reason="IMK-AC must be double length")
    pan_len = r.number(2, "PAN length")
    if not 8 <= pan_len <= 19:
        raise HsmError(errs.INVALID_ACCOUNT, reason="PAN length must be 08 to 19")
    pan = r.digits(pan_len, "PAN")
    psn = r.digits(2, "PAN sequence number")
    atc = r.hex(4, "ATC")
    un = r.hex(8, "unpredictable number")
    data_len = r.number(3, "transaction data length")
    data = r.hex(2 * data_len, "transaction data")
    r.choice(1, "delimiter", (";",))
    arqc = r.hex(16, "ARQC")
    arpc_input: tuple[bytes, ...] = ()
    if mode != "0":
        if profile["arpc_method"] == 1:
            arpc_input = (r.hex(4, "ARC"),)
        else:
            csu = r.hex(8, "CSU")
            prop_len = r.number(1, "proprietary authentication data length")
            if prop_len > 8:
                raise HsmError(errs.INVALID_INPUT, reason="proprietary data is 0 to 8 bytes")
            arpc_input = (csu, r.hex(2 * prop_len, "proprietary authentication data"))
    r.end()
    if not data:
        raise HsmError(errs.INVALID_INPUT, reason="no transaction data")
    try:
        icc_mk, ac_key = ac_keys(imk.value, pan, psn, atc, cvn, un)
    except ValueError as exc:
        raise HsmError(errs.INVALID_INPUT, reason=str(exc)) from None
    if mode != "2":
        expected = _fast.retail_mac(ac_key, data, profile["padding"])
        if not hmac.compare_digest(expected, arqc):
            raise HsmError(errs.VERIFICATION_FAILURE, reason="ARQC does not verify")
    if mode == "0":
        return ""
    arpc_key = icc_mk if profile["arpc_key"] == "icc_mk" else ac_key
    if profile["arpc_method"] == 1:
        return hexu(emv_ac.arpc_method_1(arpc_key, arqc, arpc_input[0]))
    # ARPC method 2: MAC algorithm 3, padding 2, over ARQC || CSU || proprietary data
    csu, prop_data = arpc_input
    return hexu(_fast.retail_mac(arpc_key, arqc + csu + prop_data, emv_ac.PADDING_EMV)[:4])


COMMANDS: dict[str, Handler] = {"KQ": kq}
