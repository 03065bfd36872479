"""Secure-element emulator (docs/secure-element.md): the chip inside each
terminal that holds its device keys, its signature counter, its certificates
and the PIN pad's AES DUKPT originator.

- ``engine``: request frame in, response frame out (``Engine.open(path)``);
- ``bus``: the sim board's I2C-over-TCP framing in front of it (asyncio);
- ``signer``, ``tamper``, ``pinpad``, ``kagree``, ``vault`` (DATA_WRAP /
  DATA_UNWRAP): the command groups;
- ``storage``: the state file (the chip's memory), secrets wrapped under a
  device master key; ``ecdsa_keys``: P-256; ``testkeys``: TEST personalisation.
"""
