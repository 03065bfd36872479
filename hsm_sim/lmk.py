"""The local master key (LMK): an AES-256 key-block LMK.

Every key the HSM holds or hands out is a TR-31 / ANSI X9.143 **version D**
key block under the LMK, written with the payShield key-block prefix ``S``:
``S`` + ``D0112P0AE00E0000…``.  (payShield's own AES key blocks use its
proprietary header version ``1``; this HSM uses the standard X9.143 version
D body so any TR-31 implementation can check it — docs/hsm.md.)

Two kinds of LMK:

- the **test LMK** (``Lmk.test()``): a fixed, published key so tests and
  developers can build and read key blocks; check value in docs/hsm.md.
  Never for real keys.
- a **production-style LMK** (``Lmk.generate()``): 32 random bytes, kept in
  the key store wrapped under a key derived from a passphrase with scrypt
  (``wrap_under_passphrase`` / ``unwrap_with_passphrase``); it is never
  printed, logged or returned by a command.

Unwrapping is cached per LMK (an LRU of key-block text → header and key):
a key block is authenticated by its MAC, so the same text always unwraps to
the same key, and a busy HSM unwraps the same few working keys all day.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from typing import Protocol

from hsm_sim.crypto import keys, tr31

KEY_LEN = 32
PREFIX = "S"
# The published TEST LMK (docs/hsm.md): never use it for real keys.
TEST_LMK_HEX = "0123456789ABCDEFFEDCBA987654321000112233445566778899AABBCCDDEEFF"
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
CACHE_SIZE = 4096


class LmkError(ValueError):
    """The LMK cannot be loaded (wrong passphrase, damaged record)."""


class Lmk:
    """An AES-256 key-block LMK.  The key itself never leaves this object."""

    def __init__(self, key: bytes, kind: str = "production") -> None:
        if len(key) != KEY_LEN:
            raise LmkError(f"LMK must be {KEY_LEN} bytes (AES-256)")
        self._key = bytes(key)
        self.kind = kind
        self.check_value = keys.kcv_aes(self._key, 8).hex().upper()
        self._cache: OrderedDict[str, tuple[tr31.Header, bytes]] = OrderedDict()

    def __repr__(self) -> str:
        return f"Lmk(kind={self.kind!r}, check_value={self.check_value!r})"

    @classmethod
    def test(cls) -> Lmk:
        return cls(bytes.fromhex(TEST_LMK_HEX), "test")

    @classmethod
    def generate(cls) -> Lmk:
        return cls(os.urandom(KEY_LEN), "production")

    # -- key blocks under the LMK -------------------------------------------

    def wrap(self, header: tr31.Header, key: bytes) -> str:
        """``S`` + a version D key block holding ``key`` under this LMK."""
        header = _copy(header)
        header.version = "D"
        return PREFIX + tr31.wrap(self._key, header, key)

    def unwrap(self, block: str) -> tuple[tr31.Header, bytes]:
        """Header and key of an ``S`` key block (with or without the ``S``).

        Raises ``tr31.KeyBlockError`` (or its subclasses) for a malformed
        block or one that was not made under this LMK."""
        hit = self._cache.get(block)
        if hit is not None:
            self._cache.move_to_end(block)
            return _copy(hit[0]), hit[1]
        text = block[1:] if block.startswith(PREFIX) else block
        if not text.startswith("D"):
            raise tr31.HeaderError("LMK key blocks are version D")
        header, key = tr31.unwrap(self._key, text)
        self._cache[block] = (header, key)
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return _copy(header), key

    # -- the LMK at rest --------------------------------------------------------

    def wrap_under_passphrase(self, passphrase: str, salt: bytes) -> str:
        """The LMK as a version D key block under scrypt(passphrase, salt)."""
        kek = _passphrase_key(passphrase, salt)
        header = tr31.Header("D", "K0", "A", "B", "00", "N")
        return tr31.wrap(kek, header, self._key)

    @classmethod
    def unwrap_with_passphrase(cls, block: str, passphrase: str, salt: bytes) -> Lmk:
        kek = _passphrase_key(passphrase, salt)
        try:
            _header, key = tr31.unwrap(kek, block)
        except tr31.AuthenticationError:
            raise LmkError("wrong LMK passphrase (the stored LMK does not unwrap)") from None
        except tr31.KeyBlockError as exc:
            raise LmkError(f"stored LMK record is damaged: {exc}") from None
        return cls(key, "production")


def _copy(header: tr31.Header) -> tr31.Header:
    return tr31.Header(
        header.version,
        header.key_usage,
        header.algorithm,
        header.mode_of_use,
        header.key_version,
        header.exportability,
        list(header.blocks),
        header.reserved,
    )


def _passphrase_key(passphrase: str, salt: bytes) -> bytes:
    if not passphrase:
        raise LmkError("empty LMK passphrase")
    return hashlib.scrypt(
        passphrase.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=KEY_LEN
    )


class _Store(Protocol):
    def lmk_record(self) -> tuple[bytes, str, str] | None: ...
    def save_lmk_record(self, salt: bytes, block: str, check_value: str) -> None: ...
    def bind_lmk(self, check_value: str) -> None: ...


def load(store: _Store, passphrase: str | None) -> Lmk:
    """The LMK for a key store: the test LMK when ``passphrase`` is None;
    otherwise the production LMK kept in the store (unwrapped with the
    passphrase), generated and saved on first use.  The store is bound to
    the LMK's check value, so keys made under one LMK are never mixed with
    another's."""
    if passphrase is None:
        lmk = Lmk.test()
    else:
        record = store.lmk_record()
        if record is None:
            lmk = Lmk.generate()
            salt = os.urandom(16)
            store.save_lmk_record(
                salt, lmk.wrap_under_passphrase(passphrase, salt), lmk.check_value
            )
        else:
            salt, block, check = record
            lmk = Lmk.unwrap_with_passphrase(block, passphrase, salt)
            if lmk.check_value != check:
                raise LmkError("stored LMK check value does not match")
    store.bind_lmk(lmk.check_value)
    return lmk
