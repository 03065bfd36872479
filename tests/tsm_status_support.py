"""Shared by tests/test_tsm_status*.py: the real TSM (hsm_sim/tsm served by
uvicorn on 127.0.0.1, SQLite file), devices enrolled with a proof of
possession by a software SE (tools/fiscal_softsign: the SE's SIGN, counter
and all), revoked through the admin API; an adjustable monotonic clock for
the status client's cache."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from host_sim.tax.server import Running
from hsm_sim.tsm.app import Config, create_app, pop_digest, report_bound
from hsm_sim.tsm.keys import TsmKeys
from hsm_sim.tsm.store import TsmStore
from tools.fiscal_softsign import SoftSigner

ADMIN = "tsm-admin-token-for-status-tests"


class Mono:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def point(signer: SoftSigner) -> str:
    return (
        signer.key.public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        .hex()
    )


class Tsm:
    def __init__(self, tmp: Path) -> None:
        self.store = TsmStore(str(tmp / "tsm.db"))
        self.keys = TsmKeys.load_or_create(tmp / "tsm-keys")
        self.server: Running | None = Running(create_app(self.store, self.keys, Config(ADMIN)))
        self.url = self.server.url

    def call(
        self, method: str, path: str, body: Any = None, admin: bool = False
    ) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if admin:
            req.add_header("Authorization", "Bearer " + ADMIN)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def challenge(self, serial: str, purpose: str) -> str:
        status, ans = self.call("POST", "/v1/challenge", {"serial": serial, "purpose": purpose})
        assert status == 200, ans
        return str(ans["challenge"])

    def proof(
        self, signer: SoftSigner, serial: str, purpose: str, bound: bytes = b""
    ) -> dict[str, Any]:
        ch = self.challenge(serial, purpose)
        sig, counter = signer.sign(pop_digest(purpose, serial, bytes.fromhex(ch) + bound))
        return {"challenge": ch, "slot": 0, "counter": counter, "signature": sig.hex()}

    def enrol(self, signer: SoftSigner, serial: str) -> dict[str, Any]:
        body = dict(self.proof(signer, serial, "enrol"), serial=serial, public_key=point(signer))
        status, ans = self.call("POST", "/v1/enrol", body)
        assert status == 201, ans
        return dict(ans)

    def report(
        self, signer: SoftSigner, serial: str, version: int, ota_slot: str
    ) -> tuple[int, Any]:
        body = dict(
            self.proof(signer, serial, "report", report_bound(version, ota_slot)),
            version=version,
            ota_slot=ota_slot,
        )
        return self.call("POST", f"/v1/devices/{serial}/firmware", body)

    def revoke(self, serial: str, reason: str = "compromised") -> dict[str, Any]:
        status, ans = self.call(
            "POST", f"/v1/devices/{serial}/revoke", {"reason": reason}, admin=True
        )
        assert status == 200 and ans["status"] == "revoked", ans
        return dict(ans)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def close(self) -> None:
        self.stop()
        self.store.close()
