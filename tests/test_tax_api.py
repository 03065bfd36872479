"""The tax backend's HTTP surface: admin token, device request signatures
(missing, forged, replayed), registration with a TSM certificate checked
against a test CA, malformed requests answered with a typed 4xx while the
server keeps serving, and the OpenAPI document."""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tax_support import DEV_A, T0, Backend, backend

from host_sim.tax.app import COUNTER_HEADER, DEVICE_HEADER, SIGNATURE_HEADER
from protocols import fiscal_payload as fp
from protocols import fiscal_record as fr
from tools.fiscal_softsign import SoftSigner


def _ca(name: str, seed: int) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.derive_private_key(0xCA0000 + seed, ec.SECP256R1())
    subj = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subj)
        .issuer_name(subj)
        .public_key(key.public_key())
        .serial_number(seed)
        .not_valid_before(datetime.datetime.fromtimestamp(T0 - 86400, datetime.UTC))
        .not_valid_after(datetime.datetime.fromtimestamp(T0 + 3650 * 86400, datetime.UTC))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _device_cert(
    ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
    pub: ec.EllipticCurvePublicKey,
    dev: str,
    days: int = 365,
) -> str:
    key, ca_cert = ca
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.SERIAL_NUMBER, dev)]))
        .issuer_name(ca_cert.subject)
        .public_key(pub)
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.datetime.fromtimestamp(T0 - 3600, datetime.UTC))
        .not_valid_after(datetime.datetime.fromtimestamp(T0 + days * 86400, datetime.UTC))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


CA = _ca("payterm TEST TSM CA", 1)


@pytest.fixture
def be(tmp_path: Path) -> Iterator[Backend]:
    yield from backend(tmp_path)


@pytest.fixture
def be_ca(tmp_path: Path) -> Iterator[Backend]:
    yield from backend(tmp_path, ca=CA[1])


def _alive(be: Backend) -> None:
    r = be.client.request("GET", "/v1/health")
    assert r.status == 200 and r.json()["status"] == "ok"


def _err(r: object, status: int, code: str) -> dict[str, object]:
    from host_sim.tax.client import Response

    assert isinstance(r, Response)
    assert r.status == status, r
    body = r.json()
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    err: dict[str, object] = body["error"]
    return err


def _record(s: SoftSigner, dev: str = DEV_A) -> bytes:
    """A power-on record 1, as the journal writes it."""
    rec = fr.Record(
        fr.POWER_ON,
        dev,
        1,
        T0,
        fr.ZERO_HASH,
        fr.Counters(),
        fp.encode_event(fp.Event(1, 0, "boot")),
    )
    rec.signature, rec.sig_counter = s.sign(rec.digest())
    return rec.encode()


def test_registration_with_tsm_certificate(be_ca: Backend) -> None:
    s = SoftSigner(1)
    pub = s.key.public_key()
    pem = s.public_pem().decode()
    # the CA is configured: a certificate is required
    _err(be_ca.client.register(DEV_A, pem), 400, "certificate_required")
    # a certificate for another key
    other = SoftSigner(2).key.public_key()
    _err(
        be_ca.client.register(DEV_A, pem, _device_cert(CA, other, DEV_A)),
        400,
        "certificate_key_mismatch",
    )
    # issued by another CA
    rogue = _ca("rogue CA", 2)
    _err(
        be_ca.client.register(DEV_A, pem, _device_cert(rogue, pub, DEV_A)),
        400,
        "certificate_untrusted",
    )
    # expired at the backend's time
    be_ca.clock.now = T0 + 400 * 86400
    _err(
        be_ca.client.register(DEV_A, pem, _device_cert(CA, pub, DEV_A)),
        400,
        "certificate_expired",
    )
    be_ca.clock.now = T0
    _err(be_ca.client.register(DEV_A, pem, "not a certificate"), 400, "bad_certificate")
    # the right one; the SE key may also be given as the raw point in hex
    point = pub.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    ).hex()
    cert = _device_cert(CA, pub, DEV_A)
    r = be_ca.client.register(DEV_A, point, cert)
    assert r.status == 201, r
    assert r.json()["certificate_subject"] == f"2.5.4.5={DEV_A}"
    assert r.json()["public_key"] == pem
    # again: already registered; with another key: conflict
    r = be_ca.client.register(DEV_A, pem, cert)
    assert r.status == 200 and r.json()["status"] == "already_registered"
    other_s = SoftSigner(3)
    _err(
        be_ca.client.register(
            DEV_A,
            other_s.public_pem().decode(),
            _device_cert(CA, other_s.key.public_key(), DEV_A),
        ),
        409,
        "device_conflict",
    )
    assert [e["event"] for e in be_ca.client.admin("GET", "/v1/audit").json()] == [
        "device_registered"
    ]


def test_admin_token_required(be: Backend) -> None:
    s = SoftSigner(1)
    for token in (None, "wrong", be.token + "x"):
        be.client.admin_token = token
        _err(be.client.register(DEV_A, s.public_pem().decode()), 401, "unauthorized")
        _err(be.client.admin("GET", "/v1/alerts"), 401, "unauthorized")
        _err(be.client.admin("GET", "/v1/audit"), 401, "unauthorized")
    assert be.store.devices() == []


