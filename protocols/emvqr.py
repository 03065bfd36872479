"""EMVCo Merchant-Presented Mode QR payloads (EMV QRCPS-MPM v1.1).

A payload is a string of data objects, each ``ID`` (2 digits) + ``length``
(2 digits, counted in characters) + value.  Some IDs hold templates: their
value is again a string of data objects.  ID "63" is the CRC-16/CCITT-FALSE
of the UTF-8 bytes of everything before its 4 hex digits.

Data model: an *object list* is a list of ``(id, value)`` pairs in payload
order, where value is a ``str`` (primitive) or an object list (template).
Order is kept so that ``encode(decode(p).objects) == p`` byte for byte.

Layers, so callers choose their strictness:
- ``parse(text)``: syntax only (IDs, lengths, templates) -> Payload;
- ``decode(text)``: parse + CRC check + EMVCo conformance (``problems``);
- ``encode(objects)``: object list -> payload with a freshly computed CRC.
"""

from protocols.crc16 import crc16_hex
from protocols.errors import DecodeError, EncodeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Union

    Value = Union[str, "list[tuple[str, Value]]"]
    Objects = list[tuple[str, Value]]
    SpecRow = tuple[str, str, str, "str | None", str, int, int, str]
    Problems = list[tuple[str, str]]

MAX_VALUE_LENGTH = 99
CRC_ID = "63"
CRC_HEADER = "6304"

# Where a template sits decides how its children are named and checked.
ROOT = "root"
ACCOUNT = "account"  # 26-51: merchant account information template
ADDITIONAL = "additional"  # 62
LANGUAGE = "language"  # 64
UNRESERVED = "unreserved"  # 80-99
SYSTEM = "system"  # 62 / 50-99: payment system specific template

# Value formats: "N" digits, "ans" EMVCo common character set (printable
# ASCII), "S" any character, plus the few that carry their own rule.
# Each row: first ID, last ID, name, template context (None = primitive),
# format, min length, max length, presence ("M" mandatory, "O" optional).
ROOT_SPEC = (
    ("00", "00", "Payload Format Indicator", None, "N", 2, 2, "M"),
    ("01", "01", "Point of Initiation Method", None, "N", 2, 2, "O"),
    ("02", "03", "Merchant Account Information (Visa)", None, "ans", 1, 99, "O"),
    ("04", "05", "Merchant Account Information (Mastercard)", None, "ans", 1, 99, "O"),
    ("06", "08", "Merchant Account Information (EMVCo reserved)", None, "ans", 1, 99, "O"),
    ("09", "10", "Merchant Account Information (Discover)", None, "ans", 1, 99, "O"),
    ("11", "12", "Merchant Account Information (Amex)", None, "ans", 1, 99, "O"),
    ("13", "14", "Merchant Account Information (JCB)", None, "ans", 1, 99, "O"),
    ("15", "16", "Merchant Account Information (UnionPay)", None, "ans", 1, 99, "O"),
    ("17", "25", "Merchant Account Information (EMVCo reserved)", None, "ans", 1, 99, "O"),
    ("26", "51", "Merchant Account Information", ACCOUNT, "S", 1, 99, "O"),
    ("52", "52", "Merchant Category Code", None, "N", 4, 4, "M"),
    ("53", "53", "Transaction Currency", None, "N", 3, 3, "M"),
    ("54", "54", "Transaction Amount", None, "amount", 1, 13, "O"),
    ("55", "55", "Tip or Convenience Indicator", None, "N", 2, 2, "O"),
    ("56", "56", "Value of Convenience Fee Fixed", None, "amount", 1, 13, "O"),
    ("57", "57", "Value of Convenience Fee Percentage", None, "percent", 1, 5, "O"),
    ("58", "58", "Country Code", None, "alpha", 2, 2, "M"),
    ("59", "59", "Merchant Name", None, "ans", 1, 25, "M"),
    ("60", "60", "Merchant City", None, "ans", 1, 15, "M"),
    ("61", "61", "Postal Code", None, "ans", 1, 10, "O"),
    ("62", "62", "Additional Data Field Template", ADDITIONAL, "S", 1, 99, "O"),
    ("63", "63", "CRC", None, "hex", 4, 4, "M"),
    ("64", "64", "Merchant Information - Language Template", LANGUAGE, "S", 1, 99, "O"),
    ("65", "79", "RFU for EMVCo", None, "S", 1, 99, "O"),
    ("80", "99", "Unreserved Template", UNRESERVED, "S", 1, 99, "O"),
)

