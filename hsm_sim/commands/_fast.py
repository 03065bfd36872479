"""C-speed forms of the MAC the EMV commands run twice per KQ.

``retail_mac`` is ISO/IEC 9797-1 MAC algorithm 3 (as
``hsm_sim.crypto.mac.retail_mac``, whose padding it uses) computed with
pycryptodome's DES in CBC mode instead of block by block in Python; the
tests check it against ``hsm_sim.crypto.mac`` on random keys, data and
paddings, and KQ against pyemv.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from Crypto.Cipher import DES

from hsm_sim.crypto import mac

_ZERO_IV = bytes(8)


@lru_cache(maxsize=4096)
def _des_ecb(key8: bytes) -> Any:
    return DES.new(key8, DES.MODE_ECB)


def retail_mac(key: bytes, data: bytes, padding: int) -> bytes:
    """MAC algorithm 3 with a 16-byte key K || K' (8-byte result)."""
    if len(key) != 16:
        raise ValueError("retail MAC key must be 16 bytes")
    padded = mac.pad(data, padding)
    k, k2 = key[:8], key[8:]
    h = DES.new(k, DES.MODE_CBC, iv=_ZERO_IV).encrypt(padded)[-8:]
    return bytes(_des_ecb(k).encrypt(_des_ecb(k2).decrypt(h)))
