"""The tax backend with ``--tsm`` (docs/tax.md, "Device status at the
TSM"), end to end over HTTP on 127.0.0.1: the real TSM (uvicorn, SQLite)
enrols devices whose software SE (tools/fiscal_softsign) proves its key,
the real tax backend (uvicorn, SQLite, the TSM's CA) registers them, takes
their signed records and clears their invoices. A device revoked through
the TSM's admin API: once the cached answer has expired, its registration is
refused, its records are still stored and verified but answered
``device_revoked`` with an alert, its invoices refused 403. The TSM down:
registration fails closed (503), uploads and clearance fail open with a
``tsm_unreachable`` alert, the known revocation still holds."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tax_support import Backend, Clock
from test_tax_einvoice import ubl
from tsm_status_support import Mono, Tsm, point

from host_sim.tax.client import Response
from host_sim.tax.devices import load_ca
from hsm_sim.tsm.status_client import TsmStatusClient
from protocols import fiscal_payload as fp
from protocols import fiscal_record as fr
from tools.fiscal_softsign import SoftSigner


class Device:
    """A terminal: its TSM serial, its tax device ID, its SE, its journal."""

    def __init__(self, serial: str, device_id: str, seed: int) -> None:
        self.serial = serial
        self.device_id = device_id
        self.se = SoftSigner(seed)
        self.prev = fr.ZERO_HASH
        self.seq = 0
        self.t = int(time.time()) - 3600
        self.cert = ""

    def record(self) -> bytes:
        """The next journal record (a power-on event), signed by the SE."""
        self.seq += 1
        self.t += 60
        rec = fr.Record(
            fr.POWER_ON,
            self.device_id,
            self.seq,
            self.t,
            self.prev,
            fr.Counters(),
            fp.encode_event(fp.Event(1, 0, "boot")),
        )
        rec.signature, rec.sig_counter = self.se.sign(rec.digest())
        self.prev = rec.hash()
        return rec.encode()


@pytest.fixture
def tsm(tmp_path: Path) -> Iterator[Tsm]:
    t = Tsm(tmp_path)
    yield t
    t.close()


def _register(be: Backend, dev: Device) -> Response:
    return be.client.register(dev.device_id, point(dev.se), dev.cert)


def _clear(be: Backend, dev: Device) -> tuple[Response, str]:
    uid = str(uuid.uuid4())
    body = json.dumps({"invoice": base64.b64encode(ubl(uid)).decode()}).encode()
    path = f"/v1/devices/{dev.device_id}/invoices"
    return be.client.signed("POST", path, body, dev.device_id, dev.se), uid


def _code(r: Response) -> tuple[int, str]:
    return r.status, r.json()["error"]["code"]


def test_tax_backend_checks_the_device_status_at_the_tsm(tmp_path: Path, tsm: Tsm) -> None:
    mono = Mono()
    client = TsmStatusClient(tsm.url, ttl=60, timeout=2, retry=5, clock=mono)
    be = Backend(
        tmp_path / "tax.sqlite",
        Clock(time.time()),
        ca=load_ca(tsm.keys.ca_pem.encode()),
        tsm=client,
    )
    try:
        _scenario(be, tsm, client, mono)
    finally:
        be.close()


def _scenario(be: Backend, tsm: Tsm, client: TsmStatusClient, mono: Mono) -> None:
    a = Device("PTSE-TAX-0001", "PT-TAX-A", 51)  # registered, then revoked
    b = Device("PTSE-TAX-0002", "PT-TAX-B", 52)  # revoked before it registers
    c = Device("PTSE-TAX-0003", "PT-TAX-C", 53)  # stays active
    d = Device("PTSE-TAX-0004", "PT-TAX-D", 54)  # registers while the TSM is down
    for dev in (a, b, c, d):
        dev.cert = tsm.enrol(dev.se, dev.serial)["certificate"]

    # active at the TSM: registered; its records answered "active", no alert
    assert _register(be, a).status == 201
    assert _register(be, c).status == 201
    r = be.client.upload(a.device_id, [a.record()], a.se)
    assert r.status == 200 and r.json()["tsm_status"] == "active" and r.json()["alerts"] == []
    r, _uid = _clear(be, a)
    assert r.status == 201 and r.json()["tsm_status"] == "active"

    # a certificate that is not the current one: superseded by a renewal
    old = c.cert
    renew = tsm.proof(c.se, c.serial, "renew")
    status, renewed = tsm.call("POST", f"/v1/devices/{c.serial}/renew", renew)
    assert status == 200
    stale = Device(c.serial, "PT-TAX-C2", 53)
    stale.se, stale.cert = c.se, old
    assert _code(_register(be, stale)) == (403, "certificate_revoked")
    stale.cert = renewed["certificate"]
    assert _register(be, stale).status == 201

    # revoked through the TSM's admin API
    tsm.revoke(a.serial, "stolen")
    tsm.revoke(b.serial, "stolen")
    # b has never been asked for: refused at once
    assert _code(_register(be, b)) == (403, "device_revoked")
    assert be.store.device(b.device_id) is None
    # a's "active" is still cached (60 s): accepted as active
    mono.t += 30
    r = be.client.upload(a.device_id, [a.record()], a.se)
    assert r.status == 200 and r.json()["tsm_status"] == "active"
    # the TTL passes: the next upload learns the revocation
    mono.t += 31
    rec3 = a.record()
    fetches = client.fetches
    r = be.client.upload(a.device_id, [rec3], a.se)
    assert r.status == 200, r
    out = r.json()
    assert out["tsm_status"] == "revoked" and out["accepted"] == 1
    assert client.fetches == fetches + 1
    (alert,) = [x for x in be.client.alerts(a.device_id) if x["kind"] == "device_revoked"]
    assert out["alerts"] == [alert["id"]] and alert["seq"] == 3 and "stolen" in alert["detail"]
    assert be.store.record_count(a.device_id) == 3  # every record is kept
    assert be.store.last_record(a.device_id).raw == rec3  # type: ignore[union-attr]
    # sent again: already submitted, still said, the alert not raised twice
    r = be.client.upload(a.device_id, [rec3], a.se)
    assert r.status == 200 and r.json()["tsm_status"] == "revoked" and r.json()["alerts"] == []
    assert r.json()["already_submitted"] == 1
    # a record that does not verify is still refused as such
    saved = (a.seq, a.prev, a.t)
    forged = bytearray(a.record())
    a.seq, a.prev, a.t = saved
    forged[-1] ^= 1
    r = be.client.upload(a.device_id, [bytes(forged)], a.se)
    assert r.status == 409 and r.json()["tsm_status"] == "revoked"
    # invoice clearance refused, nothing cleared
    r, uid = _clear(be, a)
    assert _code(r) == (403, "device_revoked")
    assert r.json()["error"]["status"] == "NOT_SUBMITTED"
    assert be.store.invoice_by_uuid(uid) is None
    # registering it again is refused as well
    assert _code(_register(be, a)) == (403, "device_revoked")

    # the TSM goes down
    tsm.stop()
    mono.t += 61  # c's answer has expired
    assert _code(_register(be, d)) == (503, "tsm_unreachable")  # fails closed
    assert be.store.device(d.device_id) is None
    r = be.client.upload(c.device_id, [c.record()], c.se)  # fails open
    assert r.status == 200 and r.json()["accepted"] == 1, r
    assert r.json()["tsm_status"] == "unreachable"
    (down,) = [x for x in be.client.alerts(c.device_id) if x["kind"] == "tsm_unreachable"]
    assert r.json()["alerts"] == [down["id"]] and "ConnectionRefusedError" in down["detail"]
    r, uid = _clear(be, c)
    assert r.status == 201 and r.json()["tsm_status"] == "unreachable"
    assert be.store.invoice_by_uuid(uid) is not None
    # the revocation seen before is kept: a still refused, its records kept
    r, _uid = _clear(be, a)
    assert _code(r) == (403, "device_revoked")
    r = be.client.upload(a.device_id, [a.record()], a.se)
    assert r.status == 200 and r.json()["tsm_status"] == "revoked"
    assert be.store.record_count(a.device_id) == 4

    # the audit chain holds every step
    assert be.client.admin("GET", "/v1/audit/verify").json()["valid"] is True


def test_a_tsm_that_does_not_know_the_device_or_its_key(tmp_path: Path, tsm: Tsm) -> None:
    """The backend trusts the CA of one TSM and asks another (a TSM that
    enrolled the serial under another key, or whose database was lost)."""
    (tmp_path / "other").mkdir()
    (tmp_path / "empty").mkdir()
    other, empty = Tsm(tmp_path / "other"), Tsm(tmp_path / "empty")
    be = Backend(
        tmp_path / "tax.sqlite",
        Clock(time.time()),
        ca=load_ca(tsm.keys.ca_pem.encode()),
        tsm=TsmStatusClient(other.url, ttl=60),
    )
    try:
        a = Device("PTSE-TAX-0011", "PT-TAX-K", 81)
        a.cert = tsm.enrol(a.se, a.serial)["certificate"]
        assert _code(_register(be, a)) == (403, "device_not_enrolled")
        assert be.store.device(a.device_id) is None
        other.enrol(SoftSigner(82), a.serial)  # the same serial, another SE key
        assert _code(_register(be, a)) == (403, "tsm_key_mismatch")
        # registered against the right TSM; then asked at upload by one that
        # does not know it: stored, "unknown", alert device_not_active
        be.config.tsm = TsmStatusClient(tsm.url)
        assert _register(be, a).status == 201
        be.config.tsm = TsmStatusClient(empty.url)
        r = be.client.upload(a.device_id, [a.record()], a.se)
        assert r.status == 200 and r.json()["accepted"] == 1
        assert r.json()["tsm_status"] == "unknown"
        (alert,) = be.client.alerts(a.device_id)
        assert alert["kind"] == "device_not_active" and r.json()["alerts"] == [alert["id"]]
        r, _uid = _clear(be, a)  # only a revocation refuses clearance
        assert r.status == 201 and r.json()["tsm_status"] == "unknown"
    finally:
        be.close()
        other.close()
        empty.close()
