"""The TSM's HTTP API (FastAPI; OpenAPI at ``/openapi.json``; docs/tsm.md).

Device requests prove possession of the secure element's key: the device
asks ``POST /v1/challenge`` for a one-time challenge bound to its serial and
a purpose, has its SE SIGN ``pop_digest(purpose, serial, challenge)`` and
sends the counter and the signature; the TSM checks
``ECDSA-Verify(pub, "PTSE-SIG1" ‖ slot ‖ counter ‖ digest)`` (docs/secure-element.md).
Admin endpoints need ``Authorization: Bearer <admin token>``.
Errors are ``{"error": {"code", "message"}}`` with a 4xx status.
"""

from __future__ import annotations

import binascii
import datetime
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from typing import Annotated, Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from protocols import se_app
from protocols.se_app import signed_message
from protocols.tsm_proof import PURPOSES, pop_digest
from tools import ota_package

from . import transport
from .keys import TsmKeys
from .store import TsmStore

PARAMS_KIND = "payterm-params/1"
PARAMS_SECTIONS = ("aids", "capks", "limits", "tax_rates")
MAX_PACKAGE = 16 * 1024 * 1024


class ApiError(Exception):
    def __init__(self, http_status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = http_status
        self.code = code
        self.message = message


class Config:
    def __init__(
        self,
        admin_token: str,
        cert_days: int = 365,
        challenge_ttl: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.admin_token = admin_token
        self.cert_days = cert_days
        self.challenge_ttl = challenge_ttl
        self.clock = clock

    def now(self) -> int:
        return int(self.clock())


SERIAL_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"


class ChallengeIn(BaseModel):
    serial: str = Field(pattern=SERIAL_PATTERN)
    purpose: str = Field(description="enrol | renew | dukpt | transport-key | report")


class ChallengeOut(BaseModel):
    challenge: str
    expires_at: int


class ProofIn(BaseModel):
    challenge: str = Field(description="hex, from POST /v1/challenge")
    slot: int = Field(0, ge=0, le=3, description="the SE key slot that signed")
    counter: int = Field(ge=0, le=0xFFFFFFFF, description="the SE counter of the signature")
    signature: str = Field(description="hex: raw r‖s (64 bytes) or DER")


class EnrolIn(ProofIn):
    serial: str = Field(pattern=SERIAL_PATTERN)
    public_key: str = Field(description="the SE key: 65-byte uncompressed point, hex")


class CertOut(BaseModel):
    serial: str
    cert_serial: str
    certificate: str
    ca: str
    not_before: int
    not_after: int


class RevokeIn(BaseModel):
    reason: str = Field("unspecified", max_length=200)


class CertStatusOut(BaseModel):
    cert_serial: str
    status: str = Field(description="good | revoked | expired | unknown")
    device: str | None = None
    not_after: int | None = None
    revoked_at: int | None = None
    reason: str | None = None


class FirmwareOut(BaseModel):
    version: int = Field(description="the OTA image version the device runs (0: factory)")
    ota_slot: str = Field(description="the OTA slot it runs from")
    reported_at: int


class DeviceStatusOut(BaseModel):
    serial: str
    status: str = Field(description="active | revoked | unknown")
    public_key: str | None = None
    cert_serial: str | None = None
    not_after: int | None = None
    revoked_at: int | None = None
    reason: str | None = None
    firmware: FirmwareOut | None = Field(
        default=None, description="the device's last version report"
    )


class FirmwareReportIn(ProofIn):
    version: int = Field(ge=0, le=0xFFFFFFFF, description="the running OTA image version")
    ota_slot: str = Field(
        pattern=r"^[a-z0-9]{1,8}$", description="the OTA slot the image runs from (a | b)"
    )


def report_bound(version: int, ota_slot: str) -> bytes:
    """What a version report's proof vouches for: version (u32, big-endian)
    ‖ the slot name (ASCII); the SE signs ``pop_digest("report", serial,
    challenge ‖ report_bound(...))``."""
    return version.to_bytes(4, "big") + ota_slot.encode("ascii")


class SignedDocOut(BaseModel):
    version: int
    payload: str = Field(description="the document, canonical JSON text")
    signature: str = Field(description="raw r‖s hex over SHA-256('PTPARAMS1' ‖ payload)")


class TransportKeyIn(ProofIn):
    ka_public: str = Field(description="the SE's key-agreement key (KA_PUBLIC_KEY), hex, 65 bytes")


class TransportKeyOut(BaseModel):
    serial: str
    ka_public: str
    registered_at: int


class DukptIn(ProofIn):
    se_nonce: str | None = Field(None, description="the SE's KBPK_NONCE, hex, 16 bytes")


class KeyBlockOut(BaseModel):
    key_block: str
    ikid: str
    kbpk: str = Field(description="how the KBPK came to be: ecdh-p256/sp800-56c-sha256")
    ephemeral_public: str = Field(description="the TSM's ephemeral key for KEY_AGREE, hex")
    signature: str = Field(description="key-loading key r‖s over key_agree_message, hex")
    ka_public: str = Field(description="the SE key-agreement key the KBPK was agreed with")


class ConfirmIn(BaseModel):
    ikid: str = Field(description="the IKID of the key load (hex)")
    confirmation: str = Field(description="the MacTag of KEY_AGREE's answer, hex, 16 bytes")


class ConfirmOut(BaseModel):
    ikid: str
    status: str = Field(description="confirmed")
    confirmed_at: int


def _hex(text: str, what: str) -> bytes:
    try:
        return binascii.unhexlify(text)
    except (binascii.Error, ValueError) as e:
        raise ApiError(400, "bad_hex", f"{what} is not hex") from e


def _load_point(data: bytes) -> ec.EllipticCurvePublicKey:
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data)
    except ValueError as e:
        raise ApiError(400, "bad_public_key", "public key is not a P-256 point") from e


def _check_proof(
    store: TsmStore,
    cfg: Config,
    serial: str,
    purpose: str,
    pub: bytes,
    proof: ProofIn,
    bound: bytes = b"",
) -> None:
    """The SE signed ``pop_digest(purpose, serial, challenge ‖ bound)``
    (``bound``: data the proof vouches for, e.g. the key-agreement key)."""
    challenge = _hex(proof.challenge, "challenge")
    if not store.take_challenge(challenge.hex(), serial, purpose, cfg.now()):
        raise ApiError(403, "bad_challenge", "challenge unknown, expired, spent or not yours")
    sig = _hex(proof.signature, "signature")
    if len(sig) == 64:
        sig = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    digest = pop_digest(purpose, serial, challenge + bound)
    message = signed_message(digest, proof.counter, proof.slot)
    try:
        _load_point(pub).verify(sig, message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError) as e:
        raise ApiError(403, "bad_proof", "the SE signature does not verify") from e


def _issue(store: TsmStore, keys: TsmKeys, cfg: Config, serial: str, pub: bytes) -> CertOut:
    now = cfg.now()
    nb = datetime.datetime.fromtimestamp(now - 60, datetime.UTC)
    na = datetime.datetime.fromtimestamp(now + cfg.cert_days * 86400, datetime.UTC)
    number = x509.random_serial_number()
    key = _load_point(pub)
    cert = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "payterm terminal"),
                    x509.NameAttribute(NameOID.SERIAL_NUMBER, serial),
                    x509.NameAttribute(NameOID.COMMON_NAME, serial),
                ]
            )
        )
        .issuer_name(keys.ca_cert.subject)
        .public_key(key)
        .serial_number(number)
        .not_valid_before(nb)
        .not_valid_after(na)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(keys.ca_key.public_key()),
            critical=False,
        )
        .sign(keys.ca_key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    cs = format(number, "x")
    nbi, nai = int(nb.timestamp()), int(na.timestamp())
    store.run(
        (
            "INSERT INTO certs (cert_serial, device, not_before, not_after, pem) "
            "VALUES (?, ?, ?, ?, ?)",
            (cs, serial, nbi, nai, pem),
        )
    )
    return CertOut(
        serial=serial,
        cert_serial=cs,
        certificate=pem,
        ca=keys.ca_pem,
        not_before=nbi,
        not_after=nai,
    )


def _active_device(store: TsmStore, serial: str) -> dict[str, Any]:
    dev = store.one("SELECT * FROM devices WHERE serial = ?", serial)
    if dev is None:
        raise ApiError(404, "unknown_device", f"device {serial} is not enrolled")
    if dev["status"] != "active":
        raise ApiError(403, "revoked", f"device {serial} is revoked")
    return dev


def _current_cert(store: TsmStore, serial: str) -> dict[str, Any] | None:
    return store.one(
        "SELECT * FROM certs WHERE device = ? AND revoked_at IS NULL "
        "ORDER BY not_before DESC, rowid DESC LIMIT 1",
        serial,
    )


def _supersede(store: TsmStore, cfg: Config, cert_serial: str) -> None:
    store.run(
        (
            "UPDATE certs SET revoked_at = ?, reason = 'superseded' WHERE cert_serial = ?",
            (cfg.now(), cert_serial),
        )
    )


def _last_report(store: TsmStore, serial: str) -> dict[str, Any] | None:
    return store.one(
        "SELECT version, ota_slot, reported_at FROM firmware_reports "
        "WHERE device = ? ORDER BY id DESC LIMIT 1",
        serial,
    )


def canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def create_app(store: TsmStore, keys: TsmKeys, config: Config) -> FastAPI:
    app = FastAPI(
        title="payterm TSM",
        version="1",
        description="Device enrolment, certificates and their status, signed parameters, "
        "DUKPT key loading, signed OTA packages (docs/tsm.md).",
    )

    @app.exception_handler(ApiError)
    async def api_error(_r: Request, e: ApiError) -> JSONResponse:
        return JSONResponse({"error": {"code": e.code, "message": e.message}}, status_code=e.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_r: Request, e: RequestValidationError) -> JSONResponse:
        msg = "; ".join(
            ".".join(str(x) for x in err.get("loc", ())) + ": " + str(err.get("msg", ""))
            for err in e.errors()
        )
        return JSONResponse({"error": {"code": "invalid_request", "message": msg}}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_r: Request, e: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(e.status_code, "http_error")
        return JSONResponse(
            {"error": {"code": code, "message": str(e.detail)}}, status_code=e.status_code
        )

    def admin(authorization: Annotated[str | None, Header()] = None) -> None:
        want = "Bearer " + config.admin_token
        if authorization is None or not hmac.compare_digest(authorization.encode(), want.encode()):
            raise ApiError(401, "unauthorized", "admin endpoints need Authorization: Bearer TOKEN")

    @app.get("/v1/health")
    def health() -> dict[str, Any]:
        return {"ok": True, "time": config.now()}

    @app.get("/v1/ca")
    def ca() -> dict[str, str]:
        """The CA certificate (PEM), the release public key (hex, 65 bytes)
        that signs OTA manifests and parameter documents, and the key-loading
        public key (hex, 65 bytes) that SEs are personalised with."""
        return {
            "ca": keys.ca_pem,
            "release_key": keys.release_public.hex(),
            "key_loading_key": keys.key_loading_public.hex(),
        }

    @app.post("/v1/challenge", response_model=ChallengeOut)
    def challenge(body: ChallengeIn) -> ChallengeOut:
        if body.purpose not in PURPOSES:
            raise ApiError(400, "bad_purpose", f"purpose must be one of {', '.join(PURPOSES)}")
        c = secrets.token_bytes(32).hex()
        exp = config.now() + config.challenge_ttl
        store.run(
            (
                "INSERT INTO challenges (challenge, serial, purpose, expires_at) VALUES (?,?,?,?)",
                (c, body.serial, body.purpose, exp),
            )
        )
        return ChallengeOut(challenge=c, expires_at=exp)

    @app.post("/v1/enrol", response_model=CertOut, status_code=201)
    def enrol(body: EnrolIn) -> CertOut:
        pub = _hex(body.public_key, "public_key")
        _load_point(pub)
        existing = store.one("SELECT * FROM devices WHERE serial = ?", body.serial)
        if existing is not None and existing["status"] == "revoked":
            raise ApiError(403, "revoked", f"device {body.serial} is revoked")
        if existing is not None and existing["public_key"] != pub.hex():
            raise ApiError(409, "already_enrolled", f"{body.serial} is enrolled with another key")
        _check_proof(store, config, body.serial, "enrol", pub, body)
        if existing is None:
            store.run(
                (
                    "INSERT INTO devices (serial, public_key, slot, status, enrolled_at) "
                    "VALUES (?, ?, ?, 'active', ?)",
                    (body.serial, pub.hex(), body.slot, config.now()),
                )
            )
        old = _current_cert(store, body.serial)
        out = _issue(store, keys, config, body.serial, pub)
        if old is not None:  # enrolled again (same key): one current certificate
            _supersede(store, config, old["cert_serial"])
        return out

    @app.post("/v1/devices/{serial}/renew", response_model=CertOut)
    def renew(serial: str, body: ProofIn) -> CertOut:
        dev = _active_device(store, serial)
        pub = bytes.fromhex(dev["public_key"])
        _check_proof(store, config, serial, "renew", pub, body)
        old = _current_cert(store, serial)
        out = _issue(store, keys, config, serial, pub)
        if old is not None:
            _supersede(store, config, old["cert_serial"])
        return out

    @app.post(
        "/v1/devices/{serial}/revoke",
        response_model=DeviceStatusOut,
        dependencies=[Depends(admin)],
    )
    def revoke(serial: str, body: RevokeIn) -> DeviceStatusOut:
        dev = store.one("SELECT * FROM devices WHERE serial = ?", serial)
        if dev is None:
            raise ApiError(404, "unknown_device", f"device {serial} is not enrolled")
        now = config.now()
        if dev["status"] != "revoked":
            store.run(
                (
                    "UPDATE devices SET status = 'revoked', revoked_at = ?, reason = ? "
                    "WHERE serial = ?",
                    (now, body.reason, serial),
                ),
                (
                    "UPDATE certs SET revoked_at = ?, reason = ? "
                    "WHERE device = ? AND revoked_at IS NULL",
                    (now, body.reason, serial),
                ),
            )
        return device_status(serial)

    @app.get("/v1/devices/{serial}/status", response_model=DeviceStatusOut)
    def device_status(serial: str) -> DeviceStatusOut:
        dev = store.one("SELECT * FROM devices WHERE serial = ?", serial)
        if dev is None:
            return DeviceStatusOut(serial=serial, status="unknown")
        cert = _current_cert(store, serial)
        fw = _last_report(store, serial)
        return DeviceStatusOut(
            serial=serial,
            status=dev["status"],
            public_key=dev["public_key"],
            cert_serial=cert["cert_serial"] if cert else None,
            not_after=cert["not_after"] if cert else None,
            revoked_at=dev["revoked_at"],
            reason=dev["reason"],
            firmware=FirmwareOut.model_validate(fw) if fw else None,
        )

    @app.post("/v1/devices/{serial}/firmware", response_model=FirmwareOut)
    def report_firmware(serial: str, body: FirmwareReportIn) -> FirmwareOut:
        """The device reports the image it runs: the SE signs
        ``pop_digest("report", serial, challenge ‖ version u32 ‖ ota_slot)``
        (purpose ``report``), so the report cannot be altered or replayed."""
        dev = _active_device(store, serial)
        _check_proof(
            store,
            config,
            serial,
            "report",
            bytes.fromhex(dev["public_key"]),
            body,
            report_bound(body.version, body.ota_slot),
        )
        now = config.now()
        store.run(
            (
                "INSERT INTO firmware_reports (device, version, ota_slot, reported_at) "
                "VALUES (?, ?, ?, ?)",
                (serial, body.version, body.ota_slot, now),
            )
        )
        return FirmwareOut(version=body.version, ota_slot=body.ota_slot, reported_at=now)

    @app.get(
        "/v1/devices/{serial}/firmware",
        response_model=list[FirmwareOut],
        dependencies=[Depends(admin)],
    )
    def firmware_history(serial: str) -> list[FirmwareOut]:
        """Every version report of a device, oldest first (admin)."""
        if store.one("SELECT serial FROM devices WHERE serial = ?", serial) is None:
            raise ApiError(404, "unknown_device", f"device {serial} is not enrolled")
        rows = store.all(
            "SELECT version, ota_slot, reported_at FROM firmware_reports "
            "WHERE device = ? ORDER BY id",
            serial,
        )
        return [FirmwareOut.model_validate(r) for r in rows]

    @app.get("/v1/certs/{cert_serial}/status", response_model=CertStatusOut)
    def cert_status(cert_serial: str) -> CertStatusOut:
        """OCSP-like status of one certificate (serial number in hex, as
        ``format(cert.serial_number, "x")``)."""
        cs = cert_serial.lower().lstrip("0") or "0"
        row = store.one("SELECT * FROM certs WHERE cert_serial = ?", cs)
        if row is None:
            return CertStatusOut(cert_serial=cs, status="unknown")
        if row["revoked_at"] is not None:
            status = "revoked"
        elif row["not_after"] < config.now():
            status = "expired"
        else:
            status = "good"
        return CertStatusOut(
            cert_serial=cs,
            status=status,
            device=row["device"],
            not_after=row["not_after"],
            revoked_at=row["revoked_at"],
            reason=row["reason"],
        )

    @app.put("/v1/params", response_model=SignedDocOut, dependencies=[Depends(admin)])
    def put_params(body: dict[str, Any]) -> SignedDocOut:
        missing = [s for s in PARAMS_SECTIONS if s not in body]
        if missing:
            raise ApiError(400, "bad_params", "missing sections: " + ", ".join(missing))
        extra = sorted(set(body) - set(PARAMS_SECTIONS))
        if extra:
            raise ApiError(400, "bad_params", "unknown sections: " + ", ".join(extra))
        last = store.one("SELECT MAX(version) AS v FROM params")
        version = ((last or {}).get("v") or 0) + 1
        doc = {"kind": PARAMS_KIND, "version": version, "issued_at": config.now()}
        doc.update({s: body[s] for s in PARAMS_SECTIONS})
        payload = canonical(doc)
        sig = keys.sign_params(payload.encode()).hex()
        store.run(
            (
                "INSERT INTO params (version, payload, signature, created_at) VALUES (?,?,?,?)",
                (version, payload, sig, config.now()),
            )
        )
        return SignedDocOut(version=version, payload=payload, signature=sig)

    @app.get("/v1/params", response_model=SignedDocOut)
    def get_params() -> SignedDocOut:
        row = store.one("SELECT * FROM params ORDER BY version DESC LIMIT 1")
        if row is None:
            raise ApiError(404, "no_params", "no parameter document yet")
        return SignedDocOut(
            version=row["version"], payload=row["payload"], signature=row["signature"]
        )

    @app.post("/v1/devices/{serial}/transport-key", response_model=TransportKeyOut)
    def transport_key(serial: str, body: TransportKeyIn) -> TransportKeyOut:
        """Register the SE's key-agreement key: the enrolled SE key signs
        ``pop_digest("transport-key", serial, challenge ‖ ka_public)``.  The
        first key registered is bound to the device (the SE never replaces
        it); the same key again is answered as registered."""
        dev = _active_device(store, serial)
        ka = _hex(body.ka_public, "ka_public")
        _load_point(ka)
        if len(ka) != se_app.PUBLIC_KEY_LEN:
            raise ApiError(400, "bad_public_key", "ka_public must be an uncompressed point")
        existing = store.one("SELECT * FROM transport_keys WHERE device = ?", serial)
        if existing is not None and existing["ka_public"] != ka.hex():
            raise ApiError(409, "ka_key_mismatch", f"{serial} has another key-agreement key")
        _check_proof(
            store, config, serial, "transport-key", bytes.fromhex(dev["public_key"]), body, ka
        )
        if existing is None:
            store.run(
                (
                    "INSERT INTO transport_keys (device, ka_public, registered_at) "
                    "VALUES (?, ?, ?)",
                    (serial, ka.hex(), config.now()),
                )
            )
            existing = {"ka_public": ka.hex(), "registered_at": config.now()}
        return TransportKeyOut(
            serial=serial, ka_public=existing["ka_public"], registered_at=existing["registered_at"]
        )

    @app.post("/v1/devices/{serial}/dukpt", response_model=KeyBlockOut)
    def dukpt(serial: str, body: DukptIn) -> KeyBlockOut:
        """The initial DUKPT key for the device's SE, as a TR-31 version D
        block (B1, AES, IK block) under a KBPK agreed for this load with the
        SE's registered key-agreement key (transport.py): the answer carries
        the TSM's ephemeral key and its key-loading signature for KEY_AGREE."""
        dev = _active_device(store, serial)
        if body.se_nonce is None:  # a client of the shared-KBPK era
            raise ApiError(
                400,
                "no_se_nonce",
                "the block is wrapped under a KBPK agreed with the SE for this load: "
                "send se_nonce (KBPK_NONCE), then KEY_AGREE with the answer (docs/tsm.md)",
            )
        nonce = _hex(body.se_nonce, "se_nonce")
        if len(nonce) != se_app.KA_NONCE_LEN:
            raise ApiError(400, "bad_nonce", "se_nonce must be 16 bytes")
        tk = store.one("SELECT ka_public FROM transport_keys WHERE device = ?", serial)
        if tk is None:
            raise ApiError(409, "no_transport_key", f"{serial} has no key-agreement key registered")
        _check_proof(store, config, serial, "dukpt", bytes.fromhex(dev["public_key"]), body)
        row = store.one("SELECT COUNT(*) AS n FROM key_loads")
        n = ((row or {}).get("n") or 0) + 1
        # IKID: 4 bytes naming the BDK (first bytes of its SHA-256) ‖ a
        # 4-byte device key number, unique per load
        ikid = hashlib.sha256(keys.bdk).digest()[:4] + n.to_bytes(4, "big")
        ka = bytes.fromhex(tk["ka_public"])
        agreed = transport.agree(keys.key_loading_key, serial, ka, nonce, keys.bdk, ikid)
        store.run(
            (
                "INSERT INTO key_loads (device, ikid, loaded_at, ephemeral, se_nonce, kc_digest, "
                "status) VALUES (?, ?, ?, ?, ?, ?, 'pending')",
                (
                    serial,
                    ikid.hex(),
                    config.now(),
                    agreed.ephemeral.hex(),
                    nonce.hex(),
                    agreed.tag_digest,
                ),
            )
        )
        return KeyBlockOut(
            key_block=agreed.key_block,
            ikid=ikid.hex().upper(),
            kbpk=transport.KBPK_LABEL,
            ephemeral_public=agreed.ephemeral.hex(),
            signature=agreed.signature.hex(),
            ka_public=ka.hex(),
        )

    @app.post("/v1/devices/{serial}/dukpt/confirm", response_model=ConfirmOut)
    def dukpt_confirm(serial: str, body: ConfirmIn) -> ConfirmOut:
        """The SE's key confirmation (KEY_AGREE's MacTag) for a key load:
        the load becomes ``confirmed`` when it is the one the TSM expects."""
        _active_device(store, serial)
        ikid = _hex(body.ikid, "ikid").hex()
        tag = _hex(body.confirmation, "confirmation")
        row = store.one("SELECT * FROM key_loads WHERE ikid = ? AND device = ?", ikid, serial)
        if row is None or not row["kc_digest"]:
            raise ApiError(404, "unknown_load", f"no key load {body.ikid} for {serial}")
        if not transport.tag_matches(row["kc_digest"], tag):
            raise ApiError(403, "bad_confirmation", "the key confirmation does not match")
        at = row["confirmed_at"]
        if row["status"] != "confirmed":
            at = config.now()
            store.run(
                (
                    "UPDATE key_loads SET status = 'confirmed', confirmed_at = ? WHERE ikid = ?",
                    (at, ikid),
                )
            )
        return ConfirmOut(ikid=ikid.upper(), status="confirmed", confirmed_at=at)

    @app.put("/v1/ota/{board}", dependencies=[Depends(admin)])
    async def put_package(board: str, request: Request) -> dict[str, Any]:
        """Publish a package (from ``payterm tsm package``); its signature
        must be the release key's and its board this one."""
        data = await request.body()
        if len(data) > MAX_PACKAGE:
            raise ApiError(413, "too_large", "package over 16 MiB")
        try:
            manifest = ota_package.read_manifest(data, keys.release_key.public_key())
        except (ota_package.PackageError, ValueError, KeyError) as e:
            raise ApiError(400, "bad_package", str(e)) from e
        if manifest.get("board") != board:
            raise ApiError(400, "bad_package", f"package is for {manifest.get('board')}")
        digest = hashlib.sha256(data).hexdigest()
        try:
            store.run(
                (
                    "INSERT INTO packages (board, version, package, sha256, created_at) "
                    "VALUES (?,?,?,?,?)",
                    (board, manifest["version"], data, digest, config.now()),
                )
            )
        except Exception as e:
            raise ApiError(409, "exists", f"{board} version {manifest['version']} exists") from e
        return {"board": board, "version": manifest["version"], "sha256": digest}

    @app.get("/v1/ota/{board}/latest")
    def latest_package(board: str) -> Response:
        row = store.one(
            "SELECT version, package, sha256 FROM packages WHERE board = ? "
            "ORDER BY version DESC LIMIT 1",
            board,
        )
        if row is None:
            raise ApiError(404, "no_package", f"no package for {board}")
        return Response(
            row["package"],
            media_type="application/octet-stream",
            headers={"X-Payterm-Version": str(row["version"]), "X-Payterm-Sha256": row["sha256"]},
        )

    return app
