"""Payment cryptography that also runs in the firmware (MicroPython subset).

Block ciphers are injected, never imported: a cipher object has
``encrypt_block(bytes) -> bytes`` (and ``decrypt_block`` where a mode needs
it) and, optionally, ``block_size``.  DUKPT needs a fresh cipher per derived
key, so it takes a *factory* ``new_cipher(key) -> cipher``.  On MicroPython
the firmware passes ``protocols.crypto.cryptolib_aes.CryptolibAes``; on
CPython ``hsm_sim.crypto.aes.AesBlock`` (pycryptodome) plays the same part.
"""
