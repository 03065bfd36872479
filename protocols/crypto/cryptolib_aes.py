"""AES block cipher over MicroPython's ``cryptolib`` (ECB, mode 1).

Used by the firmware as the cipher injected into ``aes_cmac`` and
``aes_dukpt``.  ``cryptolib`` exists only on MicroPython, so it is imported
when an object is built, never at module import.  The unix port accepts
AES-128 and AES-256 keys (not AES-192).  A ``cryptolib.aes`` object may only
encrypt or only decrypt, so a separate one is kept for each direction.
"""


class CryptolibAes:
    block_size = 16

    def __init__(self, key: bytes) -> None:
        import cryptolib  # type: ignore[import-not-found]

        self._key = bytes(key)
        self._enc = cryptolib.aes(self._key, 1)
        self._dec = None
        self._mod = cryptolib

    def encrypt_block(self, block: bytes) -> bytes:
        return bytes(self._enc.encrypt(bytes(block)))

    def decrypt_block(self, block: bytes) -> bytes:
        if self._dec is None:
            self._dec = self._mod.aes(self._key, 1)
        return bytes(self._dec.decrypt(bytes(block)))  # type: ignore[attr-defined]
