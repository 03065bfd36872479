"""The terminal's keys behind one small interface (docs/app.md, "Keys").

``pin_block(pin, pan) -> (block, ksn)``: ISO 9564 format 4 under the AES
DUKPT PIN key of the current KSN, then the DUKPT counter advances; the PIN
comes as ASCII digits in a bytearray and is overwritten with zeros here,
whatever happens.  ``mac(data) -> bytes``: AES-CMAC, leftmost 8 bytes, under
the terminal's MAC key (the key the acquirer host holds for this terminal).

``SoftKeys`` keeps the keys in the firmware's RAM (the initial DUKPT key is
never kept: only the originator's registers).  It stands in for the secure
element: ``firmware/se_app.py`` offers the same two calls, and the terminal
takes whichever object it is given."""

import os

from protocols.crypto import aes_cmac, aes_dukpt, pin_format4
from protocols.crypto.cryptolib_aes import CryptolibAes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAC_LEN = 8


def wipe(buf: "Any") -> None:
    if buf is None:
        return
    for i in range(len(buf)):
        buf[i] = 0


def pin_field(pin: bytearray, fill: bytes) -> bytearray:
    """The format 4 plain-text PIN field built straight from the digits'
    bytearray (no str of the PIN is ever made)."""
    n = len(pin)
    if n < 4 or n > 12:
        raise ValueError("PIN must be 4 to 12 digits")
    field = bytearray(16)
    nibbles = bytearray(16)
    nibbles[0] = 4
    nibbles[1] = n
    for i in range(14):
        if i < n:
            d = pin[i] - 0x30
            if d < 0 or d > 9:
                wipe(nibbles)
                raise ValueError("PIN digits must be 0-9")
            nibbles[2 + i] = d
        else:
            nibbles[2 + i] = 0xA
    for i in range(8):
        field[i] = (nibbles[2 * i] << 4) | nibbles[2 * i + 1]
    wipe(nibbles)
    field[8:16] = fill
    return field


class SoftKeys:
    def __init__(self, mac_key: bytes, initial_key: bytes, initial_key_id: bytes) -> None:
        self._mac = CryptolibAes(bytes(mac_key))
        self._dukpt = aes_dukpt.Originator(CryptolibAes, bytes(initial_key), bytes(initial_key_id))

    def ksn(self) -> bytes:
        return self._dukpt.ksn()

    def pin_block(self, pin: bytearray, pan: str) -> "tuple[bytes, bytes]":
        field = None
        try:
            ksn = self._dukpt.ksn()
            key = self._dukpt.working_key(aes_dukpt.USAGE_PIN_ENCRYPTION)
            import cryptolib  # type: ignore[import-not-found]

            aes = cryptolib.aes(key, 1)
            field = pin_field(pin, os.urandom(8))
            inter = bytearray(16)
            aes.encrypt(field, inter)  # into our buffer: no immutable copy of the PIN field
            pan_f = pin_format4.pan_field(pan)
            for i in range(16):
                inter[i] ^= pan_f[i]
            block = bytearray(16)
            aes.encrypt(inter, block)
            wipe(inter)
            self._dukpt.advance()
            return bytes(block), ksn
        finally:
            wipe(field)
            wipe(pin)

    def mac(self, data: bytes) -> bytes:
        return bytes(aes_cmac.cmac(self._mac, data)[:MAC_LEN])


class SeKeys:
    """The PIN in the secure element (``firmware.secure.SecureElementApp``:
    the DUKPT originator lives there, loaded once by LOAD_DUKPT from a TR-31
    block; the SE wipes the PIN bytearray and moves to the next KSN on each
    new PIN block).  The MAC stays under the terminal's static AES-CMAC key:
    the acquirer host verifies one key per terminal, while the SE's MAC is
    a per-transaction DUKPT MAC (docs/app.md, "Keys and the secure element")."""

    def __init__(self, se: "Any", mac_key: bytes) -> None:
        self.se = se
        self._mac = CryptolibAes(bytes(mac_key))

    def ksn(self) -> bytes:
        return bytes(self.se.ksn())

    def pin_block(self, pin: bytearray, pan: str) -> "tuple[bytes, bytes]":
        try:
            block, ksn = self.se.pin_block(pin, pan)
        finally:
            wipe(pin)
        return bytes(block), bytes(ksn)

    def mac(self, data: bytes) -> bytes:
        return bytes(aes_cmac.cmac(self._mac, data)[:MAC_LEN])
