"""`firmware.ota.enrol` (the factory's enrolment program, docs/tsm.md) under
the real MicroPython port through the board runner: enrolled against the
real TSM, the SE's key certified; with no TSM behind the link, a typed
failure line and exit 1, the SE's key made all the same."""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from http_support import RefusingPort

from host_sim.runner import RunOptions, run_async
from host_sim.tax.server import Running
from hsm_sim.tsm import app as tsm_app
from hsm_sim.tsm.keys import TsmKeys
from hsm_sim.tsm.store import TsmStore


def enrol(tmp_path: Path, serial: str, tsm_port: int) -> tuple[int, list[dict[str, Any]]]:
    out: list[str] = []
    options = RunOptions(
        app="firmware.ota.enrol",
        app_args=(serial,),
        nfc_cards=[],
        contact_card=None,
        timeout=60.0,
        workdir=tmp_path,
        handle_signals=False,
        endpoints={"net1": f"127.0.0.1:{tsm_port}"},
    )
    code = asyncio.run(run_async(options, None, out.append, lambda _t: None))
    lines = []
    for line in "".join(out).splitlines():
        kind, _, body = line.partition(" ")
        if kind in ("ENROLLED", "ENROL_FAILED"):
            lines.append({"kind": kind, **json.loads(body)})
    return code, lines


def test_enrolled_against_the_tsm_then_refused_without_it(tmp_path: Path) -> None:
    keys = TsmKeys.generate()
    store = TsmStore(str(tmp_path / "tsm.sqlite"))
    tsm = Running(tsm_app.create_app(store, keys, tsm_app.Config(secrets.token_hex(8))))
    try:
        code, lines = enrol(tmp_path, "PT-ENROL-1", tsm.port)
    finally:
        tsm.stop()
        store.close()
    assert code == 0, lines
    (done,) = lines
    cert = x509.load_pem_x509_certificate(done["certificate"].encode())
    cert.verify_directly_issued_by(keys.ca_cert)
    point = cert.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert point.hex() == done["public_key"]
    assert "PT-ENROL-1" in cert.subject.rfc4514_string()

    with RefusingPort() as away:
        code, lines = enrol(tmp_path, "PT-ENROL-1", away.port)
    assert code == 1
    assert [line["kind"] for line in lines] == ["ENROL_FAILED"]
    assert lines[0]["error"] == "TsmUnreachable", lines