ADDITIONAL_SPEC = (
    ("00", "00", "RFU for EMVCo", None, "S", 1, 99, "O"),
    ("01", "01", "Bill Number", None, "ans", 1, 25, "O"),
    ("02", "02", "Mobile Number", None, "ans", 1, 25, "O"),
    ("03", "03", "Store Label", None, "ans", 1, 25, "O"),
    ("04", "04", "Loyalty Number", None, "ans", 1, 25, "O"),
    ("05", "05", "Reference Label", None, "ans", 1, 25, "O"),
    ("06", "06", "Customer Label", None, "ans", 1, 25, "O"),
    ("07", "07", "Terminal Label", None, "ans", 1, 25, "O"),
    ("08", "08", "Purpose of Transaction", None, "ans", 1, 25, "O"),
    ("09", "09", "Additional Consumer Data Request", None, "request", 1, 3, "O"),
    ("10", "10", "Merchant Tax ID", None, "ans", 1, 20, "O"),
    ("11", "11", "Merchant Channel", None, "ans", 3, 3, "O"),
    ("12", "49", "RFU for EMVCo", None, "S", 1, 99, "O"),
    ("50", "99", "Payment System Specific Template", SYSTEM, "S", 1, 99, "O"),
)

LANGUAGE_SPEC = (
    ("00", "00", "Language Preference", None, "alpha", 2, 2, "M"),
    ("01", "01", "Merchant Name - Alternate Language", None, "S", 1, 25, "M"),
    ("02", "02", "Merchant City - Alternate Language", None, "S", 1, 15, "O"),
    ("03", "99", "RFU for EMVCo", None, "S", 1, 99, "O"),
)


def _guid_spec(other_name: str) -> "tuple[SpecRow, ...]":
    # Templates 26-51, 80-99 and 62/50-99 share one shape: 00 is a
    # Globally Unique Identifier, the rest belong to whoever owns it.
    return (
        ("00", "00", "Globally Unique Identifier", None, "ans", 1, 32, "M"),
        ("01", "99", other_name, None, "S", 1, 99, "O"),
    )


SPECS = (
    (ROOT, ROOT_SPEC),
    (ACCOUNT, _guid_spec("Payment Network Specific")),
    (ADDITIONAL, ADDITIONAL_SPEC),
    (LANGUAGE, LANGUAGE_SPEC),
    (UNRESERVED, _guid_spec("Context Specific Data")),
    (SYSTEM, _guid_spec("Payment System Specific")),
)

# ISO 4217 minor units that differ from the usual 2, by numeric code: they
# bound the decimals of 54/56.  Source: ISO 4217 list one (SIX, 2024).
MINOR_UNITS = (
    # zero decimals
    ("108", 0), ("152", 0), ("262", 0), ("324", 0), ("352", 0), ("392", 0),
    ("174", 0), ("410", 0), ("600", 0), ("646", 0), ("800", 0), ("940", 0),
    ("704", 0), ("548", 0), ("950", 0), ("952", 0), ("953", 0),
    # three decimals
    ("048", 3), ("368", 3), ("400", 3), ("414", 3), ("434", 3), ("512", 3),
    ("788", 3),
    # four decimals
    ("990", 4), ("927", 4),
)  # fmt: skip


def _spec_table(context: str) -> "tuple[SpecRow, ...]":
    for name, table in SPECS:
        if name == context:
            return table
    raise ValueError("unknown context " + context)


def _spec_row(context: str, tag: str) -> "SpecRow":
    # IDs are two digits, so string comparison orders them numerically.
    for row in _spec_table(context):
        if row[0] <= tag <= row[1]:
            return row
    raise ValueError("no row for " + tag)


def name_of(tag: str, context: str = ROOT) -> str:
    """Spec name of data object ``tag`` inside ``context`` (ROOT, ACCOUNT...)."""
    return str(_spec_row(context, tag)[2])


def child_context(tag: str, context: str = ROOT) -> "str | None":
    """Template context of ``tag`` inside ``context``; None for a primitive."""
    found = _spec_row(context, tag)[3]
    return None if found is None else str(found)


def minor_unit(currency: str) -> int:
    """Decimals of an ISO 4217 numeric currency code (2 when not listed)."""
    for code, digits in MINOR_UNITS:
        if code == currency:
            return digits
    return 2


def _is_digits(text: str) -> bool:
    # str.isdigit also accepts non-ASCII digits (Arabic-Indic, ...).
    if not text:
        return False
    return all("0" <= ch <= "9" for ch in text)


