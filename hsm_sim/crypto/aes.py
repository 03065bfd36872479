"""AES block operations over pycryptodome, and the injectable block cipher.

``AesBlock`` is the CPython counterpart of the firmware's
``protocols.crypto.cryptolib_aes.CryptolibAes``: ``AesBlock`` (the class) is
the factory that ``protocols.crypto.aes_dukpt`` takes, and an instance is the
cipher ``protocols.crypto.aes_cmac`` takes.
"""

from __future__ import annotations

from Crypto.Cipher import AES

from protocols.crypto import aes_cmac

BLOCK = 16


def _check_key(key: bytes) -> None:
    if len(key) not in (16, 24, 32):
        raise ValueError(f"AES key must be 16, 24 or 32 bytes, not {len(key)}")


def _check_blocks(data: bytes) -> None:
    if len(data) % BLOCK:
        raise ValueError(f"AES data must be a multiple of 16 bytes, not {len(data)}")


class AesBlock:
    block_size = BLOCK

    def __init__(self, key: bytes) -> None:
        _check_key(key)
        self._ecb = AES.new(bytes(key), AES.MODE_ECB)

    def encrypt_block(self, block: bytes) -> bytes:
        return bytes(self._ecb.encrypt(bytes(block)))

    def decrypt_block(self, block: bytes) -> bytes:
        return bytes(self._ecb.decrypt(bytes(block)))


def encrypt_ecb(key: bytes, data: bytes) -> bytes:
    _check_key(key)
    _check_blocks(data)
    return bytes(AES.new(key, AES.MODE_ECB).encrypt(data))


def decrypt_ecb(key: bytes, data: bytes) -> bytes:
    _check_key(key)
    _check_blocks(data)
    return bytes(AES.new(key, AES.MODE_ECB).decrypt(data))


def encrypt_cbc(key: bytes, data: bytes, iv: bytes = bytes(BLOCK)) -> bytes:
    _check_key(key)
    _check_blocks(data)
    return bytes(AES.new(key, AES.MODE_CBC, iv=iv).encrypt(data))


def decrypt_cbc(key: bytes, data: bytes, iv: bytes = bytes(BLOCK)) -> bytes:
    _check_key(key)
    _check_blocks(data)
    return bytes(AES.new(key, AES.MODE_CBC, iv=iv).decrypt(data))


def cmac(key: bytes, data: bytes) -> bytes:
    """AES-CMAC (RFC 4493), 16 bytes, by the shared implementation."""
    return aes_cmac.cmac(AesBlock(key), data)
