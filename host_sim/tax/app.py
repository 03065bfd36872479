"""The tax backend's HTTP API (FastAPI; OpenAPI at ``/openapi.json``,
docs/tax.md endpoint by endpoint).

Callers authenticate:

- admin endpoints: ``Authorization: Bearer <admin token>``;
- device endpoints: every request signed by the device's secure element with
  its ordinary SIGN command: ``X-Payterm-Device``, ``X-Payterm-Counter`` (the
  SE counter of that signature) and ``X-Payterm-Signature`` (hex, raw r|s or
  DER) over ``"PTSE-SIG1" | slot | counter | SHA-256(request_digest_input)``,
  where the input is ``"PTTAX1\\n" | METHOD | "\\n" | path | "\\n" | body``.
  The counter must rise from request to request (replays are refused).

Errors are ``{"error": {"code", "message", ...}}`` with a 4xx status.
"""

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from hsm_sim.tsm.status_client import TsmStatusClient
from protocols.se_app import signed_message
from tools.fiscal_verify import der_signature

from . import einvoice, tsm_check
from . import ingest as ing
from .devices import RegistrationError, check_certificate, public_key_der
from .store import Device, TaxStore

DEVICE_HEADER = "X-Payterm-Device"
COUNTER_HEADER = "X-Payterm-Counter"
SIGNATURE_HEADER = "X-Payterm-Signature"
MAX_BODY = 8 * 1024 * 1024
log = logging.getLogger("payterm.tax")
MAX_RECORDS = 5000


class ApiError(Exception):
    def __init__(self, http_status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = http_status
        self.code = code
        self.message = message
        self.extra = extra


def request_digest(method: str, path: str, body: bytes) -> bytes:
    """What a device signs (through its SE) for one request."""
    return hashlib.sha256(
        b"PTTAX1\n" + method.upper().encode() + b"\n" + path.encode() + b"\n" + body
    ).digest()


class Config:
    def __init__(
        self,
        admin_token: str,
        ca: x509.Certificate | None = None,
        silent_limit_s: int = 72 * 3600,
        z_limit_s: int = 24 * 3600,
        monitor_interval_s: float = 0.0,
        clock: Callable[[], float] = time.time,
        clearance_key: ec.EllipticCurvePrivateKey | None = None,
        tsm: TsmStatusClient | None = None,
    ) -> None:
        self.admin_token = admin_token
        self.ca = ca
        self.silent_limit_s = silent_limit_s
        self.z_limit_s = z_limit_s
        self.monitor_interval_s = monitor_interval_s
        self.clock = clock
        # signs the QR of cleared e-invoices (docs/tax.md, "E-invoices")
        self.clearance_key = clearance_key or ec.generate_private_key(ec.SECP256R1())
        # the TSM's device status (docs/tax.md, "Device status at the TSM"); None: not checked
        self.tsm = tsm

    def now(self) -> int:
        return int(self.clock())


# -- models ------------------------------------------------------------
class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


class DeviceIn(BaseModel):
    device_id: str = Field(min_length=1, max_length=32, pattern=r"^[\x21-\x7e]+$")
    public_key: str = Field(
        max_length=4096, description="PEM SubjectPublicKeyInfo or the 65-byte point in hex"
    )
    slot: int = Field(default=0, ge=0, le=255, description="the SE key slot that signs")
    certificate: str | None = Field(
        default=None, max_length=16384, description="the TSM's X.509 device certificate (PEM)"
    )
    silent_limit_s: int | None = Field(default=None, gt=0)
    z_limit_s: int | None = Field(default=None, gt=0)


class DeviceOut(BaseModel):
    device_id: str
    status: str = Field(description="registered | already_registered")
    public_key: str
    slot: int
    certificate_subject: str | None
    registered_at: int
    last_seen: int | None
    silent_limit_s: int
    z_limit_s: int
    records: int = 0
    last_seq: int = 0
    last_hash: str = ""
    open_alerts: int = 0


class UploadIn(BaseModel):
    records: list[str] = Field(
        min_length=1,
        max_length=MAX_RECORDS,
        description="canonical record encodings (docs/fiscal.md), base64, in journal order",
    )


class ExportVerdict(BaseModel):
    valid: bool
    records: int
    signed_trailer: bool
    first_failure: dict[str, Any] | None


class OutcomeOut(BaseModel):
    seq: int
    hash: str
    status: str = Field(description="accepted | already_submitted | rejected")
    reason: str | None
    alert: str | None


class UploadOut(BaseModel):
    device_id: str
    accepted: int
    already_submitted: int
    rejected: int
    last_seq: int
    last_hash: str
    alerts: list[int]
    results: list[OutcomeOut]
    tsm_status: str | None = Field(
        default=None,
        description="with --tsm: the device's status at the TSM "
        "(active | revoked | unknown | unreachable); records are stored whatever it is",
    )


class InvoiceIn(BaseModel):
    invoice: str = Field(description="the UBL 2.1 Invoice or CreditNote XML, base64")


class InvoiceOut(BaseModel):
    status: str = Field(description="SUBMITTED | ALREADY_SUBMITTED")
    uuid: str
    invoice_id: str
    qr: str = Field(description="base64 TLV signed by the backend (docs/tax.md)")
    hash: str
    received_at: int
    tsm_status: str | None = Field(
        default=None, description="with --tsm: the device's status at the TSM"
    )


class ExportUploadOut(UploadOut):
    export: ExportVerdict


class Alert(BaseModel):
    id: int
    device_id: str
    kind: str
    seq: int | None
    detail: str
    raised_at: int
    open: bool


class MonitorOut(BaseModel):
    now: int
    raised: list[Alert]


class AuditEntry(BaseModel):
    id: int
    time: int
    event: str
    device_id: str | None
    detail: dict[str, Any]
    prev: str
    hash: str


class AuditCheck(BaseModel):
    entries: int
    valid: bool
    first_bad: int | None
    head: str


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse},
    401: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    409: {"model": ErrorResponse},
    413: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
}


