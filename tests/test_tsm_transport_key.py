"""Initial DUKPT key loading under a transport key established with the
device, end to end: the SE emulator on the sim board's I2C bus (TCP), the
firmware's SE driver and ``firmware.secure.kbpk`` under real MicroPython,
the TSM over real HTTP with a SQLite file, the payShield-style HSM over TCP.

The device registers its SE key-agreement key (vouched for by its enrolled
SE key), asks for a key block with a fresh SE nonce, runs KEY_AGREE with the
TSM's signed ephemeral key, loads the block, confirms; the SE's PIN block
then translates at the HSM under the TSM's BDK.  Refused: a block under the
old personalisation KBPK, a block under another device's agreed KBPK, a
forged key-loading signature, a replayed TSM answer, a wrong confirmation, a
foreign key-agreement key.  The KBPK, the confirmation key, Z, the initial
key and the BDK appear in no response, database file, log line or firmware
output."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psec.pinblock
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hsm_support import lmk_block, running_hsm
from se_support import SeServer, Wire, dukpt_block, secret_hexes

import boards
from host_sim.tax.server import Running
from hsm_sim.client import HsmClient
from hsm_sim.crypto import dukpt_aes
from hsm_sim.se import kagree
from hsm_sim.se.engine import Engine
from hsm_sim.tsm.app import Config, create_app, pop_digest
from hsm_sim.tsm.keys import TsmKeys, sign_raw
from hsm_sim.tsm.store import TsmStore
from protocols import se_app as sa
from protocols import se_frame as sf
from tools import mpytest

HEAP = boards.load("sim")["memory"]["heap"]
SERIAL = "PTSE-TEST-0001"  # the serial se_support.SeServer personalises
OTHER = "PT-OTHER-0002"
PAN = "4761739001010010"
ZPK_AES = bytes(range(0x40, 0x50))

HEADER = """
import json, boards
from firmware.drivers.se import SecureElement
from firmware.secure import SecureElementApp, SeNotAllowed
from firmware.secure import kbpk
from firmware.ota import tsm
board = boards.open_board("sim")
se = SecureElementApp(SecureElement(board.bus_for("secure_element"),
                      board.device("secure_element")["addr"], board.rtc()))
def out(x):
    print("OUT " + json.dumps(x))
def refused(f, *a):
    try:
        f(*a)
    except SeNotAllowed as e:
        return e.name
    return "accepted"
"""

ENROL = """
se.generate_key()
out(tsm.enrol_request(se, %r, %r))
board.deinit()
"""

REQUESTS = """
out(kbpk.register_request(se, %r, %r))
out(kbpk.dukpt_request(se, %r, %r))
board.deinit()
"""

INSTALL = """
confirm, ksn = kbpk.install(se, json.loads(%r))
pin = bytearray(b"1234")
block, pksn = se.pin_block(pin, %r)
out({"confirm": confirm, "ksn": ksn.hex(), "block": block.hex(), "pin_ksn": pksn.hex(),
     "pin_wiped": pin == bytearray(4)})