def _is_common_charset(text: str) -> bool:
    return all(" " <= ch <= "~" for ch in text)


def _is_upper_hex(text: str) -> bool:
    return all("0" <= ch <= "9" or "A" <= ch <= "F" for ch in text)


def _is_letters(text: str) -> bool:
    return all("A" <= ch <= "Z" or "a" <= ch <= "z" for ch in text)


def split_amount(text: str) -> "tuple[str, str] | None":
    """Integer and fraction digits of an EMVCo amount, or None if malformed.

    Digits with at most one '.', which may end the value ("5." is allowed)
    but not start it.
    """
    whole, _, fraction = text.partition(".")
    if not _is_digits(whole):
        return None
    if fraction and not _is_digits(fraction):
        return None
    return whole, fraction


def _is_zero(whole: str, fraction: str) -> bool:
    return (whole + fraction).strip("0") == ""


class Payload:
    """A decoded payload: ``objects`` in payload order, plus accessors."""

    def __init__(self, objects: "Objects", text: "str | None" = None) -> None:
        self.objects = objects
        self.text = text if text is not None else encode(objects)

    def get(self, path: str) -> "Value | None":
        """Value at ``"54"`` or ``"62.05"`` (first occurrence), else None."""
        value: "Value | None" = self.objects
        for tag in path.split("."):
            if not isinstance(value, list):
                return None
            value = find(value, tag)
        return value

    def merchant_accounts(self) -> "Objects":
        """Merchant account information objects 02-51, in payload order."""
        return [(t, v) for t, v in self.objects if "02" <= t <= "51"]

    def additional_data(self) -> "Objects | None":
        return _template(self.objects, "62")

    def language_template(self) -> "Objects | None":
        return _template(self.objects, "64")

    def template_with_guid(self, guid: str) -> "tuple[str, Objects] | None":
        """First template 26-51 or 80-99 whose 00 equals guid (any case)."""
        wanted = guid.upper()
        for tag, value in self.objects:
            if isinstance(value, list) and ("26" <= tag <= "51" or tag >= "80"):
                found = find(value, "00")
                if isinstance(found, str) and found.upper() == wanted:
                    return tag, value
        return None

    def is_dynamic(self) -> bool:
        return self.get("01") == "12"

    @property
    def crc(self) -> str:
        """The CRC as carried in the payload (ID 63)."""
        return self.text[-4:]

    def computed_crc(self) -> str:
        try:
            data = self.text[:-4].encode("utf-8")
        except UnicodeError:  # CPython str can hold lone surrogates
            raise DecodeError("payload is not encodable as UTF-8", tag=CRC_ID)
        return crc16_hex(data)

    def crc_ok(self) -> bool:
        return self.crc == self.computed_crc()

    def encode(self) -> str:
        """The payload rebuilt from ``objects`` with a freshly computed CRC."""
        return encode(self.objects)


def find(objects: "Objects", tag: str) -> "Value | None":
    """Value of the first object with ID ``tag`` in an object list."""
    for t, v in objects:
        if t == tag:
            return v
    return None


def _template(objects: "Objects", tag: str) -> "Objects | None":
    value = find(objects, tag)
    return value if isinstance(value, list) else None


# ---------------------------------------------------------------- decoding


def _parse_level(text: str, base: int, context: str, prefix: str) -> "Objects":
    objects: Objects = []
    pos = 0
    end = len(text)
    while pos < end:
        if end - pos < 4:
            raise DecodeError("truncated data object header", offset=base + pos)
        tag = text[pos : pos + 2]
        length_text = text[pos + 2 : pos + 4]
        if not _is_digits(tag) or len(tag) != 2:
            raise DecodeError("ID is not 2 digits: %r" % tag, offset=base + pos)
        if not _is_digits(length_text) or len(length_text) != 2:
            raise DecodeError(
                "length is not 2 digits: %r" % length_text, offset=base + pos, tag=prefix + tag
            )
        length = int(length_text)
        start = pos + 4
        if start + length > end:
            raise DecodeError(
                "value of %d characters runs past the end" % length,
                offset=base + pos,
                tag=prefix + tag,
            )
        value_text = text[start : start + length]
        inner = child_context(tag, context)
        if inner is not None:
            # Templates nest at most two deep (62 -> 50..99): the spec
            # tables end there, so recursion is bounded.
            value: Value = _parse_level(value_text, base + start, inner, prefix + tag + ".")
        else:
            value = value_text
        objects.append((tag, value))
        pos = start + length  # always advances by at least 4
    return objects


