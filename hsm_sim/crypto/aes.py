"""AES block operations over pycryptodome, and the injectable block cipher.

``AesBlock`` is the CPython counterpart of the firmware's
``protocols.crypto.cryptolib_aes.CryptolibAes``: ``AesBlock`` (the class) is
the factory that ``protocols.crypto.aes_dukpt`` takes, and an instance is the
cipher ``protocols.crypto.aes_cmac`` takes.  ``FastAesBlock`` is the same
interface over ``cryptography`` (OpenSSL): one ECB context per key (a key
and a block in 3.8 µs against pycryptodome's 5.2); the HSM's DUKPT
derivations use it.  ``AesCmacKey`` is an AES-CMAC key with its subkeys
computed once, copied for each message (the HSM's M6/M8 and GW/GY hot
path).
"""

from __future__ import annotations

from typing import Any

from Crypto.Cipher import AES
from cryptography.hazmat.primitives import cmac as _cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

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


class FastAesBlock:
    """``AesBlock``'s interface over ``cryptography``'s AES-ECB contexts
    (ECB keeps no state between blocks, so one context serves every
    block; the decryption context is made on first use)."""

    block_size = BLOCK

    def __init__(self, key: bytes) -> None:
        _check_key(key)
        self._key = bytes(key)
        self._enc: Any = Cipher(algorithms.AES(self._key), modes.ECB()).encryptor()
        self._dec: Any = None

    def encrypt_block(self, block: bytes) -> bytes:
        if len(block) != BLOCK:
            raise ValueError(f"AES block must be 16 bytes, not {len(block)}")
        return bytes(self._enc.update(bytes(block)))

    def decrypt_block(self, block: bytes) -> bytes:
        if len(block) != BLOCK:
            raise ValueError(f"AES block must be 16 bytes, not {len(block)}")
        if self._dec is None:
            self._dec = Cipher(algorithms.AES(self._key), modes.ECB()).decryptor()
        return bytes(self._dec.update(bytes(block)))


class AesCmacKey:
    """AES-CMAC (RFC 4493) under one key: the subkeys are computed once and
    the state copied for each message (``cryptography``, OpenSSL)."""

    __slots__ = ("_proto",)

    def __init__(self, key: bytes) -> None:
        _check_key(key)
        self._proto: Any = _cmac.CMAC(algorithms.AES(bytes(key)))

    def mac(self, data: bytes) -> bytes:
        """The full 16-byte CMAC of ``data`` (truncate for shorter MACs)."""
        state = self._proto.copy()
        state.update(data)
        return bytes(state.finalize())


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
