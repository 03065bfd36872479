"""CliQ profile of the EMVCo merchant-presented QR (Jordan instant payments).

JoPACC's own QR profile is not public, so the layout below is this
project's stated ASSUMPTION (docs/qr.md, "CliQ profile"):

- merchant account information template ``26`` (found by GUID when
  parsing, so any ID 26-51 is accepted) holding
  ``00`` GUID ``COM.JOPACC.CLIQ`` (reverse domain of jopacc.com),
  ``01`` alias type ``ALIAS`` / ``MOBILE`` / ``IBAN``, ``02`` the alias,
  ``03`` beneficiary bank BIC (optional);
- ``53`` = ``400`` (JOD, three decimals), ``58`` = ``JO``;
- static (``01`` = ``11``): no amount; dynamic (``01`` = ``12``): amount
  ``54`` and a payment reference in ``62``/``05`` (reference label) or
  ``62``/``01`` (bill number), optional purpose in ``62``/``08``;
- Arabic merchant name and city in template ``64`` (``00`` = ``AR``);
  ``59``/``60`` stay in the EMVCo common (ASCII) character set.
"""

from protocols import emvqr
from protocols.errors import DecodeError, EncodeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from protocols.emvqr import Objects

TEMPLATE_ID = "26"
GUID = "COM.JOPACC.CLIQ"
SUB_ALIAS_TYPE = "01"
SUB_ALIAS = "02"
SUB_BIC = "03"
ALIAS_TYPES = ("ALIAS", "MOBILE", "IBAN")
CURRENCY_JOD = "400"
COUNTRY_JO = "JO"
ALIAS_MAX_LENGTH = 10  # assumed CliQ alias rule: 1-10 of A-Z, 0-9
IBAN_JO_LENGTH = 30  # SWIFT IBAN registry: JO, 30 characters


def _is_upper_alnum(text: str) -> bool:
    return bool(text) and all("A" <= ch <= "Z" or "0" <= ch <= "9" for ch in text)


def _is_digits(text: str) -> bool:
    return bool(text) and all("0" <= ch <= "9" for ch in text)


def _is_upper_letters(text: str) -> bool:
    return bool(text) and all("A" <= ch <= "Z" for ch in text)


def iban_ok(iban: str) -> bool:
    """ISO 13616 check: a Jordanian IBAN whose mod-97 remainder is 1."""
    if len(iban) != IBAN_JO_LENGTH or iban[:2] != COUNTRY_JO or not _is_upper_alnum(iban):
        return False
    if not _is_digits(iban[2:4]):
        return False
    remainder = 0
    for ch in iban[4:] + iban[:4]:
        # Letters count as two digits (A=10 .. Z=35); fold digit by digit so
        # no big integers are needed on the device.
        digits = str(ord(ch) - 55) if "A" <= ch <= "Z" else ch
        for d in digits:
            remainder = (remainder * 10 + ord(d) - 48) % 97
    return remainder == 1


def bic_ok(bic: str) -> bool:
    """ISO 9362 shape of a Jordanian BIC: 4 letters, JO, 2 (+3) alphanumerics."""
    if len(bic) not in (8, 11):
        return False
    return _is_upper_letters(bic[:4]) and bic[4:6] == COUNTRY_JO and _is_upper_alnum(bic[6:])


def alias_problem(alias_type: str, alias: str) -> "str | None":
    """Why alias is not a valid alias of alias_type, or None."""
    if alias_type == "ALIAS":
        if not _is_upper_alnum(alias) or len(alias) > ALIAS_MAX_LENGTH:
            return "alias must be 1 to 10 characters A-Z, 0-9"
    elif alias_type == "MOBILE":
        # International form 00962 7X XXXXXXX (Jordanian mobile ranges 77/78/79).
        if len(alias) != 14 or alias[:6] != "009627" or not _is_digits(alias):
            return "mobile alias must be 00962 followed by 9 digits starting with 7"
        if alias[6] not in "789":
            return "mobile alias must be in a 77/78/79 range"
    elif alias_type == "IBAN":
        if not iban_ok(alias):
            return "IBAN alias must be a valid 30-character JO IBAN"
    else:
        return "alias type must be one of ALIAS, MOBILE, IBAN"
    return None


