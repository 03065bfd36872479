"""The terminal's side of enrolment and key loading under real MicroPython:
the firmware (firmware/ota/tsm.py) asks its secure element — the SE emulator
on the sim board's I2C bus over TCP — to answer TSM challenges; the test
relays the JSON bodies to the TSM over real HTTP (the device's HTTP client
is not part of this piece). The issued certificate goes into the SE's
certificate slot; the SE's key-agreement key is registered, the TSM's
DUKPT key block goes into the SE under the KBPK agreed by KEY_AGREE, and the
SE's key confirmation is accepted (the fuller end-to-end with the HSM and the
refusals is tests/test_tsm_transport_key.py)."""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from se_support import SeServer

import boards
from firmware.ota import tsm as fw_tsm
from host_sim.tax.server import Running
from hsm_sim.tsm.app import Config, create_app, pop_digest
from hsm_sim.tsm.keys import TsmKeys
from hsm_sim.tsm.store import TsmStore
from tools import mpytest

HEAP = boards.load("sim")["memory"]["heap"]
SERIAL = "PTSE-TEST-0001"

HEADER = """
import json, boards
from firmware.drivers.se import SecureElement
from firmware.secure import SecureElementApp
from firmware.ota import tsm
from firmware.secure import kbpk
board = boards.open_board("sim")
se = SecureElementApp(SecureElement(board.bus_for("secure_element"),
                      board.device("secure_element")["addr"], board.rtc()))
def out(x):
    print("OUT " + json.dumps(x))
"""

ENROL = """
se.generate_key()
out(tsm.enrol_request(se, %r, %r))
board.deinit()
"""

STORE = """
answer = json.loads(%r)
n = tsm.store_certificate(se, answer)
out({"stored": n, "read": se.read_cert().hex()})
out(kbpk.register_request(se, %r, %r))
out(kbpk.dukpt_request(se, %r, %r))
board.deinit()
"""

LOAD = """
confirm, ksn = kbpk.install(se, json.loads(%r))
out({"ksn": ksn.hex(), "confirm": confirm})
board.deinit()
"""


@pytest.fixture
def se_server(tmp_path: Path) -> Iterator[SeServer]:
    srv = SeServer(tmp_path / "se.json")
    yield srv
    srv.close()


@pytest.fixture
def tsm(tmp_path: Path) -> Iterator[Running]:
    store = TsmStore(str(tmp_path / "tsm.db"))
    keys = TsmKeys.load_or_create(tmp_path / "keys")
    srv = Running(create_app(store, keys, Config("t")))
    yield srv
    srv.stop()
    store.close()


def _post(srv: Running, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    req = urllib.request.Request(
        srv.url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _mpy(tmp_path: Path, port: int, code: str) -> list[Any]:
    script = tmp_path / "tsm_fw.py"
    script.write_text(HEADER + code)
    proc = mpytest.run_script(script, HEAP, env={"PAYTERM_SIM_I2C0": f"127.0.0.1:{port}"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return mpytest.json_lines(proc.stdout)


def test_pop_digest_is_the_same_on_both_sides() -> None:
    for purpose in ("enrol", "renew", "dukpt"):
        c = hashlib.sha256(purpose.encode()).digest()
        assert fw_tsm.pop_digest(purpose, "PT-9", c) == pop_digest(purpose, "PT-9", c)
    with pytest.raises(ValueError):
        fw_tsm.pop_digest("root", "PT-9", b"")


def test_enrol_store_certificate_and_load_dukpt(
    tmp_path: Path, se_server: SeServer, tsm: Running
) -> None:
    port = se_server.port
    st, ch = _post(tsm, "/v1/challenge", {"serial": SERIAL, "purpose": "enrol"})
    assert st == 200
    (req,) = _mpy(tmp_path, port, ENROL % (SERIAL, ch["challenge"]))
    assert req["counter"] == 1 and req["slot"] == 0 and len(req["public_key"]) == 130
    st, cert = _post(tsm, "/v1/enrol", req)
    assert st == 201, cert
    # the same request again: its challenge is spent
    assert _post(tsm, "/v1/enrol", req)[1]["error"]["code"] == "bad_challenge"

    st, ch2 = _post(tsm, "/v1/challenge", {"serial": SERIAL, "purpose": "transport-key"})
    st, ch3 = _post(tsm, "/v1/challenge", {"serial": SERIAL, "purpose": "dukpt"})
    script = STORE % (json.dumps(cert), SERIAL, ch2["challenge"], SERIAL, ch3["challenge"])
    stored, treq, dreq = _mpy(tmp_path, port, script)
    der = x509.load_pem_x509_certificate(cert["certificate"].encode()).public_bytes(
        serialization.Encoding.DER
    )
    assert stored == {"stored": len(der), "read": der.hex()}
    assert (treq["counter"], dreq["counter"]) == (2, 3)
    st, reg = _post(tsm, f"/v1/devices/{SERIAL}/transport-key", treq)
    assert st == 200, reg
    st, kb = _post(tsm, f"/v1/devices/{SERIAL}/dukpt", dreq)
    assert st == 200, kb
    (loaded,) = _mpy(tmp_path, port, LOAD % json.dumps(kb))
    assert loaded["ksn"] == kb["ikid"].lower() + "00000001"
    st, conf = _post(tsm, f"/v1/devices/{SERIAL}/dukpt/confirm", loaded["confirm"])
    assert (st, conf["status"]) == (200, "confirmed"), conf
