"""ISO 9564-1 PIN blocks: formats 0, 1, 2, 3 (8 bytes, TDES) and 4 (16 bytes, AES).

Formats 0–3 (ISO 9564-1:2017, 9.3): a plain-text PIN field of 16 nibbles,
control nibble C, PIN length N (4–12), the PIN digits, then fill:

- format 0: fill ``F``, XORed with the PAN field ``0000`` + the 12 rightmost
  PAN digits excluding the check digit (left-padded with zeros);
- format 1: fill is random/transaction-unique (any nibble), no PAN;
- format 2: fill ``F``, no PAN (ICC offline PIN, normally not enciphered);
- format 3: as format 0 but the fill is random nibbles ``A``–``F``.

Format 4 (AES, ISO 9564-1:2017, 9.4.2) lives in the MicroPython-shared
``protocols.crypto.pin_format4``; this module calls it with a pycryptodome AES
block cipher (``hsm_sim.crypto.aes.AesBlock``) so host and firmware produce
the same bytes.

Clear blocks: ``encode``/``decode``. For format 4 the "clear block" is the
16-byte plain-text PIN field (the PAN only enters during encipherment).
Enciphered blocks: ``encipher``/``decipher`` (TDES-ECB with an 8/16/24-byte key
for formats 0–3; the two-step AES process for format 4) and ``translate``.

Fill: formats 1 and 3 take ``fill`` as a string of hex nibbles (at least
14 − PIN length of them; the first ones are used; format 3 nibbles must be
A–F); format 4 takes 8 bytes. Without ``fill`` the nibbles come from
``secrets``. No function here logs or prints a PIN.
"""

from __future__ import annotations

import secrets

from hsm_sim.crypto._cardutil import is_digits, tdes_ecb
from hsm_sim.crypto.aes import AesBlock
from protocols.crypto import pin_format4
from protocols.errors import DecodeError, EncodeError

FORMATS = (0, 1, 2, 3, 4)
PAN_FORMATS = (0, 3, 4)
MIN_PIN = 4
MAX_PIN = 12


def _check_format(fmt: int) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown PIN block format {fmt!r} (0, 1, 2, 3 or 4)")


def _check_pin(pin: str) -> None:
    if not is_digits(pin) or not MIN_PIN <= len(pin) <= MAX_PIN:
        raise EncodeError("PIN must be 4 to 12 decimal digits", field="pin")


def pan_field_8(pan: str | None) -> bytes:
    """The 8-byte PAN field of formats 0 and 3: ``0000`` + the 12 rightmost
    digits excluding the check digit, left-padded with zeros."""
    if pan is None or not is_digits(pan) or len(pan) > 19:
        raise EncodeError("PAN must be 1 to 19 decimal digits", field="pan")
    digits = pan[:-1][-12:]
    return bytes.fromhex("0000" + digits.rjust(12, "0"))


def _random_nibbles(count: int, alphabet: str) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(count))


def _fill_nibbles(fmt: int, pin: str, fill: str | bytes | None) -> str:
    need = 14 - len(pin)
    if fmt in (0, 2):
        if fill is not None:
            raise EncodeError(f"format {fmt} has a fixed F fill; no fill accepted", field="fill")
        return "F" * need
    alphabet = "ABCDEF" if fmt == 3 else "0123456789ABCDEF"
    if fill is None:
        return _random_nibbles(need, alphabet)
    text = fill.hex() if isinstance(fill, bytes) else fill
    text = text.upper()
    if len(text) < need:
        raise EncodeError(f"fill needs at least {need} hex digits, got {len(text)}", field="fill")
    chosen = text[:need]
    if any(c not in alphabet for c in chosen):
        raise EncodeError(f"format {fmt} fill nibbles must be in {alphabet}", field="fill")
    return chosen


def _fill_bytes_4(fill: str | bytes | None) -> bytes | None:
    if fill is None:
        return None
    if isinstance(fill, str):
        try:
            fill = bytes.fromhex(fill)
        except ValueError as exc:
            raise EncodeError("fill is not hex", field="fill") from exc
    if len(fill) < pin_format4.FILL_BYTES:
        raise EncodeError("format 4 fill needs 8 bytes (16 hex digits)", field="fill")
    return fill[: pin_format4.FILL_BYTES]


