"""Payment cryptography shared by the firmware (MicroPython) and the host:
the transaction-originating side of AES DUKPT, AES-CMAC and ISO 9564 PIN
block format 4. Block ciphers are injected (an object with
``encrypt_block(b16)``/``decrypt_block(b16)``), so the same code runs over
``cryptolib`` on the device and over pycryptodome on the host."""
