"""The terminal's keys behind one small interface (docs/app.md, "Keys").

``pin_block(pin, pan) -> (block, ksn)``: ISO 9564 format 4 under the AES
DUKPT PIN key of the current KSN; the PIN comes as ASCII digits in a
bytearray and is overwritten with zeros here, whatever happens.
``mac(data, ksn=None) -> bytes``: AES-CMAC, leftmost 8 bytes.  Scheme
``dukpt`` (the default): under the AES DUKPT MAC generation key (X9.24-3
usage 2000) of the current KSN -- the PIN block's when the message has one
-- and ``ksn``, when given, must be that KSN (ValueError otherwise).
Scheme ``static``: under the terminal's own MAC key.  ``next_transaction()``
when a message and its answer are done: the next one gets a fresh KSN (one
KSN per message: its PIN block, its MAC and the answer's MAC).  A second PIN
block on a used KSN moves on first.

``SoftKeys`` keeps the keys in the firmware's RAM (the initial DUKPT key is
never kept: only the originator's registers).  ``SeKeys`` has them in the
secure element (``firmware.secure.SecureElementApp``); the terminal takes
whichever object it is given."""

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
    def __init__(
        self, mac_key: bytes, initial_key: bytes, initial_key_id: bytes, mac_scheme: str = "dukpt"
    ) -> None:
        self.mac_scheme = mac_scheme
        self._mac = CryptolibAes(bytes(mac_key)) if mac_scheme == "static" else None
        self._dukpt = aes_dukpt.Originator(CryptolibAes, bytes(initial_key), bytes(initial_key_id))
        self._used = False  # the current KSN served a PIN block or a MAC
        self._mac_ksn = None  # the KSN whose MAC key is in _dukpt_mac
        self._dukpt_mac = None

    def ksn(self) -> bytes:
        return self._dukpt.ksn()

    def next_transaction(self) -> None:
        if self._used:
            self._dukpt.advance()
            self._used = False

    def pin_block(self, pin: bytearray, pan: str) -> "tuple[bytes, bytes]":
        field = None
        try:
            self.next_transaction()
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
            self._used = True
            return bytes(block), ksn
        finally:
            wipe(field)
            wipe(pin)

    def mac(self, data: bytes, ksn: "bytes | None" = None) -> bytes:
        if self._mac is None:
            current = self._dukpt.ksn()
            if ksn is not None and bytes(ksn) != current:
                raise ValueError("MAC under a KSN that is not the current one")
            if self._mac_ksn != current:
                key = self._dukpt.working_key(aes_dukpt.USAGE_MAC_GENERATION)
                self._dukpt_mac = CryptolibAes(key)
                self._mac_ksn = current
            self._used = True
            return bytes(aes_cmac.cmac(self._dukpt_mac, data)[:MAC_LEN])
        return bytes(aes_cmac.cmac(self._mac, data)[:MAC_LEN])


class SeKeys:
    """The PIN and the MAC in the secure element
    (``firmware.secure.SecureElementApp``: the DUKPT originator lives there,
    loaded once by LOAD_DUKPT from a TR-31 block; the SE wipes the PIN
    bytearray and moves to the next KSN on a second PIN block).  Scheme
    ``dukpt``: the SE's MAC command (AES-CMAC under the current KSN's MAC
    generation key; the KSN it answers with must be the message's), then
    NEXT_TRANSACTION when the exchange is over.  Scheme ``static``: the MAC
    under the terminal's own key in RAM (docs/app.md, "Keys and the secure
    element")."""

    def __init__(self, se: "Any", mac_key: bytes = b"", mac_scheme: str = "dukpt") -> None:
        self.se = se
        self.mac_scheme = mac_scheme
        self._mac = CryptolibAes(bytes(mac_key)) if mac_scheme == "static" else None
        self._used = False

    def ksn(self) -> bytes:
        return bytes(self.se.ksn())

    def next_transaction(self) -> None:
        if self._used and self._mac is None:
            self.se.next_transaction()
        self._used = False

    def pin_block(self, pin: bytearray, pan: str) -> "tuple[bytes, bytes]":
        try:
            block, ksn = self.se.pin_block(pin, pan)
        finally:
            wipe(pin)
        self._used = True
        return bytes(block), bytes(ksn)

    def mac(self, data: bytes, ksn: "bytes | None" = None) -> bytes:
        if self._mac is None:
            mac, used = self.se.mac(data)
            self._used = True
            if ksn is not None and bytes(used) != bytes(ksn):
                raise ValueError("the SE's KSN is not the message's")
            return bytes(mac[:MAC_LEN])
        return bytes(aes_cmac.cmac(self._mac, data)[:MAC_LEN])
