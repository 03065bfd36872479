"""Card verification values: CW generate a CVV/CVV2/iCVV → CX, CY verify → CZ.

CW: CVK, PAN (up to 19 N), ``;``, expiry (4 N, as the issuer uses it: YYMM
on the track), service code (3 N; 000 for CVV2, 999 for iCVV).
CY: CVK, CVV (3 N), then the same fields.  Error 01 when the CVV is wrong.
"""

from __future__ import annotations

from hsm_sim import errors as errs
from hsm_sim.commands._base import Context, Handler, Key, Reader
from hsm_sim.crypto import cvv
from hsm_sim.errors import HsmError


def _card_fields(r: Reader) -> tuple[str, str, str]:
    pan = r.until(";", "PAN")
    if not pan.isdigit() or not 12 <= len(pan) <= 19:
        raise HsmError(errs.INVALID_INPUT, reason="PAN must be 12 to 19 digits")
    expiry = r.digits(4, "expiry date")
    service_code = r.digits(3, "service code")
    r.end()
    return pan, expiry, service_code


def _cvk(r: Reader, modes: str) -> Key:
    key = r.key("CVK", ("C0",), modes, "T")
    if len(key.value) != 16:
        raise HsmError(errs.INCOMPATIBLE_KEY_LENGTH, reason="CVK must be double length")
    return key


def cw(ctx: Context, r: Reader) -> str:
    key = _cvk(r, "CGN")
    pan, expiry, service_code = _card_fields(r)
    return cvv.cvv(key.value, pan, expiry, service_code)


def cy(ctx: Context, r: Reader) -> str:
    key = _cvk(r, "CVN")
    value = r.digits(3, "CVV")
    pan, expiry, service_code = _card_fields(r)
    if not cvv.verify(key.value, pan, expiry, service_code, value):
        raise HsmError(errs.VERIFICATION_FAILURE, reason="CVV does not verify")
    return ""


COMMANDS: dict[str, Handler] = {"CW": cw, "CY": cy}
