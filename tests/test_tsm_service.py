"""The TSM over real HTTP on 127.0.0.1 (port 0) with a real SQLite file,
against a real secure-element emulator (hsm_sim.se Engine, TEST
personalisation): enrolment with proof of possession, X.509 certificates
checked with `cryptography` and the tax backend's own check, renewal,
revocation and the status endpoints, signed parameter documents verified by
the firmware's verifier (CPython here, MicroPython in test_ota_params), the
initial DUKPT key block loaded by the SE, OTA package publication."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from firmware.ota import params as fw_params
from host_sim.tax.devices import RegistrationError, check_certificate, public_key_der
from host_sim.tax.server import Running
from hsm_sim.crypto import dukpt_aes, mac
from hsm_sim.se.engine import Engine
from hsm_sim.tsm.app import Config, create_app, pop_digest
from hsm_sim.tsm.keys import TsmKeys
from hsm_sim.tsm.store import TsmStore
from protocols import se_app as sa
from protocols.crypto import aes_dukpt
from tools import ota_package as op

TOKEN = "tsm-admin-token"
AUTH = {"Authorization": "Bearer " + TOKEN}


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


class Tsm:
    def __init__(self, db: Path, keydir: Path, clock: Clock) -> None:
        self.store = TsmStore(str(db))
        self.keys = TsmKeys.load_or_create(keydir)
        self.server = Running(create_app(self.store, self.keys, Config(TOKEN, clock=clock)))

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> tuple[int, Any]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.server.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                payload = resp.read()
                ctype = resp.headers.get("content-type", "")
                return resp.status, json.loads(payload) if "json" in ctype else payload
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def stop(self) -> None:
        self.server.stop()
        self.store.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tsm(tmp_path: Path, clock: Clock) -> Iterator[Tsm]:
    t = Tsm(tmp_path / "tsm.db", tmp_path / "keys", clock)
    yield t
    t.stop()


class Se:
    """A terminal's secure element (the emulator's engine, in process)."""

    def __init__(self, path: Path, serial: str) -> None:
        self.engine = Engine.open(path, "test", serial)
        self.serial = serial
        self.public = self.ok(sa.CMD_GENERATE_KEY, b"\x00")

    def ok(self, cmd: int, payload: bytes) -> bytes:
        status, body = self.engine.execute(cmd, payload)
        assert status == 0, (hex(cmd), status)
        return body

    def register(self, challenge: str) -> dict[str, Any]:
        """Body of POST /v1/devices/{serial}/transport-key."""
        ka = self.ok(sa.CMD_KA_PUBLIC_KEY, b"")
        return {**self.proof("transport-key", challenge, ka), "ka_public": ka.hex()}

    def dukpt_request(self, challenge: str) -> dict[str, Any]:
        nonce = self.ok(sa.CMD_KBPK_NONCE, b"")
        return {**self.proof("dukpt", challenge), "se_nonce": nonce.hex()}

    def proof(self, purpose: str, challenge: str, bound: bytes = b"") -> dict[str, Any]:
        digest = pop_digest(purpose, self.serial, bytes.fromhex(challenge) + bound)
        body = self.ok(sa.CMD_SIGN, b"\x00\x00" + digest)
        return {
            "challenge": challenge,
            "slot": 0,
            "counter": int.from_bytes(body[:4], "big"),
            "signature": body[4:].hex(),
        }


def _challenge(tsm: Tsm, serial: str, purpose: str) -> str:
    st, body = tsm.call("POST", "/v1/challenge", {"serial": serial, "purpose": purpose})
    assert st == 200, body
    return str(body["challenge"])


def _enrol(tsm: Tsm, se: Se) -> dict[str, Any]:
    c = _challenge(tsm, se.serial, "enrol")
    st, body = tsm.call(
        "POST",
        "/v1/enrol",
        {"serial": se.serial, "public_key": se.public.hex(), **se.proof("enrol", c)},
    )
    assert st == 201, body
    return dict(body)


def test_enrol_renew_revoke_and_status(tsm: Tsm, tmp_path: Path, clock: Clock) -> None:
    se = Se(tmp_path / "se.json", "PT-0001")
    out = _enrol(tsm, se)
    ca = x509.load_pem_x509_certificate(out["ca"].encode())
    cert = x509.load_pem_x509_certificate(out["certificate"].encode())
    cert.verify_directly_issued_by(ca)
    got = cert.public_key()
    assert isinstance(got, ec.EllipticCurvePublicKey)
    assert (
        got.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        == se.public
    )
    assert cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == "PT-0001"
    assert format(cert.serial_number, "x") == out["cert_serial"]
    assert out["not_after"] - out["not_before"] == 365 * 86400 + 60
    # the tax backend accepts it as the device certificate for this SE key
    check_certificate(out["certificate"], public_key_der(se.public.hex()), ca, int(clock.t))
    # the certificate fits the SE's certificate slot
    der = cert.public_bytes(serialization.Encoding.DER)
    se.ok(sa.CMD_WRITE_CERT, b"\x00\x00\x00" + der)
    assert se.ok(sa.CMD_READ_CERT, b"\x00\x00\x00" + (1000).to_bytes(2, "big"))[2:] == der

    st, s1 = tsm.call("GET", f"/v1/certs/{out['cert_serial']}/status")
    assert (st, s1["status"], s1["device"]) == (200, "good", "PT-0001")
    st, d1 = tsm.call("GET", "/v1/devices/PT-0001/status")
    assert (d1["status"], d1["cert_serial"]) == ("active", out["cert_serial"])
    assert tsm.call("GET", "/v1/devices/NOPE/status")[1]["status"] == "unknown"
    assert tsm.call("GET", "/v1/certs/abc123/status")[1]["status"] == "unknown"

    # renewal: proof again; the old certificate is superseded
    clock.t += 100
    c = _challenge(tsm, "PT-0001", "renew")
    st, new = tsm.call("POST", "/v1/devices/PT-0001/renew", se.proof("renew", c))
    assert st == 200, new
    assert new["cert_serial"] != out["cert_serial"]
    x509.load_pem_x509_certificate(new["certificate"].encode()).verify_directly_issued_by(ca)
    old_status = tsm.call("GET", f"/v1/certs/{out['cert_serial']}/status")[1]
    assert (old_status["status"], old_status["reason"]) == ("revoked", "superseded")
    assert tsm.call("GET", f"/v1/certs/{new['cert_serial']}/status")[1]["status"] == "good"
    assert tsm.call("GET", "/v1/devices/PT-0001/status")[1]["cert_serial"] == new["cert_serial"]

    # expiry shows in the status
    clock.t += 366 * 86400
    assert tsm.call("GET", f"/v1/certs/{new['cert_serial']}/status")[1]["status"] == "expired"
    clock.t -= 366 * 86400

    # revocation: admin only
    st, e = tsm.call("POST", "/v1/devices/PT-0001/revoke", {"reason": "stolen"})
    assert (st, e["error"]["code"]) == (401, "unauthorized")
    st, e = tsm.call(
        "POST", "/v1/devices/PT-0001/revoke", {"reason": "x"}, {"Authorization": "Bearer no"}
    )
    assert st == 401
    st, r = tsm.call("POST", "/v1/devices/PT-0001/revoke", {"reason": "stolen"}, AUTH)
    assert (st, r["status"], r["reason"]) == (200, "revoked", "stolen")
    s2 = tsm.call("GET", f"/v1/certs/{new['cert_serial']}/status")[1]
    assert (s2["status"], s2["reason"], s2["revoked_at"]) == ("revoked", "stolen", int(clock.t))
    # a revoked device gets nothing more
    c = _challenge(tsm, "PT-0001", "renew")
    st, e = tsm.call("POST", "/v1/devices/PT-0001/renew", se.proof("renew", c))
    assert (st, e["error"]["code"]) == (403, "revoked")
    c = _challenge(tsm, "PT-0001", "dukpt")
    body = {**se.proof("dukpt", c), "se_nonce": "00" * 16}
    assert tsm.call("POST", "/v1/devices/PT-0001/dukpt", body)[0] == 403
    c = _challenge(tsm, "PT-0001", "transport-key")
    st, e = tsm.call("POST", "/v1/devices/PT-0001/transport-key", se.register(c))
    assert (st, e["error"]["code"]) == (403, "revoked")
    c = _challenge(tsm, "PT-0001", "enrol")
    st, e = tsm.call(
        "POST",
        "/v1/enrol",
        {"serial": "PT-0001", "public_key": se.public.hex(), **se.proof("enrol", c)},
    )
    assert (st, e["error"]["code"]) == (403, "revoked")
    assert tsm.call("POST", "/v1/devices/NOPE/revoke", {}, AUTH)[0] == 404


def test_proof_of_possession_refusals(tsm: Tsm, tmp_path: Path, clock: Clock) -> None:
    se = Se(tmp_path / "se.json", "PT-0002")
    thief = Se(tmp_path / "thief.json", "PT-0002")

    def enrol(proof: dict[str, Any], key: bytes = se.public, serial: str = "PT-0002") -> Any:
        return tsm.call("POST", "/v1/enrol", {"serial": serial, "public_key": key.hex(), **proof})

    # signature by another key than the one presented
    c = _challenge(tsm, "PT-0002", "enrol")
    st, e = enrol(thief.proof("enrol", c))
    assert (st, e["error"]["code"]) == (403, "bad_proof")
    # the challenge was spent by that attempt
    st, e = enrol(se.proof("enrol", c))
    assert (st, e["error"]["code"]) == (403, "bad_challenge")
    # a challenge for another purpose, or another serial
    c = _challenge(tsm, "PT-0002", "renew")
    assert enrol(se.proof("enrol", c))[1]["error"]["code"] == "bad_challenge"
    c = _challenge(tsm, "PT-OTHER", "enrol")
    assert enrol(se.proof("enrol", c))[1]["error"]["code"] == "bad_challenge"
    # signed for another purpose than claimed
    c = _challenge(tsm, "PT-0002", "enrol")
    assert enrol(se.proof("renew", c))[1]["error"]["code"] == "bad_proof"
    # the counter is bound into the SE signature
    c = _challenge(tsm, "PT-0002", "enrol")
    p = se.proof("enrol", c)
    p["counter"] += 1
    assert enrol(p)[1]["error"]["code"] == "bad_proof"
    # expired challenge
    c = _challenge(tsm, "PT-0002", "enrol")
    clock.t += 301
    assert enrol(se.proof("enrol", c))[1]["error"]["code"] == "bad_challenge"
    # not a point; bad purpose; bad serial
    c = _challenge(tsm, "PT-0002", "enrol")
    assert enrol(se.proof("enrol", c), key=b"\x04" + bytes(64))[0] == 400
    st, e = tsm.call("POST", "/v1/challenge", {"serial": "PT-0002", "purpose": "root"})
    assert (st, e["error"]["code"]) == (400, "bad_purpose")
    assert tsm.call("POST", "/v1/challenge", {"serial": "a b", "purpose": "enrol"})[0] == 422
    # finally the right proof works, and the serial is then bound to that key
    c = _challenge(tsm, "PT-0002", "enrol")
    st, first = enrol(se.proof("enrol", c))
    assert st == 201
    # enrolling again with the same key supersedes the previous certificate
    c = _challenge(tsm, "PT-0002", "enrol")
    st, again = enrol(se.proof("enrol", c))
    assert st == 201 and again["cert_serial"] != first["cert_serial"]
    old = tsm.call("GET", f"/v1/certs/{first['cert_serial']}/status")[1]
    assert (old["status"], old["reason"]) == ("revoked", "superseded")
    assert tsm.call("GET", "/v1/devices/PT-0002/status")[1]["cert_serial"] == again["cert_serial"]
    c = _challenge(tsm, "PT-0002", "enrol")
    st, e = enrol(thief.proof("enrol", c), key=thief.public)
    assert (st, e["error"]["code"]) == (409, "already_enrolled")


def test_certificate_of_another_ca_is_refused_by_tax_check(tsm: Tsm, tmp_path: Path) -> None:
    se = Se(tmp_path / "se.json", "PT-0003")
    out = _enrol(tsm, se)
    other = TsmKeys.generate("another CA")
    with pytest.raises(RegistrationError) as e:
        check_certificate(
            out["certificate"], public_key_der(se.public.hex()), other.ca_cert, 1_800_000_000
        )
    assert e.value.code == "certificate_untrusted"


PARAMS = {
    "aids": [{"aid": "A0000000031010", "label": "VISA CREDIT"}],
    "capks": [{"rid": "A000000003", "index": "92", "modulus": "AB" * 176, "exponent": "03"}],
    "limits": {"contactless_floor": 5000, "cvm_limit": 10000, "currency": "400"},
    "tax_rates": [{"code": "S", "rate": "16.00"}, {"code": "Z", "rate": "0.00"}],
}


def test_signed_parameters(tsm: Tsm) -> None:
    assert tsm.call("GET", "/v1/params")[0] == 404
    assert tsm.call("PUT", "/v1/params", PARAMS)[0] == 401
    st, e = tsm.call("PUT", "/v1/params", {"aids": []}, AUTH)
    assert (st, e["error"]["code"]) == (400, "bad_params")
    st, e = tsm.call("PUT", "/v1/params", {**PARAMS, "x": 1}, AUTH)
    assert (st, e["error"]["code"]) == (400, "bad_params")
    st, d1 = tsm.call("PUT", "/v1/params", PARAMS, AUTH)
    assert (st, d1["version"]) == (200, 1)
    st, d2 = tsm.call("PUT", "/v1/params", {**PARAMS, "limits": {"cvm_limit": 1}}, AUTH)
    assert d2["version"] == 2
    st, got = tsm.call("GET", "/v1/params")
    assert got == d2
    release = bytes.fromhex(tsm.call("GET", "/v1/ca")[1]["release_key"])
    p = fw_params.verify(got, release)
    assert (p["version"], p["limits"], p["tax_rates"]) == (2, {"cvm_limit": 1}, PARAMS["tax_rates"])
    assert fw_params.verify(d1, release, 0)["aids"] == PARAMS["aids"]
    # the device holds version 2: the older document is refused
    with pytest.raises(fw_params.ParamsError, match="not above 2"):
        fw_params.verify(d1, release, 2)
    altered = dict(got, payload=got["payload"].replace('"cvm_limit":1', '"cvm_limit":9'))
    with pytest.raises(fw_params.ParamsError, match="signature"):
        fw_params.verify(altered, release)
    other = TsmKeys.generate().release_public
    with pytest.raises(fw_params.ParamsError, match="signature"):
        fw_params.verify(got, other)


def test_dukpt_key_block_loads_into_the_se(tsm: Tsm, tmp_path: Path) -> None:
    se = Se(tmp_path / "se.json", "PT-0004")
    c = _challenge(tsm, "PT-0004", "dukpt")
    assert tsm.call("POST", "/v1/devices/PT-0004/dukpt", se.dukpt_request(c))[0] == 404
    _enrol(tsm, se)
    # no key-agreement key registered yet
    c = _challenge(tsm, "PT-0004", "dukpt")
    st, e = tsm.call("POST", "/v1/devices/PT-0004/dukpt", se.dukpt_request(c))
    assert (st, e["error"]["code"]) == (409, "no_transport_key")
    # malformed registrations: a protocol error each, and the TSM serves on
    tk_path = "/v1/devices/PT-0004/transport-key"
    good = se.register(_challenge(tsm, "PT-0004", "transport-key"))
    compressed = bytes([2 + (se.public[64] & 1)]) + se.public[1:33]
    for bad_ka, code in (
        ("zz", "bad_hex"),
        ("04" + "11" * 64, "bad_public_key"),
        (compressed.hex(), "bad_public_key"),
    ):
        st, e = tsm.call("POST", tk_path, {**good, "ka_public": bad_ka})
        assert (st, e["error"]["code"]) == (400, code)
    assert tsm.call("POST", tk_path, {"ka_public": good["ka_public"]})[0] == 422
    assert tsm.call("POST", tk_path, raw=b"{not json")[0] == 422
    assert tsm.call("POST", "/v1/devices/PT-0004/dukpt/confirm", {"ikid": "x"})[0] == 422
    st, e = tsm.call(
        "POST", "/v1/devices/PT-0004/dukpt/confirm", {"ikid": "zz", "confirmation": "00"}
    )
    assert (st, e["error"]["code"]) == (400, "bad_hex")
    c = _challenge(tsm, "PT-0004", "transport-key")
    st, reg = tsm.call("POST", "/v1/devices/PT-0004/transport-key", se.register(c))
    assert (st, reg["ka_public"]) == (200, se.ok(sa.CMD_KA_PUBLIC_KEY, b"").hex()), reg
    c = _challenge(tsm, "PT-0004", "dukpt")
    st, kb = tsm.call("POST", "/v1/devices/PT-0004/dukpt", se.dukpt_request(c))
    assert st == 200, kb
    assert kb["key_block"].startswith("D") and kb["key_block"][5:7] == "B1"
    assert kb["kbpk"] == "ecdh-p256/sp800-56c-sha256" and kb["ka_public"] == reg["ka_public"]
    assert tsm.keys.bdk.hex().upper() not in kb["key_block"]
    ikid = bytes.fromhex(kb["ikid"])
    agreed = se.ok(sa.CMD_KEY_AGREE, bytes.fromhex(kb["ephemeral_public"] + kb["signature"]))
    ksn = se.ok(sa.CMD_LOAD_DUKPT, kb["key_block"].encode())
    assert ksn == ikid + b"\x00\x00\x00\x01"
    data = b"ISO8583 message body"
    body = se.ok(sa.CMD_MAC, data)
    key = dukpt_aes.working_key(tsm.keys.bdk, body[16:], aes_dukpt.USAGE_MAC_GENERATION)
    assert body[:16] == mac.aes_cmac_mac(key, data)
    # the key confirmation
    path = "/v1/devices/PT-0004/dukpt/confirm"
    wrong = {"ikid": kb["ikid"], "confirmation": "00" * 16}
    assert tsm.call("POST", path, wrong)[1]["error"]["code"] == "bad_confirmation"
    ok = {"ikid": kb["ikid"], "confirmation": agreed[65:].hex()}
    st, conf = tsm.call("POST", path, ok)
    assert (st, conf["status"], conf["ikid"]) == (200, "confirmed", kb["ikid"])
    row = tsm.store.one("SELECT status FROM key_loads WHERE ikid = ?", ikid.hex())
    assert row == {"status": "confirmed"}
    other = {"ikid": "00" * 8, "confirmation": agreed[65:].hex()}
    assert tsm.call("POST", path, other)[0] == 404
    # a second load gets another initial key ID; the proof is required
    c = _challenge(tsm, "PT-0004", "dukpt")
    st, kb2 = tsm.call("POST", "/v1/devices/PT-0004/dukpt", se.dukpt_request(c))
    assert kb2["ikid"] != kb["ikid"] and kb2["ephemeral_public"] != kb["ephemeral_public"]
    c = _challenge(tsm, "PT-0004", "dukpt")
    bad = {**se.proof("enrol", c), "se_nonce": "00" * 16}
    st, e = tsm.call("POST", "/v1/devices/PT-0004/dukpt", bad)
    assert (st, e["error"]["code"]) == (403, "bad_proof")
    c = _challenge(tsm, "PT-0004", "dukpt")
    st, e = tsm.call(
        "POST", "/v1/devices/PT-0004/dukpt", {**se.proof("dukpt", c), "se_nonce": "00"}
    )
    assert (st, e["error"]["code"]) == (400, "bad_nonce")
    # a request of the shared-KBPK era (no nonce) gets a clear refusal
    c = _challenge(tsm, "PT-0004", "dukpt")
    st, e = tsm.call("POST", "/v1/devices/PT-0004/dukpt", se.proof("dukpt", c))
    assert (st, e["error"]["code"]) == (400, "no_se_nonce")


def test_ota_publication(tsm: Tsm) -> None:
    files = [b"print('v5')\n", b"x" * 3000]
    entries = [
        {"path": f"f{i}.py", "size": len(b), "sha256": op.hashlib.sha256(b).hexdigest()}
        for i, b in enumerate(files)
    ]
    pkg = op.assemble(op.make_manifest("sim", 5, entries), tsm.keys.release_key, files)
    assert tsm.call("PUT", "/v1/ota/sim", raw=pkg)[0] == 401
    st, out = tsm.call("PUT", "/v1/ota/sim", raw=pkg, headers=AUTH)
    assert (st, out["version"]) == (200, 5)
    assert tsm.call("PUT", "/v1/ota/sim", raw=pkg, headers=AUTH)[0] == 409
    assert tsm.call("PUT", "/v1/ota/esp32s3", raw=pkg, headers=AUTH)[0] == 400
    foreign = op.assemble(
        op.make_manifest("sim", 6, entries), ec.generate_private_key(ec.SECP256R1()), files
    )
    st, e = tsm.call("PUT", "/v1/ota/sim", raw=foreign, headers=AUTH)
    assert (st, e["error"]["message"]) == (400, "manifest signature does not verify")
    st, got = tsm.call("GET", "/v1/ota/sim/latest")
    assert (st, got) == (200, pkg)
    assert tsm.call("GET", "/v1/ota/ecr/latest")[0] == 404


def test_state_survives_restart(tmp_path: Path, clock: Clock) -> None:
    t = Tsm(tmp_path / "tsm.db", tmp_path / "keys", clock)
    se = Se(tmp_path / "se.json", "PT-0005")
    out = _enrol(t, se)
    ca1 = t.call("GET", "/v1/ca")[1]
    t.stop()
    t = Tsm(tmp_path / "tsm.db", tmp_path / "keys", clock)
    try:
        assert t.call("GET", "/v1/ca")[1] == ca1
        assert t.call("GET", f"/v1/certs/{out['cert_serial']}/status")[1]["status"] == "good"
        assert (tmp_path / "keys" / "ca.key").stat().st_mode & 0o077 == 0
    finally:
        t.stop()
