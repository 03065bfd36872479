"""M6 generate a MAC → M7, M8 verify a MAC → M9 (single-block mode).

Fields: mode flag (1 N: 0 = the whole message in one command), input format
(1 N: 0 binary, 1 hex, 2 text), MAC size (1 N: 0 = 4 bytes / 8 H, 1 = 8
bytes / 16 H, 2 = 16 bytes / 32 H, AES-CMAC only), MAC algorithm (1 N: 1 =
ISO 9797-1 algorithm 1 (key usage M1 or M0), 3 = algorithm 3, the X9.19
retail MAC (M3), 5 = CMAC with TDES or AES (M6)), padding (1 N: 0 none, 1–3
ISO 9797-1 methods; 0 for CMAC), key type ``FFF``, key, message length
(4 H, characters of the message field), message; M8 adds the MAC.

GW generate → GX, GY verify → GZ (payterm layout): AES-CMAC under an AES
DUKPT MAC working key (ANSI X9.24-3) derived in the HSM from a BDK held
under the LMK and the terminal's KSN.  Fields: BDK (*key*, ``B0``, AES,
mode ``X``/``N``), key usage (4 H: ``2000`` MAC generation, ``2001`` MAC
verification, ``2002`` MAC both ways — the X9.24-3 working key), KSN (24 H),
MAC size (1 N as M6), input format (1 N: 0 binary, 1 hex), message length
(4 H), message; GY adds the MAC.  The BDK and the working key never leave.
"""

from __future__ import annotations

import hmac
import re
from functools import lru_cache
from typing import Any

from Crypto.Cipher import AES, DES3
from Crypto.Hash import CMAC

from hsm_sim import errors as errs
from hsm_sim.commands._base import Context, Handler, Reader, hexu
from hsm_sim.crypto import dukpt_aes, mac
from hsm_sim.crypto.aes import AesCmacKey
from hsm_sim.errors import HsmError
from protocols.crypto import aes_dukpt

HEX_TEXT = re.compile(r"[0-9A-Fa-f]*")
SIZES = {"0": 4, "1": 8, "2": 16}
USAGES = {"1": ("M1", "M0"), "3": ("M3",), "5": ("M6",)}


def read_message(r: Reader, input_format: str) -> bytes:
    length = r.hex_number(4, "message length")
    text = r.take(length, "message")
    if input_format == "1":
        if len(text) % 2 or not HEX_TEXT.fullmatch(text):
            raise HsmError(errs.INVALID_INPUT, reason="hex message is not hex")
        return bytes.fromhex(text)
    return text.encode("latin-1")


def _compute(r: Reader, modes: str) -> tuple[bytes, int]:
    r.choice(1, "mode flag", ("0",))
    input_format = r.choice(1, "input format flag", ("0", "1", "2"))
    size = SIZES[r.choice(1, "MAC size", tuple(SIZES))]
    algorithm = r.choice(1, "MAC algorithm", tuple(USAGES))
    padding = r.number(1, "padding method")
    r.choice(3, "key type", ("FFF",))
    key = r.key("MAC key", USAGES[algorithm], modes, "TA" if algorithm == "5" else "T")
    message = read_message(r, input_format)
    if algorithm == "5":
        if padding != 0:
            raise HsmError(errs.INVALID_INPUT, reason="CMAC takes padding 0")
        full = _cmac(key.value, key.is_aes, message)
    else:
        if padding not in (0, 1, 2, 3):
            raise HsmError(errs.INVALID_INPUT, reason="padding must be 0 to 3")
        if padding == 0:
            if len(message) % 8 or not message:
                raise HsmError(errs.INVALID_INPUT, reason="unpadded message is not whole blocks")
            padding = 1
        if algorithm == "3":
            if len(key.value) != 16:
                raise HsmError(errs.INCOMPATIBLE_KEY_LENGTH, reason="algorithm 3 needs 16 bytes")
            full = mac.retail_mac(key.value, message, padding)
        else:
            full = mac.cbc_mac(key.value, message, padding)
    if size > len(full):
        raise HsmError(errs.INVALID_INPUT, reason="MAC size larger than the MAC")
    return full, size