M = TypeVar("M", bound=BaseModel)


def _parse(model: type[M], body: bytes) -> M:
    """Device endpoints read their JSON body only once the request's
    signature has been verified (authentication before anything else)."""
    try:
        return model.model_validate_json(body)
    except ValidationError as e:
        fields = [
            {"loc": ["body", *(str(x) for x in err["loc"])], "msg": err["msg"]}
            for err in e.errors()
        ]
        msg = "; ".join(f"{'.'.join(f['loc'])}: {f['msg']}" for f in fields)
        raise ApiError(422, "invalid_request", msg, fields=fields) from e


def _json_body(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


def _device_out(store: TaxStore, dev: Device, status: str) -> DeviceOut:
    last = store.last_record(dev.device_id)
    subject = None
    if dev.certificate:
        subject = x509.load_pem_x509_certificate(dev.certificate.encode()).subject.rfc4514_string()
    return DeviceOut(
        device_id=dev.device_id,
        status=status,
        public_key=serialization.load_der_public_key(dev.public_key)
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode(),
        slot=dev.slot,
        certificate_subject=subject,
        registered_at=dev.registered_at,
        last_seen=dev.last_seen,
        silent_limit_s=dev.silent_limit_s,
        z_limit_s=dev.z_limit_s,
        records=store.record_count(dev.device_id),
        last_seq=last.seq if last is not None else 0,
        last_hash=last.hash.hex() if last is not None else "",
        open_alerts=len(store.alerts(dev.device_id, open_only=True)),
    )


def create_app(store: TaxStore, config: Config) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = None
        if config.monitor_interval_s > 0:

            async def loop() -> None:
                while True:
                    await asyncio.sleep(config.monitor_interval_s)
                    try:
                        await run_in_threadpool(ing.monitor, store, config.now())
                    except Exception:  # keep monitoring; the next round may succeed
                        log.exception("compliance monitor failed")

            task = asyncio.create_task(loop())
        yield
        if task is not None:
            task.cancel()

    app = FastAPI(
        title="payterm tax authority backend",
        version="1",
        description="Device registration, signed fiscal record upload, compliance alerts "
        "(docs/tax.md).",
        lifespan=lifespan,
    )

    @app.exception_handler(ApiError)
    async def api_error(_r: Request, e: ApiError) -> JSONResponse:
        return JSONResponse(
            {"error": {"code": e.code, "message": e.message, **e.extra}}, status_code=e.status
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(_r: Request, e: RequestValidationError) -> JSONResponse:
        fields = [
            {"loc": [str(x) for x in err.get("loc", ())], "msg": str(err.get("msg", ""))}
            for err in e.errors()
        ]
        msg = "; ".join(f"{'.'.join(f['loc'])}: {f['msg']}" for f in fields)
        return JSONResponse(
            {"error": {"code": "invalid_request", "message": msg, "fields": fields}},
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_r: Request, e: StarletteHTTPException) -> JSONResponse:
        code = {
            400: "invalid_request",  # e.g. a body that is not UTF-8 JSON
            404: "not_found",
            405: "method_not_allowed",
            413: "too_large",
        }.get(e.status_code, "http_error")
        return JSONResponse(
            {"error": {"code": code, "message": str(e.detail)}}, status_code=e.status_code
        )

    def admin(authorization: Annotated[str | None, Header()] = None) -> None:
        want = "Bearer " + config.admin_token
        if authorization is None or not hmac.compare_digest(authorization.encode(), want.encode()):
            raise ApiError(401, "unauthorized", "admin endpoints need Authorization: Bearer TOKEN")

    async def device_auth(request: Request, device_id: str) -> Device:
        declared = request.headers.get("content-length", "0")
        if declared.isdigit() and int(declared) > MAX_BODY:
            raise ApiError(413, "too_large", f"body over {MAX_BODY} bytes")
        body = await request.body()
        request.state.body = body
        if len(body) > MAX_BODY:
            raise ApiError(413, "too_large", f"body over {MAX_BODY} bytes")
        h = request.headers
        who, counter, sig = h.get(DEVICE_HEADER), h.get(COUNTER_HEADER), h.get(SIGNATURE_HEADER)
        if who is None or counter is None or sig is None:
            raise ApiError(
                401,
                "unauthorized",
                f"device requests need {DEVICE_HEADER}, {COUNTER_HEADER}, {SIGNATURE_HEADER}",
            )
        if who != device_id:
            raise ApiError(401, "unauthorized", f"{DEVICE_HEADER} is not the device in the path")
        dev = await run_in_threadpool(store.device, device_id)
        if dev is None:
            raise ApiError(404, "unknown_device", f"device {device_id} is not registered")
        try:
            n = int(counter)
            raw = bytes.fromhex(sig)
            if not 0 < n < 1 << 32 or not raw:
                raise ValueError("out of range")
        except ValueError as e:
            raise ApiError(401, "unauthorized", f"bad signature headers: {e}") from e
        key = serialization.load_der_public_key(dev.public_key)
        assert isinstance(key, ec.EllipticCurvePublicKey)
        digest = request_digest(request.method, request.url.path, body)
        try:
            key.verify(
                der_signature(raw), signed_message(digest, n, dev.slot), ec.ECDSA(hashes.SHA256())
            )
        except (InvalidSignature, ValueError) as e:
            raise ApiError(401, "bad_signature", "request signature does not verify") from e
        if not await run_in_threadpool(store.take_auth_counter, device_id, n, config.now()):
            raise ApiError(
                401, "replayed", f"signature counter {n} not above the last one (replay)"
            )
        refreshed = await run_in_threadpool(store.device, device_id)
        assert refreshed is not None
        return refreshed

    def _tsm_upload(dev: Device, res: ing.UploadResult) -> str | None:
        """After the records are stored: the device's TSM status, and the
        alert an upload raises when it is not ``active`` (once per device,
        kind and first seq of the upload)."""
        if config.tsm is None:
            return None
        st = tsm_check.device_status(config.tsm, dev.device_id, dev.certificate)
        kind = tsm_check.UPLOAD_ALERTS.get(st.status)
        if kind is None:
            return st.status
        seq = res.results[0].seq if res.results else None
        detail = f"records stored while the device's TSM status is {st.status}"
        if st.error:
            detail += f": {st.error}"
        elif st.get("reason"):
            detail += f" (reason: {st.get('reason')})"
        aid = store.raise_alert(dev.device_id, kind, seq, detail, config.now())
        if aid is not None:
            res.alerts.append(aid)
        return st.status

    @app.get("/v1/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "time": config.now()}

    @app.post(
        "/v1/devices",
        response_model=DeviceOut,
        status_code=201,
        responses=ERRORS,
        dependencies=[Depends(admin)],
        summary="Register a device with its SE public key and TSM certificate",
    )
    def register(body: DeviceIn) -> DeviceOut | JSONResponse:
        now = config.now()
        try:
            key = public_key_der(body.public_key)
            if body.certificate is not None:
                check_certificate(body.certificate, key, config.ca, now)
            elif config.ca is not None:
                raise RegistrationError(
                    "certificate_required", "this backend needs the TSM's device certificate"
                )
        except RegistrationError as e:
            raise ApiError(400, e.code, str(e)) from e
        if config.tsm is not None:
            try:
                tsm_check.check_registration(config.tsm, body.device_id, key, body.certificate)
            except tsm_check.TsmRefusal as e:
                log.warning("registration of %s refused: %s", body.device_id, e.message)
                raise ApiError(e.status, e.code, e.message) from e
        old = store.device(body.device_id)
        if old is not None:
            if old.public_key != key or old.slot != body.slot:
                raise ApiError(
                    409,
                    "device_conflict",
                    f"device {body.device_id} is registered with another key",
                )
            out = _device_out(store, old, "already_registered")
            return JSONResponse(out.model_dump(), status_code=200)
        dev = Device(
            body.device_id,
            key,
            body.slot,
            body.certificate,
            now,
            None,
            0,
            body.silent_limit_s or config.silent_limit_s,
            body.z_limit_s or config.z_limit_s,
        )
        store.add_device(dev)
        return _device_out(store, dev, "registered")

    @app.get(
        "/v1/devices/{device_id}",
        response_model=DeviceOut,
        responses=ERRORS,
        dependencies=[Depends(admin)],
    )
    def device(device_id: str) -> DeviceOut:
        dev = store.device(device_id)
        if dev is None:
            raise ApiError(404, "unknown_device", f"device {device_id} is not registered")
        return _device_out(store, dev, "registered")

    @app.post(
        "/v1/devices/{device_id}/records",
        response_model=UploadOut,
        responses={**ERRORS, 200: {"description": "every record accepted or already submitted"}},
        summary="Upload records: one (real time) or many (catching up)",
        openapi_extra=_json_body(UploadIn),
    )
    def upload(
        device_id: str,
        request: Request,
        dev: Annotated[Device, Depends(device_auth)],
    ) -> UploadOut | JSONResponse:
        body = _parse(UploadIn, request.state.body)
        raws: list[bytes] = []
        for i, text in enumerate(body.records):
            try:
                raws.append(base64.b64decode(text, validate=True))
            except (binascii.Error, ValueError) as e:
                raise ApiError(400, "bad_base64", f"records[{i}]: {e}", index=i) from e
        try:
            res = ing.ingest(store, dev, raws, config.now())
        except ing.BadUpload as e:
            raise ApiError(400, "bad_record", str(e), index=e.index) from e
        status = _tsm_upload(dev, res)
        out = UploadOut.model_validate(dict(res.as_dict(), tsm_status=status))
        if out.rejected:
            return JSONResponse(out.model_dump(), status_code=409)
        return out

    @app.post(
        "/v1/devices/{device_id}/export",
        response_model=ExportUploadOut,
        responses=ERRORS,
        summary="Upload a whole journal export (PTFX, signed trailer)",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            }
        },
    )
    def upload_export(
        device_id: str, request: Request, dev: Annotated[Device, Depends(device_auth)]
    ) -> ExportUploadOut | JSONResponse:
        data = request.state.body
        try:
            res, verdict = ing.ingest_export(store, dev, data, config.now())
        except ing.BadUpload as e:
            raise ApiError(400, "bad_export", str(e)) from e
        d = dict(res.as_dict(), tsm_status=_tsm_upload(dev, res))
        v = verdict.as_dict()
        d["export"] = {
            "valid": v["valid"],
            "records": v["records"],
            "signed_trailer": v["signed_trailer"],
            "first_failure": v["first_failure"],
        }
        out = ExportUploadOut.model_validate(d)
        if out.rejected or not verdict.ok:
            return JSONResponse(out.model_dump(), status_code=409)
        return out

    @app.get("/v1/keys/clearance", summary="The key that signs cleared invoices' QR")
    def clearance_key() -> dict[str, str]:
        pem = config.clearance_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return {"public_key": pem.decode()}

    @app.post(
        "/v1/devices/{device_id}/invoices",
        response_model=InvoiceOut,
        status_code=201,
        responses={**ERRORS, 200: {"description": "ALREADY_SUBMITTED", "model": InvoiceOut}},
        summary="Clear a UBL 2.1 e-invoice (JoFotara style)",
        openapi_extra=_json_body(InvoiceIn),
    )
    def clear_invoice(
        device_id: str,
        request: Request,
        dev: Annotated[Device, Depends(device_auth)],
    ) -> InvoiceOut | JSONResponse:
        body = _parse(InvoiceIn, request.state.body)
        try:
            xml = base64.b64decode(body.invoice, validate=True)
        except (binascii.Error, ValueError) as e:
            raise ApiError(400, "bad_base64", f"invoice: {e}") from e
        try:
            inv = einvoice.check(xml)
        except einvoice.InvoiceRejected as e:
            raise ApiError(422, e.code, str(e), errors=e.errors, status="NOT_SUBMITTED") from e
        tsm_status = None
        if config.tsm is not None:
            tsm_status = tsm_check.device_status(config.tsm, dev.device_id, dev.certificate).status
            if tsm_status == "revoked":
                raise ApiError(
                    403,
                    "device_revoked",
                    f"device {dev.device_id} is revoked at the TSM: no clearance",
                    status="NOT_SUBMITTED",
                )
        now = config.now()
        with store.lock:
            old = store.invoice_by_uuid(inv.uuid)
            if old is not None:
                if old["device_id"] != dev.device_id or old["invoice_hash"] != inv.digest:
                    raise ApiError(
                        409,
                        "uuid_conflict",
                        f"invoice UUID {inv.uuid} was submitted with other content",
                        status="NOT_SUBMITTED",
                    )
                out = InvoiceOut(
                    status="ALREADY_SUBMITTED",
                    uuid=inv.uuid,
                    invoice_id=old["invoice_id"],
                    qr=old["qr"],
                    hash=inv.digest.hex(),
                    received_at=old["received_at"],
                    tsm_status=tsm_status,
                )
                return JSONResponse(out.model_dump(), status_code=200)
            code = einvoice.qr(inv, config.clearance_key)
            store.add_invoice(
                inv.uuid, dev.device_id, inv.invoice_id, inv.digest, "SUBMITTED", code, xml, now
            )
        return InvoiceOut(
            status="SUBMITTED",
            uuid=inv.uuid,
            invoice_id=inv.invoice_id,
            qr=code,
            hash=inv.digest.hex(),
            received_at=now,
            tsm_status=tsm_status,
        )

    @app.get("/v1/alerts", response_model=list[Alert], dependencies=[Depends(admin)])
    def alerts(
        device_id: Annotated[str | None, Query()] = None,
        open_only: Annotated[bool, Query(alias="open")] = False,
    ) -> list[Alert]:
        return [Alert.model_validate(a) for a in store.alerts(device_id, open_only)]

    @app.post(
        "/v1/alerts/{alert_id}/close",
        response_model=Alert,
        responses=ERRORS,
        dependencies=[Depends(admin)],
    )
    def close_alert(alert_id: int, note: Annotated[str, Query(max_length=500)] = "") -> Alert:
        if not store.close_alert(alert_id, config.now(), note):
            raise ApiError(404, "unknown_alert", f"no open alert {alert_id}")
        for a in store.alerts():
            if a["id"] == alert_id:
                return Alert.model_validate(a)
        raise ApiError(404, "unknown_alert", f"no alert {alert_id}")

    @app.post("/v1/monitor", response_model=MonitorOut, dependencies=[Depends(admin)])
    def run_monitor() -> MonitorOut:
        now = config.now()
        ids = set(ing.monitor(store, now))
        return MonitorOut(
            now=now, raised=[Alert.model_validate(a) for a in store.alerts() if a["id"] in ids]
        )

    @app.get("/v1/audit", response_model=list[AuditEntry], dependencies=[Depends(admin)])
    def audit(
        after: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
    ) -> list[AuditEntry]:
        return [AuditEntry.model_validate(e) for e in store.audit_entries(after, limit)]

    @app.get("/v1/audit/verify", response_model=AuditCheck, dependencies=[Depends(admin)])
    def audit_verify() -> AuditCheck:
        n, bad, head = store.verify_audit()
        return AuditCheck(entries=n, valid=bad is None, first_bad=bad, head=head)

    return app
