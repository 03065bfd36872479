"""Key parity, key check values and key components.

Check values:
- TDES/DES: leftmost bytes of the encryption of a zero block (X9.24-1 legacy
  KCV method, what every HSM prints);
- AES: leftmost bytes of AES-CMAC over a zero block (X9.24-1:2017 / TR-31 /
  X9.143 "CMAC" KCV method).
The default length is 3 bytes (6 hex digits), the length HSMs and key
ceremonies show; X9.143 optional block KC uses 5 bytes for CMAC KCVs, so
``length`` is a parameter.
"""

from __future__ import annotations

from functools import reduce

from hsm_sim.crypto import aes, des


def _odd(byte: int) -> bool:
    return bin(byte).count("1") % 2 == 1


# Each byte value with its low bit set so that the byte has odd parity.
_ODD_PARITY = bytes(b if _odd(b) else b ^ 1 for b in range(256))


def adjust_parity(key: bytes) -> bytes:
    """Set each byte's low bit so the byte has odd parity (DES keys)."""
    return bytes(key).translate(_ODD_PARITY)


def has_odd_parity(key: bytes) -> bool:
    return all(_odd(b) for b in key)


def check_parity(key: bytes) -> None:
    """Raise ValueError naming the first byte with even parity."""
    for i, b in enumerate(key):
        if not _odd(b):
            raise ValueError(f"key byte {i} does not have odd parity")


def kcv_tdes(key: bytes, length: int = 3) -> bytes:
    _check_length(length, 8)
    return des.encrypt_ecb(key, bytes(8))[:length]


def kcv_aes(key: bytes, length: int = 3) -> bytes:
    _check_length(length, 16)
    return aes.cmac(key, bytes(16))[:length]


def kcv(key: bytes, alg: str = "tdes", length: int = 3) -> bytes:
    if alg == "tdes":
        return kcv_tdes(key, length)
    if alg == "aes":
        return kcv_aes(key, length)
    raise ValueError(f"unknown KCV algorithm {alg!r} (tdes or aes)")


def _check_length(length: int, block: int) -> None:
    if not 1 <= length <= block:
        raise ValueError(f"KCV length must be 1..{block} bytes")


def combine_components(components: list[bytes], alg: str = "tdes") -> bytes:
    """XOR key components into the key; TDES keys come out parity-adjusted.

    Each component must be the key's length; at least two are needed (one
    component is not a split key)."""
    if len(components) < 2:
        raise ValueError("at least two key components are needed")
    length = len(components[0])
    if any(len(c) != length for c in components):
        raise ValueError("key components differ in length")
    key = reduce(lambda a, b: bytes(x ^ y for x, y in zip(a, b, strict=True)), components)
    if alg == "tdes":
        des.expand_key(key)  # validates the length
        return adjust_parity(key)
    if alg == "aes":
        if length not in (16, 24, 32):
            raise ValueError(f"AES key must be 16, 24 or 32 bytes, not {length}")
        return key
    raise ValueError(f"unknown algorithm {alg!r} (tdes or aes)")
