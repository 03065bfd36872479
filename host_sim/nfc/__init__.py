"""PN532 NFC reader emulator (docs/nfc.md).

- ``virtual_card``: what a card in the field must offer (uid, atqa, sak, ats,
  process_apdu) and the ATS normalisation;
- ``iso7816_card``: a small ISO 7816-4 test card (``test-iso7816``);
- ``iso_dep``: the card side of ISO/IEC 14443-4 (RATS, blocks, chaining);
- ``rf_field``: the field with zero, one or two cards, anticollision order;
- ``timing``: optional link timing (UART baud rate, 106 kbps RF);
- ``pn532_emulator``: the chip, sans I/O: bytes in, timed bytes out;
- ``server``: the chip on a loopback TCP port (asyncio);
- ``profiles``: card profile names for ``payterm nfc serve``.
"""