def _as_text(payload: "str | bytes") -> str:
    if isinstance(payload, str):
        return payload
    try:
        return bytes(payload).decode("utf-8")
    except (UnicodeError, TypeError, ValueError):
        raise DecodeError("payload is not UTF-8 text")


def parse(payload: "str | bytes") -> Payload:
    """Syntax only: split into objects and templates; 63 must close it.

    The CRC is not checked and the EMVCo rules are not applied.
    """
    text = _as_text(payload)
    objects = _parse_level(text, 0, ROOT, "")
    if not objects:
        raise DecodeError("empty payload", offset=0)
    last_tag, last_value = objects[-1]
    if last_tag != CRC_ID or not isinstance(last_value, str) or len(last_value) != 4:
        raise DecodeError("payload must end with the CRC object 6304XXXX", offset=len(text))
    return Payload(objects, text)


def check_crc(payload: Payload) -> None:
    """Raise DecodeError unless the carried CRC equals the computed one."""
    found = payload.crc
    expected = payload.computed_crc()
    if found != expected:
        raise DecodeError(
            "CRC mismatch: payload carries %r, computed %s" % (found, expected),
            offset=len(payload.text) - 4,
            tag=CRC_ID,
        )


def decode(payload: "str | bytes", verify_crc: bool = True, strict: bool = True) -> Payload:
    """Decode and check a payload.

    verify_crc: a missing or wrong CRC raises DecodeError.
    strict: any EMVCo conformance problem (see ``problems``) raises
    DecodeError naming the object (tag ``"62.05"`` style).
    """
    decoded = parse(payload)
    if verify_crc:
        check_crc(decoded)
    if strict:
        found = problems(decoded)
        if found:
            path, reason = found[0]
            raise DecodeError(reason, tag=path)
    return decoded


# ------------------------------------------------------------- conformance


def problems(payload: "Payload | Objects") -> "list[tuple[str, str]]":
    """Every EMVCo MPM rule the payload breaks, as (path, reason) pairs.

    An empty list means the payload conforms (CRC value aside: see
    ``check_crc``).  Paths look like ``"54"`` or ``"62.05"``.
    """
    objects = payload.objects if isinstance(payload, Payload) else payload
    found: Problems = []
    _check_level(objects, ROOT, "", found)
    _check_root(objects, found)
    return found


def _check_level(objects: "Objects", context: str, prefix: str, found: "Problems") -> None:
    seen: list[str] = []
    for tag, value in objects:
        path = prefix + tag
        if tag in seen:
            found.append((path, "ID appears more than once"))
        else:
            seen.append(tag)  # at most 100 IDs, so the lookups stay cheap
        row = _spec_row(context, tag)
        inner, fmt, min_len, max_len = row[3], row[4], row[5], row[6]
        if isinstance(value, list):
            if inner is None:
                found.append((path, "a primitive object holds a template"))
                continue
            if not value:
                found.append((path, "template is empty"))
            _check_level(value, inner, path + ".", found)
            continue
        if inner is not None:
            found.append((path, "this ID holds a template, not a string"))
            continue
        size = len(value)
        if size < min_len or size > max_len:
            if min_len == max_len:
                want = "%d characters" % min_len
            else:
                want = "%d to %d characters" % (min_len, max_len)
            found.append((path, "length %d, must be %s" % (size, want)))
        reason = _format_problem(fmt, value)
        if reason:
            found.append((path, reason))
    for row in _spec_table(context):
        if row[7] == "M" and find(objects, row[0]) is None:
            found.append((prefix + row[0], row[2] + " is missing"))


def _format_problem(fmt: str, value: str) -> "str | None":
    if fmt == "N":
        return None if _is_digits(value) else "must be digits"
    if fmt in ("ans", "amount", "percent", "request") and not _is_common_charset(value):
        return "must use the EMVCo common character set (printable ASCII)"
    if fmt == "alpha":
        return None if _is_letters(value) else "must be letters A-Z"
    if fmt == "hex":
        return None if _is_upper_hex(value) else "must be 4 upper-case hex digits"
    if fmt in ("amount", "percent"):
        parts = split_amount(value)
        if parts is None:
            return "must be digits with at most one '.' decimal mark"
        if fmt == "percent":
            fraction = parts[1]
            if len(fraction) > 2 or len(parts[0]) > 2 or _is_zero(parts[0], fraction):
                return "percentage must lie between 00.01 and 99.99"
    if fmt == "request":
        for i in range(len(value)):
            if value[i] not in "AME" or value[i] in value[:i]:
                return "consumer data request takes each of A, M, E at most once"
    return None