def encode(fmt: int, pin: str, pan: str | None = None, fill: str | bytes | None = None) -> bytes:
    """The clear PIN block (8 bytes; for format 4 the 16-byte plain-text PIN field)."""
    _check_format(fmt)
    if fmt == 4:
        return pin_format4.pin_field(pin, _fill_bytes_4(fill))
    _check_pin(pin)
    field = bytes.fromhex(f"{fmt:X}{len(pin):X}{pin}{_fill_nibbles(fmt, pin, fill)}")
    if fmt in (0, 3):
        return bytes(a ^ b for a, b in zip(field, pan_field_8(pan), strict=True))
    return field


def decode(fmt: int, block: bytes, pan: str | None = None) -> str:
    """The PIN in a clear block; DecodeError if the block is not of format ``fmt``."""
    _check_format(fmt)
    if fmt == 4:
        return pin_format4.parse_pin_field(block)
    if len(block) != 8:
        raise DecodeError(f"format {fmt} PIN block must be 8 bytes", field="block")
    if fmt in (0, 3):
        block = bytes(a ^ b for a, b in zip(block, pan_field_8(pan), strict=True))
    text = block.hex().upper()
    if text[0] != str(fmt):
        raise DecodeError(f"control field is {text[0]}, not {fmt}", offset=0, field="control")
    n = int(text[1], 16)
    if not MIN_PIN <= n <= MAX_PIN:
        raise DecodeError(f"PIN length {n} outside 4..12", offset=1, field="pin_length")
    pin, rest = text[2 : 2 + n], text[2 + n :]
    if not is_digits(pin):
        raise DecodeError("PIN digits are not decimal", offset=2, field="pin")
    if fmt in (0, 2) and rest != "F" * len(rest):
        raise DecodeError("fill nibbles are not F", offset=2 + n, field="fill")
    if fmt == 3 and any(c not in "ABCDEF" for c in rest):
        raise DecodeError("fill nibbles are not A-F", offset=2 + n, field="fill")
    return pin


def encipher(
    fmt: int, key: bytes, pin: str, pan: str | None = None, fill: str | bytes | None = None
) -> bytes:
    """The enciphered PIN block: TDES-ECB of the clear block for formats 0–3,
    the two-step AES encipherment for format 4."""
    _check_format(fmt)
    if fmt == 4:
        if pan is None:
            raise EncodeError("format 4 needs the PAN", field="pan")
        return pin_format4.encipher(AesBlock(key), pin, pan, _fill_bytes_4(fill))
    return tdes_ecb(key, encode(fmt, pin, pan, fill))


def decipher(fmt: int, key: bytes, block: bytes, pan: str | None = None) -> str:
    """The PIN inside an enciphered block (DecodeError when the result is not a
    valid block of that format, which is what a wrong key or PAN gives)."""
    _check_format(fmt)
    if fmt == 4:
        if pan is None:
            raise DecodeError("format 4 needs the PAN", field="pan")
        return pin_format4.decipher(AesBlock(key), block, pan)
    if len(block) != 8:
        raise DecodeError(f"format {fmt} PIN block must be 8 bytes", field="block")
    return decode(fmt, tdes_ecb(key, block, decrypt=True), pan)


def translate(
    block: bytes,
    src_format: int,
    src_key: bytes,
    dst_format: int,
    dst_key: bytes,
    pan: str | None = None,
    fill: str | bytes | None = None,
) -> bytes:
    """Re-encipher a PIN block from one key/format to another (the PIN never
    leaves this function). Refuses to move a PIN from a PAN-bound format
    (0, 3, 4) to one without a PAN (1, 2), as an HSM does by default, since
    that would unbind the PIN from its account."""
    _check_format(src_format)
    _check_format(dst_format)
    if src_format in PAN_FORMATS and dst_format not in PAN_FORMATS:
        raise EncodeError(
            f"translation from PAN-bound format {src_format} to format {dst_format} refused",
            field="format",
        )
    pin = decipher(src_format, src_key, block, pan)
    return encipher(dst_format, dst_key, pin, pan, fill)