def test_device_requests_are_signed_and_not_replayable(be: Backend) -> None:
    s = SoftSigner(1)
    assert be.client.register(DEV_A, s.public_pem().decode()).status == 201
    raw = _record(s)
    path = f"/v1/devices/{DEV_A}/records"
    body = json.dumps({"records": [base64.b64encode(raw).decode()]}).encode()
    # no signature (whatever the body: authentication comes first)
    _err(be.client.request("POST", path, body), 401, "unauthorized")
    _err(be.client.request("POST", path, b"junk"), 401, "unauthorized")
    # signed by another key
    _err(be.client.upload(DEV_A, [raw], SoftSigner(9)), 401, "bad_signature")
    # signed for another device name
    _err(be.client.signed("POST", path, body, "PT-OTHER", s), 401, "unauthorized")
    # a valid request, then the same bytes again (captured and replayed)
    from host_sim.tax.app import request_digest

    sig, counter = s.sign(request_digest("POST", path, body))
    h = {DEVICE_HEADER: DEV_A, COUNTER_HEADER: str(counter), SIGNATURE_HEADER: sig.hex()}
    assert be.client.request("POST", path, body, h).status == 200
    _err(be.client.request("POST", path, body, h), 401, "replayed")
    # the signature covers the body
    h2 = dict(h, **{COUNTER_HEADER: str(counter + 1)})
    _err(be.client.request("POST", path, body, h2), 401, "bad_signature")
    tampered = body.replace(b'"records"', b'"records" ')
    _err(be.client.request("POST", path, tampered, h), 401, "bad_signature")
    # an unregistered device
    _err(be.client.upload("PT-NOBODY", [raw], s), 404, "unknown_device")
    assert len(be.store.records(DEV_A)) == 1
    _alive(be)


def test_malformed_requests_get_typed_errors(be: Backend) -> None:
    s = SoftSigner(1)
    assert be.client.register(DEV_A, s.public_pem().decode()).status == 201
    path = f"/v1/devices/{DEV_A}/records"
    cases: list[tuple[bytes, int, str]] = [
        (b"{not json", 422, "invalid_request"),
        (b"[]", 422, "invalid_request"),
        (b'{"records": []}', 422, "invalid_request"),
        (b'{"records": [42]}', 422, "invalid_request"),
        (b'{"records": ["***"]}', 400, "bad_base64"),
        (
            json.dumps({"records": [base64.b64encode(b"FR\x01").decode()]}).encode(),
            400,
            "bad_record",
        ),
        (b"\xff\xfe" * 10, 422, "invalid_request"),
    ]
    for body, status, code in cases:
        _err(be.client.signed("POST", path, body, DEV_A, s), status, code)
        _alive(be)
    # a bad record after good ones: nothing is stored
    good = _record(s)
    body = json.dumps(
        {"records": [base64.b64encode(good).decode(), base64.b64encode(good[:-3]).decode()]}
    ).encode()
    err = _err(be.client.signed("POST", path, body, DEV_A, s), 400, "bad_record")
    assert err["index"] == 1 and "record 1" in str(err["message"])
    assert be.store.records(DEV_A) == []
    # registration input
    bad_regs: list[tuple[dict[str, object], int, str]] = [
        ({"device_id": "has space", "public_key": "x"}, 422, "invalid_request"),
        ({"device_id": DEV_A}, 422, "invalid_request"),
        ({"device_id": "PT-2", "public_key": "00" * 65}, 400, "bad_public_key"),
        ({"device_id": "PT-2", "public_key": "-----BEGIN junk"}, 400, "bad_public_key"),
        (
            {"device_id": "PT-2", "public_key": s.public_pem().decode(), "slot": 999},
            422,
            "invalid_request",
        ),
    ]
    for obj, status, code in bad_regs:
        _err(be.client.admin("POST", "/v1/devices", obj), status, code)
    # unknown routes and methods
    _err(be.client.request("GET", "/v2/nothing"), 404, "not_found")
    _err(be.client.request("DELETE", "/v1/health"), 405, "method_not_allowed")
    _err(be.client.admin("GET", "/v1/devices/PT-NOBODY"), 404, "unknown_device")
    _err(be.client.admin("POST", "/v1/alerts/77/close"), 404, "unknown_alert")
    _err(be.client.admin("GET", "/v1/audit?limit=0"), 422, "invalid_request")
    _alive(be)


def test_openapi_document(be: Backend) -> None:
    r = be.client.request("GET", "/openapi.json")
    assert r.status == 200
    doc = r.json()
    paths = doc["paths"]
    for p in ("/v1/devices", "/v1/devices/{device_id}/records", "/v1/alerts", "/v1/audit/verify"):
        assert p in paths
    up = paths["/v1/devices/{device_id}/records"]["post"]
    schema = up["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["records"] and schema["properties"]["records"]["type"] == "array"
    inv = paths["/v1/devices/{device_id}/invoices"]["post"]["requestBody"]["content"]
    assert inv["application/json"]["schema"]["required"] == ["invoice"]
    assert "ErrorResponse" in doc["components"]["schemas"]