class CliqQr:
    """A parsed CliQ QR: the profile's fields plus the full ``payload``."""

    def __init__(self, payload: "emvqr.Payload", template_id: str, account: "Objects") -> None:
        self.payload = payload
        self.template_id = template_id
        self.alias_type = _text(emvqr.find(account, SUB_ALIAS_TYPE))
        self.alias = _text(emvqr.find(account, SUB_ALIAS))
        self.bic = _text(emvqr.find(account, SUB_BIC))
        self.dynamic = payload.is_dynamic()
        self.amount = _text(payload.get("54"))
        self.merchant_name = _text(payload.get("59"))
        self.merchant_city = _text(payload.get("60"))
        self.mcc = _text(payload.get("52"))
        self.postal_code = _text(payload.get("61"))
        self.bill_number = _text(payload.get("62.01"))
        self.reference = _text(payload.get("62.05"))
        self.purpose = _text(payload.get("62.08"))
        self.terminal_label = _text(payload.get("62.07"))
        self.language = _text(payload.get("64.00"))
        self.name_ar = _text(payload.get("64.01"))
        self.city_ar = _text(payload.get("64.02"))


def _text(value: "emvqr.Value | None") -> "str | None":
    return value if isinstance(value, str) else None


def profile_problems(payload: "emvqr.Payload") -> "list[tuple[str, str]]":
    """Every CliQ profile rule the (EMVCo-valid) payload breaks."""
    found: list[tuple[str, str]] = []
    located = _cliq_template(payload)
    if located is None:
        return [(TEMPLATE_ID, "no merchant account template with GUID " + GUID)]
    tag, account = located
    alias_type = _text(emvqr.find(account, SUB_ALIAS_TYPE))
    alias = _text(emvqr.find(account, SUB_ALIAS))
    bic = _text(emvqr.find(account, SUB_BIC))
    if alias_type is None or alias is None:
        found.append((tag, "CliQ template needs alias type (01) and alias (02)"))
    else:
        reason = alias_problem(alias_type, alias)
        if reason:
            found.append((tag + "." + SUB_ALIAS, reason))
    if bic is not None:
        if not bic_ok(bic):
            found.append((tag + "." + SUB_BIC, "BIC must be 8 or 11 characters, country JO"))
        elif alias_type == "IBAN" and alias is not None and alias[4:8] != bic[:4]:
            found.append((tag + "." + SUB_BIC, "BIC bank code does not match the IBAN's"))
    if payload.get("53") != CURRENCY_JOD:
        found.append(("53", "CliQ QR must be in JOD (400)"))
    if payload.get("58") != COUNTRY_JO:
        found.append(("58", "CliQ QR must have country JO"))
    method = payload.get("01")
    has_amount = payload.get("54") is not None
    if method == "12":
        if not has_amount:
            found.append(("54", "a dynamic CliQ QR carries the amount"))
        if payload.get("62.05") is None and payload.get("62.01") is None:
            found.append(("62", "a dynamic CliQ QR carries a reference (62.05 or 62.01)"))
    elif method == "11":
        if has_amount:
            found.append(("54", "a static CliQ QR carries no amount"))
    else:
        found.append(("01", "CliQ QR states static (11) or dynamic (12)"))
    return found


def _cliq_template(payload: "emvqr.Payload") -> "tuple[str, Objects] | None":
    located = payload.template_with_guid(GUID)
    if located is None or not ("26" <= located[0] <= "51"):
        return None
    return located


