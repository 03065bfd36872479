"""Payment cryptography for the HSM emulator and ``payterm crypto``.

One small module per job (pyemv style): ``des`` and ``aes`` (block ciphers
over pycryptodome), ``keys`` (parity, check values, components),
``dukpt_tdes`` and ``dukpt_aes`` (host side of DUKPT), ``mac`` (ISO 9797-1
algorithms 1 and 3, CMAC) and ``tr31`` (key blocks), beside the PIN, card
verification and EMV modules (see docs/crypto.md).  Code shared with the
firmware (AES-CMAC, AES DUKPT) lives in ``protocols.crypto`` and is reused
here, so there is one implementation.  Nothing here logs key material.
"""
