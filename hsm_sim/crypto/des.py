"""DES and TDES (EDE) block operations over pycryptodome.

Keys are 8 (single DES), 16 (2-key TDES) or 24 bytes (3-key TDES); parity
bits are ignored.  pycryptodome refuses TDES keys that degenerate to single
DES (K1 == K2 or K2 == K3); payment test keys often do exactly that, so those
are run as the three DES steps explicitly, which gives the same result.
"""

from __future__ import annotations

from Crypto.Cipher import DES, DES3

BLOCK = 8


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def expand_key(key: bytes) -> bytes:
    """The 24-byte K1|K2|K3 form of an 8-, 16- or 24-byte key."""
    if len(key) == 8:
        return key * 3
    if len(key) == 16:
        return key + key[:8]
    if len(key) == 24:
        return bytes(key)
    raise ValueError(f"DES/TDES key must be 8, 16 or 24 bytes, not {len(key)}")


class TdesBlock:
    """TDES (or DES) block cipher: the object the CMAC and MAC code inject."""

    block_size = BLOCK

    def __init__(self, key: bytes) -> None:
        k = expand_key(key)
        self._ede: object | None
        try:
            self._ede = DES3.new(k, DES3.MODE_ECB)
            self._parts: tuple[object, object, object] | None = None
        except ValueError:  # degenerates to single DES
            self._ede = None
            self._parts = (
                DES.new(k[0:8], DES.MODE_ECB),
                DES.new(k[8:16], DES.MODE_ECB),
                DES.new(k[16:24], DES.MODE_ECB),
            )

    def encrypt_block(self, block: bytes) -> bytes:
        return self.encrypt_ecb(block)

    def decrypt_block(self, block: bytes) -> bytes:
        return self.decrypt_ecb(block)

    def encrypt_ecb(self, data: bytes) -> bytes:
        _check_blocks(data)
        if self._ede is not None:
            return bytes(self._ede.encrypt(data))  # type: ignore[attr-defined]
        assert self._parts is not None
        k1, k2, k3 = self._parts
        return bytes(k3.encrypt(k2.decrypt(k1.encrypt(data))))  # type: ignore[attr-defined]

    def decrypt_ecb(self, data: bytes) -> bytes:
        _check_blocks(data)
        if self._ede is not None:
            return bytes(self._ede.decrypt(data))  # type: ignore[attr-defined]
        assert self._parts is not None
        k1, k2, k3 = self._parts
        return bytes(k1.decrypt(k2.encrypt(k3.decrypt(data))))  # type: ignore[attr-defined]

    def encrypt_cbc(self, data: bytes, iv: bytes = bytes(BLOCK)) -> bytes:
        _check_blocks(data)
        out = bytearray()
        chain = bytes(iv)
        for off in range(0, len(data), BLOCK):
            chain = self.encrypt_ecb(_xor(chain, data[off : off + BLOCK]))
            out += chain
        return bytes(out)

    def decrypt_cbc(self, data: bytes, iv: bytes = bytes(BLOCK)) -> bytes:
        _check_blocks(data)
        out = bytearray()
        chain = bytes(iv)
        for off in range(0, len(data), BLOCK):
            block = data[off : off + BLOCK]
            out += _xor(chain, self.decrypt_ecb(block))
            chain = block
        return bytes(out)


def _check_blocks(data: bytes) -> None:
    if len(data) % BLOCK:
        raise ValueError(f"DES data must be a multiple of 8 bytes, not {len(data)}")


def encrypt_ecb(key: bytes, data: bytes) -> bytes:
    return TdesBlock(key).encrypt_ecb(data)


def decrypt_ecb(key: bytes, data: bytes) -> bytes:
    return TdesBlock(key).decrypt_ecb(data)


def encrypt_cbc(key: bytes, data: bytes, iv: bytes = bytes(BLOCK)) -> bytes:
    return TdesBlock(key).encrypt_cbc(data, iv)


def decrypt_cbc(key: bytes, data: bytes, iv: bytes = bytes(BLOCK)) -> bytes:
    return TdesBlock(key).decrypt_cbc(data, iv)


def des_encrypt(key8: bytes, block: bytes) -> bytes:
    """Single DES, one key of 8 bytes."""
    if len(key8) != 8:
        raise ValueError("single DES key must be 8 bytes")
    return bytes(DES.new(key8, DES.MODE_ECB).encrypt(block))


def des_decrypt(key8: bytes, block: bytes) -> bytes:
    if len(key8) != 8:
        raise ValueError("single DES key must be 8 bytes")
    return bytes(DES.new(key8, DES.MODE_ECB).decrypt(block))
