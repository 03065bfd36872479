"""PIN verification: IBM 3624 (natural PIN and offset) and Visa PVV.

IBM 3624 (IBM CCA "IBM 3624 PIN generation / offset" calculation methods):
the validation data (1–16 hex characters, usually part of the PAN) is padded on
the right with the pad character to 16, enciphered with the PIN verification
key (DES or TDES), and every hex digit of the result is mapped to a decimal
digit through the 16-digit decimalisation table. The leftmost *n* digits are
the natural (intermediate) PIN. The offset is the digit-wise difference
(mod 10) customer PIN − natural PIN; with a PIN check length *m* < *n* only the
rightmost *m* digits of the offset are kept and checked.

Visa PVV (Visa PIN verification value, IBM CCA "VISA-PVV"): the transformed
security parameter TSP = the 11 rightmost PAN digits excluding the check digit,
the PVK index (1 digit) and the 4 leftmost PIN digits; TDES-encipher it with
the PVK, then take decimal digits left to right, then (if fewer than 4) the
letters A–F minus 10, until 4 digits.

Verification compares in constant time. Nothing here logs a PIN.
"""

from __future__ import annotations

import hmac

from hsm_sim.crypto._cardutil import check_tdes_key, decimalise_scan, is_digits, tdes_ecb

DEFAULT_DECIMALISATION = "0123456789012345"
HEX = "0123456789ABCDEF"


def _check_table(table: str) -> None:
    if len(table) != 16 or not is_digits(table):
        raise ValueError("decimalisation table must be 16 decimal digits")


def _check_pin(pin: str, low: int = 4, high: int = 16) -> None:
    if not is_digits(pin) or not low <= len(pin) <= high:
        raise ValueError(f"PIN must be {low} to {high} decimal digits")


def validation_block(validation_data: str, pad: str = "F") -> bytes:
    """The 8-byte block enciphered by IBM 3624: the validation data (1–16 hex
    characters) right-padded with ``pad`` to 16 characters."""
    data = validation_data.upper()
    if not 1 <= len(data) <= 16 or any(c not in HEX for c in data):
        raise ValueError("validation data must be 1 to 16 hex characters")
    if len(pad) != 1 or pad.upper() not in HEX:
        raise ValueError("pad must be one hex character")
    return bytes.fromhex(data.ljust(16, pad.upper()))


def ibm3624_natural_pin(
    pvk: bytes,
    validation_data: str,
    pin_length: int,
    table: str = DEFAULT_DECIMALISATION,
    pad: str = "F",
) -> str:
    """The natural (intermediate) PIN of ``pin_length`` digits (4–16)."""
    check_tdes_key(pvk, "PVK")
    _check_table(table)
    if not 4 <= pin_length <= 16:
        raise ValueError("PIN length must be 4 to 16")
    enciphered = tdes_ecb(pvk, validation_block(validation_data, pad)).hex().upper()
    return "".join(table[int(c, 16)] for c in enciphered[:pin_length])


def _digitwise(a: str, b: str, sign: int) -> str:
    return "".join(str((int(x) + sign * int(y)) % 10) for x, y in zip(a, b, strict=True))


def ibm3624_offset(
    pvk: bytes,
    pin: str,
    validation_data: str,
    table: str = DEFAULT_DECIMALISATION,
    pad: str = "F",
    check_length: int | None = None,
) -> str:
    """The IBM 3624 offset of a customer-selected ``pin`` (4–16 digits): the
    rightmost ``check_length`` (default: PIN length) digits of PIN − natural PIN."""
    _check_pin(pin)
    m = len(pin) if check_length is None else check_length
    if not 4 <= m <= len(pin):
        raise ValueError("PIN check length must be 4 to the PIN length")
    natural = ibm3624_natural_pin(pvk, validation_data, len(pin), table, pad)
    return _digitwise(pin, natural, -1)[-m:]


def ibm3624_pin_from_offset(
    pvk: bytes,
    offset: str,
    validation_data: str,
    table: str = DEFAULT_DECIMALISATION,
    pad: str = "F",
) -> str:
    """The customer PIN given its offset (PIN length = offset length): natural
    PIN + offset digit-wise mod 10."""
    if not is_digits(offset) or not 4 <= len(offset) <= 16:
        raise ValueError("offset must be 4 to 16 decimal digits")
    natural = ibm3624_natural_pin(pvk, validation_data, len(offset), table, pad)
    return _digitwise(natural, offset, 1)


def ibm3624_verify(
    pvk: bytes,
    pin: str,
    offset: str,
    validation_data: str,
    table: str = DEFAULT_DECIMALISATION,
    pad: str = "F",
) -> bool:
    """True when ``pin`` matches ``offset``. The offset length is the PIN check
    length: the rightmost len(offset) digits of natural PIN + offset must equal
    the rightmost digits of the PIN."""
    _check_pin(pin)
    if not is_digits(offset) or not 4 <= len(offset) <= len(pin):
        raise ValueError("offset must be 4 digits up to the PIN length")
    natural = ibm3624_natural_pin(pvk, validation_data, len(pin), table, pad)
    m = len(offset)
    expected = _digitwise(natural[-m:], offset, 1)
    return hmac.compare_digest(expected, pin[-m:])


def visa_tsp(pan: str, pvki: str, pin: str) -> str:
    """The 16-digit transformed security parameter of the Visa PVV."""
    if not is_digits(pan) or not 12 <= len(pan) <= 19:
        raise ValueError("PAN must be 12 to 19 decimal digits")
    if len(pvki) != 1 or not is_digits(pvki):
        raise ValueError("PVKI must be one decimal digit")
    _check_pin(pin, 4, 12)
    return pan[:-1][-11:] + pvki + pin[:4]


def visa_pvv(pvk: bytes, pan: str, pvki: str, pin: str) -> str:
    """The 4-digit Visa PIN verification value."""
    check_tdes_key(pvk, "PVK")
    enciphered = tdes_ecb(pvk, bytes.fromhex(visa_tsp(pan, pvki, pin)))
    return decimalise_scan(enciphered.hex(), 4)


def visa_pvv_verify(pvk: bytes, pan: str, pvki: str, pin: str, pvv: str) -> bool:
    """True when ``pvv`` is the PVV of this PAN, PVKI and PIN."""
    if len(pvv) != 4 or not is_digits(pvv):
        raise ValueError("PVV must be 4 decimal digits")
    return hmac.compare_digest(visa_pvv(pvk, pan, pvki, pin), pvv)
