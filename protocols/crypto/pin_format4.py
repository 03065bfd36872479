"""ISO 9564-1 PIN block format 4 (AES), shared by the firmware and the host.

Format 4 works on 16-byte fields and enciphers twice (ISO 9564-1:2017,
9.4.2, "Format 4"):

- plain-text PIN field: control nibble 4, PIN length nibble (4–12), the PIN
  digits, fill nibbles ``A`` up to nibble 15, then 16 random nibbles (8 random
  bytes) in nibbles 16–31;
- PAN field: nibble M = (PAN length − 12) (0 when the PAN has fewer than 12
  digits, which are then left-padded with zeros to 12), the PAN digits, then
  ``0`` nibbles to 32;
- encipherment: ``C = E_K(E_K(PIN field) XOR PAN field)``; decipherment runs
  it backwards.

The AES block cipher is injected: an object with ``encrypt_block(b16) -> b16``
and ``decrypt_block(b16) -> b16`` (a wrapper over ``cryptolib.aes(key, 1)`` on
MicroPython, over pycryptodome on the host). Randomness is injected too: pass
the 8 fill bytes, or leave them out to draw them from ``os.urandom``.

MicroPython subset: no typing at runtime, errors are DecodeError/EncodeError
naming the field. Nothing here prints or logs a PIN.
"""

import binascii

from protocols.errors import DecodeError, EncodeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CONTROL = 4
MIN_PIN = 4
MAX_PIN = 12
MAX_PAN = 19
FILL_BYTES = 8
_DIGITS = "0123456789"


def _hex(b: bytes) -> str:
    return binascii.hexlify(b).decode().upper()


def _unhex(s: str) -> bytes:
    return binascii.unhexlify(s)


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes([a[i] ^ b[i] for i in range(len(a))])


def _all_digits(s: str) -> bool:
    if not s:
        return False
    return all(c in _DIGITS for c in s)


def _random_fill() -> bytes:
    import os

    return os.urandom(FILL_BYTES)


def pin_field(pin: str, fill: "bytes | None" = None) -> bytes:
    """The 16-byte plain-text PIN field for ``pin`` (4–12 digits).

    ``fill`` is the 8 random bytes of nibbles 16–31 (drawn from os.urandom
    when None)."""
    if not isinstance(pin, str) or not _all_digits(pin) or not MIN_PIN <= len(pin) <= MAX_PIN:
        raise EncodeError("PIN must be 4 to 12 decimal digits", field="pin")
    if fill is None:
        fill = _random_fill()
    if len(fill) != FILL_BYTES:
        raise EncodeError("fill must be 8 bytes", field="fill")
    text = "%X%X" % (CONTROL, len(pin)) + pin + "A" * (14 - len(pin))
    return _unhex(text) + bytes(fill)


def parse_pin_field(field: bytes) -> str:
    """The PIN held in a 16-byte plain-text PIN field; checks control, length
    and the ``A`` fill."""
    if len(field) != 16:
        raise DecodeError("PIN field must be 16 bytes", field="pin_field")
    text = _hex(field[:8])
    if text[0] != "4":
        raise DecodeError("control field is " + text[0] + ", not 4", offset=0, field="control")
    n = int(text[1], 16)
    if not MIN_PIN <= n <= MAX_PIN:
        raise DecodeError("PIN length %d outside 4..12" % n, offset=1, field="pin_length")
    pin = text[2 : 2 + n]
    if not _all_digits(pin):
        raise DecodeError("PIN digits are not decimal", offset=2, field="pin")
    if text[2 + n :] != "A" * (14 - n):
        raise DecodeError("fill nibbles are not A", offset=2 + n, field="fill")
    return pin


def pan_field(pan: str) -> bytes:
    """The 16-byte PAN field for ``pan`` (1–19 digits)."""
    if not isinstance(pan, str) or not _all_digits(pan) or len(pan) > MAX_PAN:
        raise EncodeError("PAN must be 1 to 19 decimal digits", field="pan")
    if len(pan) < 12:
        pan = "0" * (12 - len(pan)) + pan
    text = "%X" % (len(pan) - 12) + pan
    return _unhex(text + "0" * (32 - len(text)))


def encipher(cipher: "Any", pin: str, pan: str, fill: "bytes | None" = None) -> bytes:
    """Enciphered format 4 PIN block (16 bytes) under the injected AES cipher."""
    intermediate = cipher.encrypt_block(pin_field(pin, fill))
    return bytes(cipher.encrypt_block(_xor(intermediate, pan_field(pan))))


def decipher_field(cipher: "Any", block: bytes, pan: str) -> bytes:
    """The plain-text PIN field inside an enciphered format 4 block."""
    if len(block) != 16:
        raise DecodeError("format 4 PIN block must be 16 bytes", field="block")
    intermediate = _xor(cipher.decrypt_block(bytes(block)), pan_field(pan))
    return bytes(cipher.decrypt_block(intermediate))


def decipher(cipher: "Any", block: bytes, pan: str) -> str:
    """The PIN inside an enciphered format 4 block (DecodeError when the
    deciphered field is not a format 4 PIN field, e.g. wrong key or PAN)."""
    return parse_pin_field(decipher_field(cipher, block, pan))