out({"old_kbpk": refused(se.load_dukpt, %r), "other_device": refused(se.load_dukpt, %r)})
board.deinit()
"""

NEXT_REQUEST = """
out(kbpk.dukpt_request(se, %r, %r))
board.deinit()
"""

TRY_INSTALL = """
out({"result": refused(kbpk.install, se, json.loads(%r))})
out({"reload": se.load_dukpt(%r).hex()})
board.deinit()
"""


class Tsm:
    def __init__(self, tmp: Path) -> None:
        self.db = tmp / "tsm.db"
        self.store = TsmStore(str(self.db))
        self.keys = TsmKeys.load_or_create(tmp / "keys")
        self.server = Running(create_app(self.store, self.keys, Config("t")))
        self.responses: list[str] = []

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        req = urllib.request.Request(
            self.server.url + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, text = r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode()
        self.responses.append(text)
        return status, json.loads(text)

    def challenge(self, serial: str, purpose: str) -> str:
        st, body = self.post("/v1/challenge", {"serial": serial, "purpose": purpose})
        assert st == 200, body
        return str(body["challenge"])

    def stop(self) -> None:
        self.server.stop()
        self.store.close()


@pytest.fixture
def tsm(tmp_path: Path) -> Iterator[Tsm]:
    t = Tsm(tmp_path)
    yield t
    t.stop()


@pytest.fixture
def se_server(tmp_path: Path) -> Iterator[SeServer]:
    srv = SeServer(tmp_path / "se.json")
    yield srv
    srv.close()


class Firmware:
    def __init__(self, tmp: Path, port: int) -> None:
        self.tmp = tmp
        self.port = port
        self.stdout = ""

    def run(self, code: str) -> list[Any]:
        script = self.tmp / "kbpk_fw.py"
        script.write_text(HEADER + code)
        env = {"PAYTERM_SIM_I2C0": f"127.0.0.1:{self.port}"}
        proc = mpytest.run_script(script, HEAP, env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        self.stdout += proc.stdout + proc.stderr
        return mpytest.json_lines(proc.stdout)


class OtherDevice:
    """A second terminal's SE (in process): enrolled, registered, and given
    its own key block under its own agreed KBPK."""

    def __init__(self, path: Path, tsm: Tsm) -> None:
        self.engine = Engine.open(path, "test", OTHER)
        pub = self.ok(sa.CMD_GENERATE_KEY, b"\0")
        c = tsm.challenge(OTHER, "enrol")
        st, _ = tsm.post(
            "/v1/enrol", {"serial": OTHER, "public_key": pub.hex(), **self.proof("enrol", c)}
        )
        assert st == 201
        ka = self.ok(sa.CMD_KA_PUBLIC_KEY, b"")
        c = tsm.challenge(OTHER, "transport-key")
        st, e = tsm.post(
            f"/v1/devices/{OTHER}/transport-key",
            {**self.proof("transport-key", c, ka[:-1] + b"\0"), "ka_public": ka.hex()},
        )
        assert (st, e["error"]["code"]) == (403, "bad_proof")  # the proof binds the key
        c = tsm.challenge(OTHER, "transport-key")
        body = {**self.proof("transport-key", c, ka), "ka_public": ka.hex()}
        assert tsm.post(f"/v1/devices/{OTHER}/transport-key", body)[0] == 200
        c = tsm.challenge(OTHER, "dukpt")
        nonce = self.ok(sa.CMD_KBPK_NONCE, b"")
        st, kb = tsm.post(
            f"/v1/devices/{OTHER}/dukpt", {**self.proof("dukpt", c), "se_nonce": nonce.hex()}
        )
        assert st == 200
        self.ok(sa.CMD_KEY_AGREE, bytes.fromhex(kb["ephemeral_public"] + kb["signature"]))
        self.ok(sa.CMD_LOAD_DUKPT, kb["key_block"].encode())
        self.block = str(kb["key_block"])

    def ok(self, cmd: int, payload: bytes) -> bytes:
        status, body = self.engine.execute(cmd, payload)
        assert status == 0, (hex(cmd), status)
        return body

    def proof(self, purpose: str, challenge: str, bound: bytes = b"") -> dict[str, Any]:
        digest = pop_digest(purpose, OTHER, bytes.fromhex(challenge) + bound)
        body = self.ok(sa.CMD_SIGN, b"\x00\x00" + digest)
        return {
            "challenge": challenge,
            "slot": 0,
            "counter": int.from_bytes(body[:4], "big"),
            "signature": body[4:].hex(),
        }


def test_dukpt_under_the_agreed_transport_key_end_to_end(
    tmp_path: Path, tsm: Tsm, se_server: SeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fw = Firmware(tmp_path, se_server.port)
    other = OtherDevice(tmp_path / "other.json", tsm)

    # enrolment (SE key, SE signature), then the transport-key requests
    (req,) = fw.run(ENROL % (SERIAL, tsm.challenge(SERIAL, "enrol")))
    assert tsm.post("/v1/enrol", req)[0] == 201
    ch_t, ch_d = tsm.challenge(SERIAL, "transport-key"), tsm.challenge(SERIAL, "dukpt")
    treq, dreq = fw.run(REQUESTS % (SERIAL, ch_t, SERIAL, ch_d))
    st, reg = tsm.post(f"/v1/devices/{SERIAL}/transport-key", treq)
    assert st == 200, reg
    # the same key again is fine; a spent challenge is not
    assert tsm.post(f"/v1/devices/{SERIAL}/transport-key", treq)[1]["error"]["code"] == (
        "bad_challenge"
    )
    st, kb = tsm.post(f"/v1/devices/{SERIAL}/dukpt", dreq)
    assert st == 200, kb
    assert kb["ka_public"] == reg["ka_public"] == treq["ka_public"]

    # the firmware agrees the KBPK in its SE, loads the block, makes a PIN block
    old_block = dukpt_block()  # under the TEST personalisation KBPK
    got, refusals = fw.run(INSTALL % (json.dumps(kb), PAN, old_block, other.block))
    ikid = bytes.fromhex(kb["ikid"])
    assert got["ksn"] == ikid.hex() + "00000001"
    assert got["pin_wiped"] is True
    assert refusals == {"old_kbpk": "NOT_ALLOWED", "other_device": "NOT_ALLOWED"}

    # the key confirmation: wrong refused, the SE's accepted
    path = f"/v1/devices/{SERIAL}/dukpt/confirm"
    wrong = dict(got["confirm"], confirmation="11" * 16)
    assert tsm.post(path, wrong)[1]["error"]["code"] == "bad_confirmation"
    assert tsm.post(f"/v1/devices/{OTHER}/dukpt/confirm", got["confirm"])[0] == 404
    st, conf = tsm.post(path, got["confirm"])
    assert (st, conf["status"]) == (200, "confirmed"), conf

    # the SE's PIN block translates at the HSM under the TSM's BDK
    with running_hsm() as hsm, HsmClient(hsm.host, hsm.port) as client:
        out = client.translate_pin_dukpt(
            lmk_block("B0", tsm.keys.bdk, "A", "X"),
            lmk_block("P0", ZPK_AES, "A"),
            bytes.fromhex(got["pin_ksn"]),
            bytes.fromhex(got["block"]),
            4,
            PAN,
        )
    assert psec.pinblock.decipher_pinblock_iso_4(ZPK_AES, out.pin_block, PAN) == "1234"

    # a forged key-loading signature on the ephemeral key: refused, and the
    # agreed KBPK stays (the first block still loads)
    (dreq2,) = fw.run(NEXT_REQUEST % (SERIAL, tsm.challenge(SERIAL, "dukpt")))
    st, kb2 = tsm.post(f"/v1/devices/{SERIAL}/dukpt", dreq2)
    assert st == 200
    eph2 = bytes.fromhex(kb2["ephemeral_public"])
    forger = ec.generate_private_key(ec.SECP256R1())
    message = sa.key_agree_message(eph2, bytes.fromhex(dreq2["se_nonce"]), SERIAL)
    forged = dict(kb2, signature=sign_raw(forger, message).hex())
    result, reload = fw.run(TRY_INSTALL % (json.dumps(forged), kb["key_block"]))
    assert result == {"result": "NOT_ALLOWED"}
    assert reload == {"reload": ikid.hex() + "00000001"}
    # a replayed TSM answer (its nonce is spent) under a fresh nonce: refused
    fw.run(NEXT_REQUEST % (SERIAL, tsm.challenge(SERIAL, "dukpt")))
    result, reload = fw.run(TRY_INSTALL % (json.dumps(kb), kb["key_block"]))
    assert result == {"result": "NOT_ALLOWED"}
    assert reload == {"reload": ikid.hex() + "00000001"}
    # a genuine second load goes through; then the first block no longer opens
    (dreq4,) = fw.run(NEXT_REQUEST % (SERIAL, tsm.challenge(SERIAL, "dukpt")))
    st, kb4 = tsm.post(f"/v1/devices/{SERIAL}/dukpt", dreq4)
    assert st == 200
    got4, refusals4 = fw.run(INSTALL % (json.dumps(kb4), PAN, kb["key_block"], other.block))
    assert got4["ksn"] == kb4["ikid"].lower() + "00000001"
    assert refusals4 == {"old_kbpk": "NOT_ALLOWED", "other_device": "NOT_ALLOWED"}
    assert tsm.post(path, got4["confirm"])[1]["status"] == "confirmed"
    # another key-agreement key for this device is refused by the TSM
    wire = Wire(se_server.port)
    try:
        c = tsm.challenge(SERIAL, "transport-key")
        foreign = bytes.fromhex(other.engine.execute(sa.CMD_KA_PUBLIC_KEY, b"")[1].hex())
        st, body = wire.request(
            sa.CMD_SIGN, b"\0\0" + pop_digest("transport-key", SERIAL, bytes.fromhex(c) + foreign)
        )
        assert st == sf.ST_OK
    finally:
        wire.close()
    body_tk = {
        "challenge": c,
        "slot": 0,
        "counter": int.from_bytes(body[:4], "big"),
        "signature": body[4:].hex(),
        "ka_public": foreign.hex(),
    }
    st, e = tsm.post(f"/v1/devices/{SERIAL}/transport-key", body_tk)
    assert (st, e["error"]["code"]) == (409, "ka_key_mismatch")

    # nothing secret anywhere: responses, database files, logs, firmware output
    engine = se_server.engine
    kbpk = engine.store.unwrap("kbpk", engine.store.data["secrets"]["kbpk"])
    ka_private = engine.store.unwrap("ka:private", engine.store.data["ka"]["private"])
    secrets: list[bytes] = [ka_private, tsm.keys.bdk]
    for answer, request in ((kb, dreq), (kb4, dreq4)):
        eph = bytes.fromhex(answer["ephemeral_public"])
        nonce = bytes.fromhex(request["se_nonce"])
        z = kagree.ecdh(ka_private, eph)
        fixed = sa.ka_fixed_info(SERIAL, eph, bytes.fromhex(answer["ka_public"]), nonce)
        dkm = kagree.one_step_kdf(z, fixed, sa.KA_KDF_BITS)
        ik = dukpt_aes.initial_key(tsm.keys.bdk, bytes.fromhex(answer["ikid"]))
        secrets += [dkm[:32], dkm[32:], z, ik]
    assert secrets[-4] == kbpk  # the SE holds the KBPK of the last agreement
    db_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("tsm.db*") if p.is_file())
    text = (
        "\n".join(tsm.responses)
        + "\n".join(r.getMessage() for r in caplog.records)
        + fw.stdout
        + db_bytes.decode("latin-1")
        + (tmp_path / "se.json").read_text()
    )
    assert "1234" not in "\n".join(r.getMessage() for r in caplog.records)
    for spelled in secret_hexes(*secrets):
        assert spelled not in text
    for secret in secrets:
        assert secret not in db_bytes
    row = tsm.store.one("SELECT * FROM key_loads WHERE ikid = ?", ikid.hex())
    assert row is not None and row["status"] == "confirmed"
    assert len(row["kc_digest"]) == 64
