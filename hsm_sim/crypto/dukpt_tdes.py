"""TDES DUKPT, host side (ANSI X9.24-1:2009).

KSN: 10 bytes; the right 21 bits are the transaction counter, the rest
identify the initial key.  Working keys are variants of the current
(future) key:

==================  ===================================  ====================
usage               variant (XOR, both halves)           then
==================  ===================================  ====================
PIN encryption      ``00000000000000FF``                 -
MAC, request        ``000000000000FF00``                 -
MAC, response       ``00000000FF000000``                 -
data, request       ``0000000000FF0000``                 one-way function
data, response      ``000000FF00000000``                 one-way function
==================  ===================================  ====================

The data-encryption one-way function (X9.24-1:2009 Annex A) encrypts each
half of the variant key with the variant key itself (TDES ECB).
"""

from __future__ import annotations

from hsm_sim.crypto import des

KSN_LEN = 10
COUNTER_MASK = 0x1FFFFF  # 21 bits
MAX_ONE_BITS = 10  # a terminal never uses counters with more one-bits
_KEY_MASK = bytes.fromhex("C0C0C0C000000000C0C0C0C000000000")

VARIANTS: tuple[tuple[str, bytes, bool], ...] = (
    # (name, 8-byte variant applied to both halves, one-way function)
    ("pin", bytes.fromhex("00000000000000FF"), False),
    ("mac", bytes.fromhex("000000000000FF00"), False),
    ("mac_response", bytes.fromhex("00000000FF000000"), False),
    ("data", bytes.fromhex("0000000000FF0000"), True),
    ("data_response", bytes.fromhex("000000FF00000000"), True),
)


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def _check(bdk_or_key: bytes, ksn: bytes) -> None:
    if len(bdk_or_key) != 16:
        raise ValueError(f"TDES DUKPT keys are 16 bytes (2-key TDES), not {len(bdk_or_key)}")
    if len(ksn) != KSN_LEN:
        raise ValueError(f"TDES DUKPT KSN must be 10 bytes, not {len(ksn)}")


def counter_of(ksn: bytes) -> int:
    return int.from_bytes(ksn[-3:], "big") & COUNTER_MASK


def initial_ksn(ksn: bytes) -> bytes:
    """The KSN with its counter bits cleared."""
    value = int.from_bytes(ksn, "big") & ~COUNTER_MASK
    return value.to_bytes(KSN_LEN, "big")


def initial_key(bdk: bytes, ksn: bytes) -> bytes:
    """IPEK: TDES of the KSN's left 8 bytes (counter cleared) under BDK and BDK^mask."""
    _check(bdk, ksn)
    r = initial_ksn(ksn)[:8]
    left = des.encrypt_ecb(bdk, r)
    right = des.encrypt_ecb(_xor(bdk, _KEY_MASK), r)
    return left + right


def _nrkgp(key: bytes, r8: bytes) -> bytes:
    """Non-reversible key generation process (one step of the key ladder)."""

    def half(k: bytes) -> bytes:
        kl, kr = k[:8], k[8:]
        return _xor(des.des_encrypt(kl, _xor(r8, kr)), kr)

    right = half(key)
    left = half(_xor(key, _KEY_MASK))
    return left + right


def current_key(ik: bytes, ksn: bytes) -> bytes:
    """The key register for a KSN: one NRKGP per one-bit of the counter, high to low."""
    _check(ik, ksn)
    counter = counter_of(ksn)
    if counter == 0:
        raise ValueError("KSN counter is 0: no transaction key")
    r8 = bytearray(initial_ksn(ksn)[2:])
    key = ik
    bit = 1 << 20
    while bit:
        if counter & bit:
            value = int.from_bytes(r8, "big") | bit
            r8 = bytearray(value.to_bytes(8, "big"))
            key = _nrkgp(key, bytes(r8))
        bit >>= 1
    return key


def variant_key(key: bytes, name: str) -> bytes:
    for vname, variant, owf in VARIANTS:
        if vname == name:
            k = _xor(key, variant + variant)
            if owf:
                k = des.encrypt_ecb(k, k[:8]) + des.encrypt_ecb(k, k[8:])
            return k
    raise ValueError(f"unknown TDES DUKPT key usage {name!r}")


def working_keys(bdk: bytes, ksn: bytes) -> dict[str, bytes]:
    """Initial key and every working key for a KSN."""
    ik = initial_key(bdk, ksn)
    cur = current_key(ik, ksn)
    out = {"initial_key": ik}
    for name, _variant, _owf in VARIANTS:
        out[name] = variant_key(cur, name)
    return out
