"""Card verification values: CVV/CVC (magnetic stripe), CVV2/CVC2 (printed,
service code 000) and iCVV (chip track 2 equivalent, service code 999).

The Visa CVV algorithm (the same one Mastercard uses for CVC): concatenate
PAN, expiry and service code, right-pad with zeros to 32 digits, split into
two 8-byte blocks B1, B2; with the double-length CVK = CVK A || CVK B:

    X = DES(CVK A, B1) XOR B2
    Y = TDES(CVK A || CVK B, X)       # E(A) D(B) E(A)

then take the decimal digits of Y left to right, then the letters A–F minus 10,
and keep the first three. The expiry is used as given: YYMM on Visa tracks;
some issuers compute CVV2 over MMYY, so pass what the issuer uses.
"""

from __future__ import annotations

import hmac

from hsm_sim.crypto._cardutil import decimalise_scan, is_digits, tdes_ecb, xor

SERVICE_CODE_CVV2 = "000"
SERVICE_CODE_ICVV = "999"


def _check(cvk: bytes, pan: str, expiry: str, service_code: str) -> None:
    if len(cvk) != 16:
        raise ValueError(f"CVK must be 16 bytes (CVK A || CVK B), got {len(cvk)}")
    if not is_digits(pan) or not 1 <= len(pan) <= 19:
        raise ValueError("PAN must be 1 to 19 decimal digits")
    if len(expiry) != 4 or not is_digits(expiry):
        raise ValueError("expiry must be 4 decimal digits (YYMM)")
    if len(service_code) != 3 or not is_digits(service_code):
        raise ValueError("service code must be 3 decimal digits")


def cvv(cvk: bytes, pan: str, expiry: str, service_code: str) -> str:
    """The 3-digit CVV/CVC for this PAN, expiry (YYMM) and service code."""
    _check(cvk, pan, expiry, service_code)
    data = bytes.fromhex((pan + expiry + service_code).ljust(32, "0"))
    x = xor(tdes_ecb(cvk[:8], data[:8]), data[8:])
    y = tdes_ecb(cvk, x)
    return decimalise_scan(y.hex(), 3)


def cvv2(cvk: bytes, pan: str, expiry: str) -> str:
    """CVV2/CVC2: the CVV with service code 000."""
    return cvv(cvk, pan, expiry, SERVICE_CODE_CVV2)


def icvv(cvk: bytes, pan: str, expiry: str) -> str:
    """iCVV (Visa chip track 2 equivalent): the CVV with service code 999."""
    return cvv(cvk, pan, expiry, SERVICE_CODE_ICVV)


def verify(cvk: bytes, pan: str, expiry: str, service_code: str, value: str) -> bool:
    """True when ``value`` is the CVV for these inputs (constant-time compare)."""
    if len(value) != 3 or not is_digits(value):
        raise ValueError("CVV must be 3 decimal digits")
    return hmac.compare_digest(cvv(cvk, pan, expiry, service_code), value)