def _cmac(value: bytes, is_aes: bool, message: bytes) -> bytes:
    """CMAC by C implementations (the hot path: tests check it against
    ``cryptography`` and the project's own CMAC): AES by ``cryptography``'s
    CMAC, its subkeys kept per key; TDES by pycryptodome's, TDES keys that
    pycryptodome refuses (K1 = K2 or K2 = K3) through ``hsm_sim.crypto.mac``."""
    if is_aes:
        return _aes_cmac_key(value).mac(message)
    try:
        state = _cmac_state(value, is_aes).copy()
    except ValueError:
        return mac.aes_cmac_mac(value, message) if is_aes else mac.tdes_cmac(value, message)
    state.update(message)
    return bytes(state.digest())


@lru_cache(maxsize=1024)
def _aes_cmac_key(value: bytes) -> AesCmacKey:
    return AesCmacKey(value)


@lru_cache(maxsize=1024)
def _cmac_state(value: bytes, is_aes: bool) -> Any:
    """A CMAC with its subkeys computed, copied for each message."""
    return CMAC.new(value, ciphermod=AES if is_aes else DES3)


def m6(ctx: Context, r: Reader) -> str:
    full, size = _compute(r, "CGN")
    r.end()
    return hexu(full[:size])


def m8(ctx: Context, r: Reader) -> str:
    full, size = _compute(r, "CVN")
    given = r.hex(2 * size, "MAC")
    r.end()
    if not hmac.compare_digest(full[:size], given):
        raise HsmError(errs.VERIFICATION_FAILURE, reason="MAC does not verify")
    return ""


DUKPT_MAC_USAGES = {
    "2000": aes_dukpt.USAGE_MAC_GENERATION,
    "2001": aes_dukpt.USAGE_MAC_VERIFICATION,
    "2002": aes_dukpt.USAGE_MAC_BOTH,
}


def dukpt_mac_key(bdk: bytes, ksn: bytes, usage: int) -> bytes:
    """The AES DUKPT MAC working key of a KSN (never stored): the initial
    key and the intermediate derivation keys come from the in-memory caches
    of ``hsm_sim.crypto.dukpt_aes`` (a terminal's next KSN costs one step
    and the working key)."""
    if not aes_dukpt.ksn_is_valid(ksn):
        raise HsmError(errs.INVALID_INPUT, reason="KSN counter is not a valid AES DUKPT counter")
    return dukpt_aes.cached_working_key(bdk, ksn, usage)


@lru_cache(maxsize=4096)
def dukpt_cmac_key(bdk: bytes, ksn: bytes, usage: int) -> AesCmacKey:
    """The CMAC state of ``dukpt_mac_key``, kept in memory only, keyed by
    the BDK, the whole KSN and the usage: the host's GY on a request and its
    GW on the answer come for the same KSN milliseconds apart, so the
    answer's MAC costs no derivation and no CMAC subkeys.  An invalid KSN
    raises before anything is cached."""
    return AesCmacKey(dukpt_mac_key(bdk, ksn, usage))


def _dukpt_compute(r: Reader) -> tuple[bytes, int]:
    bdk = r.key("BDK", ("B0",), "XN", "TA", role=0)
    usage = DUKPT_MAC_USAGES[r.choice(4, "key usage", tuple(DUKPT_MAC_USAGES))]
    ksn = r.hex(24, "KSN")
    size = SIZES[r.choice(1, "MAC size", tuple(SIZES))]
    input_format = r.choice(1, "input format flag", ("0", "1"))
    message = read_message(r, input_format)
    if not bdk.is_aes:
        raise HsmError(errs.INVALID_ALGORITHM, reason="BDK: DUKPT MAC needs an AES BDK")
    return dukpt_cmac_key(bdk.value, ksn, usage).mac(message), size


def gw(ctx: Context, r: Reader) -> str:
    full, size = _dukpt_compute(r)
    r.end()
    return hexu(full[:size])


def gy(ctx: Context, r: Reader) -> str:
    full, size = _dukpt_compute(r)
    given = r.hex(2 * size, "MAC")
    r.end()
    if not hmac.compare_digest(full[:size], given):
        raise HsmError(errs.VERIFICATION_FAILURE, reason="MAC does not verify")
    return ""


COMMANDS: dict[str, Handler] = {"M6": m6, "M8": m8, "GW": gw, "GY": gy}
