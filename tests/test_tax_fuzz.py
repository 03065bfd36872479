"""Arbitrary input to the tax backend's endpoints, signed by a registered
device or sent with the admin token: always a typed 4xx (or a success for
input that happens to be valid), never a 5xx, and the server keeps
serving."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tax_support import Backend, backend

from tools.fiscal_softsign import SoftSigner

DEV = "PT-FUZZ-01"
SIGNER = SoftSigner(21)
CODES = {
    "invalid_request",
    "bad_base64",
    "bad_record",
    "bad_export",
    "malformed_xml",
    "not_ubl_invoice",
    "schema_invalid",
    "bad_public_key",
    "bad_certificate",
    "not_found",
    "unknown_device",
}


@pytest.fixture(scope="module")
def be(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    for b in backend(tmp_path_factory.mktemp("taxfuzz")):
        assert b.client.register(DEV, SIGNER.public_pem().decode()).status == 201
        yield b


def _typed(status: int, body: bytes) -> None:
    assert status < 500, body
    if status >= 400:
        err = json.loads(body)["error"]
        assert err["code"] in CODES and err["message"], err


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=150)
@given(
    body=st.one_of(
        st.binary(max_size=300),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.lists(st.binary(max_size=120), min_size=1, max_size=4).map(
            lambda rs: json.dumps({"records": [base64.b64encode(r).decode() for r in rs]}).encode()
        ),
        st.lists(st.text(max_size=30), min_size=1, max_size=3).map(
            lambda rs: json.dumps({"records": rs}).encode()
        ),
    ),
    path=st.sampled_from(["records", "invoices", "export"]),
)
def test_device_endpoints_never_fail_server_side(be: Backend, body: bytes, path: str) -> None:
    r = be.client.signed("POST", f"/v1/devices/{DEV}/{path}", body, DEV, SIGNER)
    _typed(r.status, r.body)


@settings(max_examples=100)
@given(
    xml=st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200).map(lambda t: f"<Invoice>{t}</Invoice>".encode()),
        st.text(alphabet=st.sampled_from(list("<>/=\"' abcInvoice:xmlns&;!-[]")), max_size=120).map(
            str.encode
        ),
    )
)
def test_invoice_xml_never_fails_server_side(be: Backend, xml: bytes) -> None:
    body = json.dumps({"invoice": base64.b64encode(xml).decode()}).encode()
    r = be.client.signed("POST", f"/v1/devices/{DEV}/invoices", body, DEV, SIGNER)
    assert r.status in (400, 422), r
    _typed(r.status, r.body)


@settings(max_examples=100)
@given(obj=json_values)
def test_registration_input_never_fails_server_side(be: Backend, obj: object) -> None:
    r = be.client.admin("POST", "/v1/devices", obj)
    _typed(r.status, r.body)
    assert be.client.request("GET", "/v1/health").status == 200


def test_still_serving(be: Backend) -> None:
    assert be.client.request("GET", "/v1/health").status == 200
    assert be.client.device(DEV).json()["records"] == 0