def parse_cliq(payload: "str | bytes", verify_crc: bool = True) -> CliqQr:
    """Decode a CliQ QR; DecodeError on any EMVCo or profile violation."""
    decoded = emvqr.decode(payload, verify_crc=verify_crc, strict=True)
    found = profile_problems(decoded)
    if found:
        raise DecodeError(found[0][1], tag=found[0][0])
    located = _cliq_template(decoded)
    if located is None:  # profile_problems already reported it
        raise DecodeError("no CliQ template", tag=TEMPLATE_ID)
    return CliqQr(decoded, located[0], located[1])


def _root_objects(
    method: str,
    alias_type: str,
    alias: str,
    merchant_name: str,
    merchant_city: str,
    mcc: str,
    bic: "str | None",
    amount: "str | None",
) -> "Objects":
    account: Objects = [("00", GUID), (SUB_ALIAS_TYPE, alias_type), (SUB_ALIAS, alias)]
    if bic is not None:
        account.append((SUB_BIC, bic))
    objects: Objects = [("00", "01"), ("01", method), (TEMPLATE_ID, account), ("52", mcc)]
    objects.append(("53", CURRENCY_JOD))
    if amount is not None:
        objects.append(("54", amount))
    objects.append(("58", COUNTRY_JO))
    objects.append(("59", merchant_name))
    objects.append(("60", merchant_city))
    return objects


def _finish(
    objects: "Objects",
    postal_code: "str | None",
    additional: "Objects",
    name_ar: "str | None",
    city_ar: "str | None",
) -> str:
    if postal_code is not None:
        objects.append(("61", postal_code))
    if additional:
        objects.append(("62", additional))
    if name_ar is not None:
        language: Objects = [("00", "AR"), ("01", name_ar)]
        if city_ar is not None:
            language.append(("02", city_ar))
        objects.append(("64", language))
    elif city_ar is not None:
        raise EncodeError("an Arabic city needs the Arabic name too", field="city_ar")
    text = emvqr.encode(objects)
    # Build, then check with the same rules the parser applies.
    decoded = emvqr.parse(text)
    found = emvqr.problems(decoded) + profile_problems(decoded)
    if found:
        raise EncodeError(found[0][1], tag=found[0][0])
    return text


def cliq_static(
    alias_type: str,
    alias: str,
    merchant_name: str,
    merchant_city: str,
    mcc: str,
    bic: "str | None" = None,
    postal_code: "str | None" = None,
    name_ar: "str | None" = None,
    city_ar: "str | None" = None,
    store_label: "str | None" = None,
    terminal_label: "str | None" = None,
) -> str:
    """Static CliQ QR (payer enters the amount); EncodeError if invalid."""
    objects = _root_objects("11", alias_type, alias, merchant_name, merchant_city, mcc, bic, None)
    additional: Objects = []
    if store_label is not None:
        additional.append(("03", store_label))
    if terminal_label is not None:
        additional.append(("07", terminal_label))
    return _finish(objects, postal_code, additional, name_ar, city_ar)


def cliq_dynamic(
    alias_type: str,
    alias: str,
    merchant_name: str,
    merchant_city: str,
    mcc: str,
    amount: str,
    reference: "str | None" = None,
    bill_number: "str | None" = None,
    purpose: "str | None" = None,
    bic: "str | None" = None,
    postal_code: "str | None" = None,
    name_ar: "str | None" = None,
    city_ar: "str | None" = None,
    terminal_label: "str | None" = None,
) -> str:
    """Dynamic CliQ QR for one payment of ``amount`` JOD (e.g. "12.500").

    Needs ``reference`` (62/05) or ``bill_number`` (62/01); ``purpose`` goes
    to 62/08.  EncodeError if anything breaks EMVCo or the profile.
    """
    objects = _root_objects("12", alias_type, alias, merchant_name, merchant_city, mcc, bic, amount)
    additional: Objects = []
    if bill_number is not None:
        additional.append(("01", bill_number))
    if reference is not None:
        additional.append(("05", reference))
    if terminal_label is not None:
        additional.append(("07", terminal_label))
    if purpose is not None:
        additional.append(("08", purpose))
    return _finish(objects, postal_code, additional, name_ar, city_ar)