def _check_root(objects: "Objects", found: "Problems") -> None:
    if not objects or objects[0][0] != "00":
        found.append(("00", "Payload Format Indicator must be the first object"))
    if find(objects, "00") not in (None, "01"):
        found.append(("00", "Payload Format Indicator must be '01'"))
    if find(objects, CRC_ID) is not None and objects[-1][0] != CRC_ID:
        found.append((CRC_ID, "CRC must be the last object"))
    method = find(objects, "01")
    if method is not None and method not in ("11", "12"):
        found.append(("01", "Point of Initiation Method must be '11' (static) or '12' (dynamic)"))
    if not [t for t, _ in objects if "02" <= t <= "51"]:
        found.append(("02-51", "at least one Merchant Account Information object is required"))
    _check_amounts(objects, found)
    _check_convenience_fee(objects, found)


def _check_amounts(objects: "Objects", found: "Problems") -> None:
    currency = find(objects, "53")
    decimals = minor_unit(currency) if isinstance(currency, str) else 2
    for tag in ("54", "56"):
        value = find(objects, tag)
        if not isinstance(value, str):
            continue
        parts = split_amount(value)
        if parts is None:
            continue  # already reported by the format check
        if len(parts[1]) > decimals:
            found.append((tag, "more decimals than the currency's %d" % decimals))
        if tag == "54" and _is_zero(parts[0], parts[1]):
            found.append((tag, "Transaction Amount must not be zero"))


def _check_convenience_fee(objects: "Objects", found: "Problems") -> None:
    indicator = find(objects, "55")
    if indicator is not None and indicator not in ("01", "02", "03"):
        found.append(("55", "Tip or Convenience Indicator must be 01, 02 or 03"))
    fixed = find(objects, "56") is not None
    percent = find(objects, "57") is not None
    if indicator == "02" and not fixed:
        found.append(("56", "indicator 02 requires a fixed convenience fee (56)"))
    if indicator == "03" and not percent:
        found.append(("57", "indicator 03 requires a percentage convenience fee (57)"))
    if fixed and indicator != "02":
        found.append(("56", "fixed convenience fee is allowed only with indicator 02"))
    if percent and indicator != "03":
        found.append(("57", "percentage convenience fee is allowed only with indicator 03"))


# ---------------------------------------------------------------- encoding


def _encode_level(objects: "Objects", context: str, prefix: str) -> str:
    if not isinstance(objects, (list, tuple)):
        raise EncodeError("expected a list of (id, value) pairs", field=prefix or None)
    parts = []
    for entry in objects:
        if not isinstance(entry, (list, tuple)) or len(entry) != 2:
            raise EncodeError("each object must be an (id, value) pair", field=prefix or None)
        tag, value = entry
        if not isinstance(tag, str) or len(tag) != 2 or not _is_digits(tag):
            raise EncodeError("ID must be 2 digits, got %r" % (tag,), field=prefix or None)
        path = prefix + tag
        inner = child_context(tag, context)
        if inner is not None:
            if not isinstance(value, (list, tuple)):
                raise EncodeError("this ID holds a template: give a list of objects", tag=path)
            text = _encode_level(value, inner, path + ".")
        elif isinstance(value, str):
            text = value
        else:
            raise EncodeError("this ID holds a primitive: give a string", tag=path)
        if len(text) > MAX_VALUE_LENGTH:
            raise EncodeError("value is %d characters, at most 99" % len(text), tag=path)
        parts.append("%s%02d%s" % (tag, len(text), text))
    return "".join(parts)


def _is_crc_entry(entry: object) -> bool:
    return isinstance(entry, (list, tuple)) and len(entry) == 2 and entry[0] == CRC_ID


def encode(objects: "Objects | Payload") -> str:
    """Build the payload from an object list; the CRC is always computed.

    A trailing ("63", ...) object is allowed (as ``decode`` returns one) and
    its value is replaced by the computed CRC; a 63 elsewhere is an error.
    """
    if isinstance(objects, Payload):
        objects = objects.objects
    if not isinstance(objects, (list, tuple)):
        raise EncodeError("expected a list of (id, value) pairs")
    body_objects = list(objects)
    if body_objects and _is_crc_entry(body_objects[-1]):
        body_objects.pop()
    for entry in body_objects:
        if _is_crc_entry(entry):
            raise EncodeError("the CRC (63) can only be the last object", tag=CRC_ID)
    body = _encode_level(body_objects, ROOT, "") + CRC_HEADER
    return body + crc16_hex(body.encode("utf-8"))
