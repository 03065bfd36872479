"""A client of the tax backend (tests, the demo, a terminal's uploader on
the host side): admin calls with the bearer token, device calls signed by
the device's secure element (any object with ``sign(digest) -> (signature,
counter)``, e.g. the SE emulator's client or ``tools.fiscal_softsign``)."""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Iterable
from typing import Any, Protocol
from urllib.parse import urlsplit

from .app import COUNTER_HEADER, DEVICE_HEADER, SIGNATURE_HEADER, request_digest


class Signer(Protocol):
    def sign(self, digest: bytes) -> tuple[bytes, int]: ...


class Response:
    def __init__(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.status = status
        self.body = body
        self.headers = headers

    def json(self) -> Any:
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"Response({self.status}, {self.body[:200]!r})"


class TaxClient:
    def __init__(self, url: str, admin_token: str | None = None, timeout: float = 30.0) -> None:
        u = urlsplit(url)
        self.host = u.hostname or "127.0.0.1"
        self.port = u.port or 80
        self.admin_token = admin_token
        self.timeout = timeout

    def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Response:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            h = {"Content-Type": "application/json"}
            h.update(headers or {})
            conn.request(method, path, body=body or None, headers=h)
            r = conn.getresponse()
            return Response(r.status, r.read(), {k.lower(): v for k, v in r.getheaders()})
        finally:
            conn.close()

    def admin(self, method: str, path: str, obj: Any = None) -> Response:
        h = {"Authorization": f"Bearer {self.admin_token}"} if self.admin_token else {}
        body = b"" if obj is None else json.dumps(obj).encode()
        return self.request(method, path, body, h)

    def signed(
        self, method: str, path: str, body: bytes, device_id: str, signer: Signer
    ) -> Response:
        sig, counter = signer.sign(request_digest(method, path, body))
        h = {DEVICE_HEADER: device_id, COUNTER_HEADER: str(counter), SIGNATURE_HEADER: sig.hex()}
        return self.request(method, path, body, h)

    # -- the API -------------------------------------------------------
    def register(
        self, device_id: str, public_key: str, certificate: str | None = None, **kw: Any
    ) -> Response:
        obj: dict[str, Any] = {"device_id": device_id, "public_key": public_key, **kw}
        if certificate is not None:
            obj["certificate"] = certificate
        return self.admin("POST", "/v1/devices", obj)

    def upload(self, device_id: str, records: Iterable[bytes], signer: Signer) -> Response:
        body = json.dumps({"records": [base64.b64encode(r).decode() for r in records]}).encode()
        return self.signed("POST", f"/v1/devices/{device_id}/records", body, device_id, signer)

    def upload_export(self, device_id: str, export: bytes, signer: Signer) -> Response:
        path = f"/v1/devices/{device_id}/export"
        sig, counter = signer.sign(request_digest("POST", path, export))
        h = {
            DEVICE_HEADER: device_id,
            COUNTER_HEADER: str(counter),
            SIGNATURE_HEADER: sig.hex(),
            "Content-Type": "application/octet-stream",
        }
        return self.request("POST", path, export, h)

    def device(self, device_id: str) -> Response:
        return self.admin("GET", f"/v1/devices/{device_id}")

    def alerts(self, device_id: str | None = None, open_only: bool = False) -> list[Any]:
        q = []
        if device_id is not None:
            q.append(f"device_id={device_id}")
        if open_only:
            q.append("open=true")
        r = self.admin("GET", "/v1/alerts" + ("?" + "&".join(q) if q else ""))
        if r.status != 200:
            raise RuntimeError(f"alerts: {r}")
        out: list[Any] = r.json()
        return out

    def monitor(self) -> Response:
        return self.admin("POST", "/v1/monitor")
