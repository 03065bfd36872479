"""MACs: ISO/IEC 9797-1 MAC algorithms 1 and 3, TDES-CMAC and AES-CMAC.

- ``cbc_mac``: algorithm 1 (CBC-MAC) with DES or TDES (8/16/24-byte key);
- ``retail_mac``: algorithm 3 (ANSI X9.19 retail MAC): single DES CBC under
  K, output transformation D(K') then E(K) on the last block; 16-byte key
  K|K';
- padding methods 1 (zeros; the empty string becomes one zero block),
  2 (0x80 then zeros) and 3 (a block holding the bit length, then method 1);
- CMAC (SP 800-38B) by the shared implementation in ``protocols.crypto``.
All return the full block; truncate for shorter MACs.
"""

from __future__ import annotations

from hsm_sim.crypto import aes, des
from protocols.crypto import aes_cmac


def pad(data: bytes, method: int, block: int = 8) -> bytes:
    if method == 1:
        if not data:
            return bytes(block)
        return data + bytes(-len(data) % block)
    if method == 2:
        return pad(data + b"\x80", 1, block)
    if method == 3:
        return (len(data) * 8).to_bytes(block, "big") + pad(data, 1, block)
    raise ValueError(f"ISO 9797-1 padding method must be 1, 2 or 3, not {method}")


def cbc_mac(key: bytes, data: bytes, padding: int = 1) -> bytes:
    """ISO 9797-1 MAC algorithm 1 with DES/TDES, IV zero."""
    cipher = des.TdesBlock(key)
    return cipher.encrypt_cbc(pad(data, padding))[-8:]


def retail_mac(key: bytes, data: bytes, padding: int = 1) -> bytes:
    """ISO 9797-1 MAC algorithm 3 (X9.19 retail MAC) with a 16-byte key."""
    if len(key) != 16:
        raise ValueError(f"retail MAC key must be 16 bytes (K|K'), not {len(key)}")
    k, k2 = key[:8], key[8:]
    h = des.TdesBlock(k).encrypt_cbc(pad(data, padding))[-8:]
    return des.des_encrypt(k, des.des_decrypt(k2, h))


def tdes_cmac(key: bytes, data: bytes) -> bytes:
    """CMAC with TDES (8-byte tag), SP 800-38B."""
    return aes_cmac.cmac(des.TdesBlock(key), data)


def aes_cmac_mac(key: bytes, data: bytes) -> bytes:
    """AES-CMAC (16-byte tag), RFC 4493."""
    return aes.cmac(key, data)


ALGORITHMS = ("retail", "cbc", "cmac-tdes", "cmac-aes")


def generate(alg: str, key: bytes, data: bytes, padding: int | None = None) -> bytes:
    """MAC by algorithm name; padding applies to retail and cbc only."""
    if alg in ("retail", "cbc"):
        method = 1 if padding is None else padding
        return retail_mac(key, data, method) if alg == "retail" else cbc_mac(key, data, method)
    if padding is not None:
        raise ValueError("--padding applies to retail and cbc MACs; CMAC pads itself")
    if alg == "cmac-tdes":
        return tdes_cmac(key, data)
    if alg == "cmac-aes":
        return aes_cmac_mac(key, data)
    raise ValueError(f"unknown MAC algorithm {alg!r}")
