"""The terminal's TSM client end to end: firmware/ota/client.py under the
real MicroPython unix port on the sim board, talking HTTP over the board's
``net1`` link (boards.sim.net.Dialer, a TCP connection per request) to the
real TSM (hsm_sim/tsm served by uvicorn on 127.0.0.1, SQLite), with the SE
emulator on the board's I2C bus. Enrolment, signed parameters applied to
the EMV configuration, an OTA package streamed into slot B of the board's
littlefs OTA area (a package larger than the interpreter's whole heap),
trial boot from the slot, confirm; a package altered in flight, a truncated
download and a TSM that is down, each refused with nothing installed; a
chunked transfer through a relay; the DUKPT key loaded into the SE."""

from __future__ import annotations

import hashlib
import json
import socket
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from http_support import HttpRelay, RefusingPort
from se_support import SeServer

import boards
from host_sim.tax.server import Running
from hsm_sim.crypto import dukpt_aes, mac
from hsm_sim.tsm.app import Config, create_app
from hsm_sim.tsm.keys import TsmKeys
from hsm_sim.tsm.store import TsmStore
from protocols.crypto import aes_dukpt
from tools import mpytest
from tools import ota_package as op

SERIAL = "PTSE-TEST-0001"
ADMIN = "admin-token-for-tests"
HEAP = boards.load("sim")["memory"]["heap"]
OTA_HEAP = "256K"  # the OTA phases: a package larger than this cannot be held in RAM

HEADER = """
import json, sys, boards
from binascii import unhexlify
from boards.sim.net import Dialer
from firmware.drivers.se import SecureElement
from firmware.secure import SecureElementApp
from firmware.ota import Ota, OtaError
from firmware.ota import client as tc
RELEASE = unhexlify(%r)
board = boards.open_board("sim")
se = SecureElementApp(SecureElement(board.bus_for("secure_element"),
                      board.device("secure_element")["addr"], board.rtc()))
net = Dialer(board, board.device("tsm")["bus"])
tsm = tc.TsmClient(net, net.authority, %r, se, RELEASE, board.name, board.rtc(), 60000)
def out(x):
    print("OUT " + json.dumps(x))
def ota():
    return Ota(board.ota_fs(), RELEASE, board.name)
def slot_files(o, slot):
    fs = o.fs
    return sorted(fs.listdir(slot)) if fs.isdir(slot) else []
def attempt(fn, *a):
    try:
        return {"ok": fn(*a)}
    except Exception as e:
        sys.print_exception(e)
        return {"error": type(e).__name__, "message": str(e)}
def finish():
    board.deinit()
"""

ENROL_AND_PARAMS = """
se.generate_key()
ans = tsm.enrol()
out({"cert_serial": ans["cert_serial"], "se_cert": se.read_cert().hex()})
ren = tsm.renew()
out({"cert_serial": ren["cert_serial"], "se_cert": se.read_cert().hex()})
params, doc = tsm.fetch_params(0)
# applied: the EMV kernel's configuration is built from the signed sections
from firmware.emv import config_data
from firmware.emv.config import TerminalConfig
cfg = TerminalConfig(config_data.TERMINAL_DATA, params["aids"], config_data.OPTIONS,
                     params["capks"])
visa = cfg.aid_for(unhexlify("A0000000031010"))
out({"version": params["version"], "floor_limit": visa.floor_limit, "label": visa.label,
     "capks": len(params["capks"]), "limits": params["limits"],
     "tax_rates": params["tax_rates"]})
out({"again": tsm.fetch_params(params["version"])})
out({"replayed": attempt(lambda: tc._params.verify(doc, RELEASE, params["version"]))})
finish()
"""

INSTALL = """
import gc
o = ota()
before = o.state()
gc.collect()
free = gc.mem_free()
res = attempt(tsm.install_latest, o)
out({"result": res, "before": before, "state": o.state(), "pending": o.pending(),
     "heap_free_before": free, "slots": {s: slot_files(o, s) for s in ("a", "b")}})
finish()
"""

BOOT_AND_CONFIRM = """
o = ota()
b = o.boot()
sys.path.insert(0, o.slot_path(b["slot"]))
import hello
ran = hello.run()
st = o.confirm() if b["trial"] else o.state()
again = attempt(tsm.install_latest, o)
out({"boot": b, "ran": ran, "state": st, "pending": o.pending(), "again": again})
finish()
"""

DOWN = """
t0 = board.rtc().ticks_ms()
res = attempt(tsm.fetch_params, 0)
res["ms"] = board.rtc().ticks_diff(board.rtc().ticks_ms(), t0)
o = ota()
res2 = attempt(tsm.install_latest, o)
out({"params": res, "ota": res2, "state": o.state(), "pending": o.pending()})
finish()
"""

ENROL = """
se.generate_key()
out({"cert_serial": tsm.enrol()["cert_serial"]})
finish()
"""

DUKPT = """
ksn = attempt(lambda: tsm.load_dukpt().hex())
data = b"ISO8583 message body"
m = attempt(lambda: [x.hex() for x in se.mac(data)])
out({"ksn": ksn, "mac": m})
finish()
"""


class Relay(HttpRelay):
    """A man in the middle on loopback: forwards each request to the TSM,
    reads the whole answer, and sends it back altered: ``flip`` a byte at
    body offset N, ``cut`` after N body bytes, ``chunked`` re-encoding
    (chunks of N bytes), or ``pass``."""

    def __init__(self, upstream: int, mode: str = "pass", n: int = 0) -> None:
        self.mode = mode
        self.n = n
        super().__init__(upstream)

    def _one(self, conn: socket.socket) -> None:
        head, _, body = self.forward(conn).partition(b"\r\n\r\n")
        if self.mode == "flip" and len(body) > self.n:
            body = body[: self.n] + bytes([body[self.n] ^ 0x01]) + body[self.n + 1 :]
        elif self.mode == "cut":
            body = body[: self.n]
        elif self.mode == "chunked":
            lines = [
                ln for ln in head.split(b"\r\n") if not ln.lower().startswith(b"content-length")
            ]
            head = b"\r\n".join([*lines, b"Transfer-Encoding: chunked"])
            parts = [body[i : i + self.n] for i in range(0, len(body), self.n)]
            body = (
                b"".join(b"%x;n=1\r\n%s\r\n" % (len(p), p) for p in parts)
                + b"0\r\nX-End: 1\r\n\r\n"
            )
        conn.sendall(head + b"\r\n\r\n" + body)


@pytest.fixture
def se_server(tmp_path: Path) -> Iterator[SeServer]:
    srv = SeServer(tmp_path / "se.json")
    yield srv
    srv.close()


@pytest.fixture
def tsm_keys(tmp_path: Path) -> TsmKeys:
    return TsmKeys.load_or_create(tmp_path / "keys")


@pytest.fixture
def tsm_store(tmp_path: Path) -> Iterator[TsmStore]:
    store = TsmStore(str(tmp_path / "tsm.db"))
    yield store
    store.close()


@pytest.fixture
def tsm(tsm_store: TsmStore, tsm_keys: TsmKeys) -> Iterator[Running]:
    srv = Running(create_app(tsm_store, tsm_keys, Config(ADMIN)))
    yield srv
    srv.stop()


def _admin(srv: Running, method: str, path: str, data: bytes) -> Any:
    req = urllib.request.Request(
        srv.url + path,
        data=data,
        method=method,
        headers={"Authorization": "Bearer " + ADMIN, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def _files(version: int, big: int) -> list[tuple[str, bytes]]:
    code = (
        f"VERSION = {version}\n"
        "def run():\n"
        "    from protocols.crc16 import crc16_ccitt_false\n"
        f"    return {{'version': VERSION, 'crc': crc16_ccitt_false(b'123456789')}}\n"
    )
    return [
        ("hello.py", code.encode()),
        ("data/blob.bin", bytes((i * 31 + version) & 0xFF for i in range(big))),
        ("data/tail.txt", f"v{version} tail ".encode() * 40),
    ]


def _package(keys: TsmKeys, version: int, big: int) -> bytes:
    fl = _files(version, big)
    entries = [{"path": p, "size": len(b), "sha256": hashlib.sha256(b).hexdigest()} for p, b in fl]
    return op.assemble(
        op.make_manifest("sim", version, entries), keys.release_key, [b for _, b in fl]
    )


class Device:
    """Runs firmware scripts on the sim board: SE on i2c0, TSM on net1, the
    OTA area in this test's folder."""

    def __init__(self, tmp_path: Path, keys: TsmKeys, se_port: int) -> None:
        self.tmp = tmp_path
        self.header = HEADER % (keys.release_public.hex(), SERIAL)
        self.env = {
            "PAYTERM_SIM_I2C0": f"127.0.0.1:{se_port}",
            "PAYTERM_SIM_OTA": str(tmp_path / "ota.img"),
            "PAYTERM_SIM_FLASH": str(tmp_path / "fiscal.img"),
        }

    def run(self, code: str, net1: str, heap: str = HEAP) -> list[Any]:
        script = self.tmp / "tsm_client_fw.py"
        script.write_text(self.header + code)
        env = dict(self.env, PAYTERM_SIM_NET1=net1)
        proc = mpytest.run_script(script, heap, env=env, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return mpytest.json_lines(proc.stdout)


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.monotonic()
    return fn(), time.monotonic() - t0


PARAMS = {
    "aids": None,  # filled from the firmware's own table, with a new floor limit
    "capks": None,
    "limits": {"contactless_cvm": 50000, "contactless_transaction": 150000},
    "tax_rates": {"standard": 16, "reduced": 4},
}


def _params_body() -> dict[str, Any]:
    from firmware.emv import capk_data, config_data

    aids = [dict(a) for a in config_data.AIDS]
    aids[0]["floor_limit"] = 25000  # the TSM lowers Visa's floor limit
    aids[0]["random_threshold"] = 5000
    return dict(PARAMS, aids=aids, capks=[list(r) for r in capk_data.TEST_CAPKS])


def test_enrol_params_ota_refusals_and_chunked(
    tmp_path: Path, se_server: SeServer, tsm: Running, tsm_keys: TsmKeys
) -> None:
    dev = Device(tmp_path, tsm_keys, se_server.port)
    here = f"127.0.0.1:{tsm.port}"

    # enrolment through the client, then signed parameters, applied
    _admin(tsm, "PUT", "/v1/params", json.dumps(_params_body()).encode())
    enrolled, renewed, applied, again, replayed = dev.run(ENROL_AND_PARAMS, here)
    st = json.loads(urllib.request.urlopen(tsm.url + f"/v1/devices/{SERIAL}/status").read())
    assert st["status"] == "active" and st["cert_serial"] == renewed["cert_serial"]
    assert len(enrolled["se_cert"]) > 600  # the DER certificate is in the SE slot
    assert renewed["se_cert"] != enrolled["se_cert"]  # the renewed one replaced it
    old = f"/v1/certs/{enrolled['cert_serial']}/status"
    old_status = json.loads(urllib.request.urlopen(tsm.url + old).read())
    assert (old_status["status"], old_status["reason"]) == ("revoked", "superseded")
    assert applied["version"] == 1 and applied["floor_limit"] == 25000
    assert applied["label"] == "VISA CREDIT" and applied["capks"] == len(_params_body()["capks"])
    assert applied["tax_rates"] == {"standard": 16, "reduced": 4}
    assert again == {"again": None}  # nothing newer than what it holds
    assert replayed["replayed"]["error"] == "ParamsError"

    # OTA v1: a package larger than the interpreter's heap, streamed into slot b
    big = 400 * 1024
    v1 = _package(tsm_keys, 1, big)
    assert len(v1) > 256 * 1024
    _admin(tsm, "PUT", "/v1/ota/sim", v1)
    (inst,), secs = _timed(lambda: dev.run(INSTALL, here, OTA_HEAP))
    assert inst["result"] == {"ok": 1}, inst
    assert inst["heap_free_before"] < len(v1)
    assert inst["before"] == {"active": "a", "version": 0, "min_version": 0}
    assert inst["pending"] == {"slot": "b", "version": 1, "tries": 0}
    assert inst["slots"]["b"] == ["data", "hello.py", "manifest.bin"]
    (booted,) = dev.run(BOOT_AND_CONFIRM, here, OTA_HEAP)
    assert booted["boot"] == {"slot": "b", "version": 1, "trial": True, "rolled_back": None}
    assert booted["ran"] == {"version": 1, "crc": 0x29B1}  # code imported from slot b
    assert booted["state"] == {"active": "b", "version": 1, "min_version": 1}
    assert booted["pending"] is None
    assert booted["again"] == {"ok": None}  # latest is what runs: not downloaded again
    print(f"\nOTA v1 ({len(v1)} bytes) downloaded and installed in {secs:.2f} s")

    # v2 published; altered in flight (a file byte, then a manifest byte)
    v2 = _package(tsm_keys, 2, 64 * 1024)
    _admin(tsm, "PUT", "/v1/ota/sim", v2)
    confirmed = {"active": "b", "version": 1, "min_version": 1}
    for n, want in ((len(v2) - 100, "differs from the manifest"), (40, "signature")):
        relay = Relay(tsm.port, "flip", n)
        try:
            (bad,) = dev.run(INSTALL, f"127.0.0.1:{relay.port}", OTA_HEAP)
        finally:
            relay.close()
        assert bad["result"]["error"] == "OtaError" and want in bad["result"]["message"], bad
        assert bad["state"] == confirmed and bad["pending"] is None
        assert bad["slots"]["a"] == [], bad  # the partial slot is gone
        assert relay.seen and relay.seen[0].startswith(b"GET /v1/ota/sim/latest HTTP/1.1\r\n")

    # truncated: the connection drops mid-package
    relay = Relay(tsm.port, "cut", len(v2) // 2)
    try:
        (cut,) = dev.run(INSTALL, f"127.0.0.1:{relay.port}", OTA_HEAP)
    finally:
        relay.close()
    assert cut["result"]["error"] == "TsmTruncated", cut
    assert cut["state"] == confirmed and cut["pending"] is None and cut["slots"]["a"] == []

    # the same package re-encoded chunked (1000-byte chunks) installs
    relay = Relay(tsm.port, "chunked", 1000)
    try:
        (good,) = dev.run(INSTALL, f"127.0.0.1:{relay.port}", OTA_HEAP)
    finally:
        relay.close()
    assert good["result"] == {"ok": 2}, good
    assert good["pending"] == {"slot": "a", "version": 2, "tries": 0}
    (booted,) = dev.run(BOOT_AND_CONFIRM, here, OTA_HEAP)
    assert booted["ran"] == {"version": 2, "crc": 0x29B1}
    assert booted["state"] == {"active": "a", "version": 2, "min_version": 2}

    # the TSM is down: a clear error, nothing changes
    with RefusingPort() as away:  # the TSM is down
        (down,) = dev.run(DOWN, f"127.0.0.1:{away.port}", OTA_HEAP)
    assert down["params"]["error"] == "TsmUnreachable", down
    assert "unreachable" in down["params"]["message"]
    assert down["ota"]["error"] == "TsmUnreachable"
    assert down["state"] == {"active": "a", "version": 2, "min_version": 2}
    assert down["pending"] is None
    print(f"TSM down reported after {down['params']['ms']} ms")


def test_dukpt_loaded_under_the_transport_key(
    tmp_path: Path, se_server: SeServer, tsm: Running, tsm_keys: TsmKeys, tsm_store: TsmStore
) -> None:
    dev = Device(tmp_path, tsm_keys, se_server.port)
    here = f"127.0.0.1:{tsm.port}"
    dev.run(ENROL, here)
    # first load: the TSM answers no_transport_key, the client registers the
    # SE's key-agreement key and asks again; second load: straight through
    for n in (1, 2):
        (got,) = dev.run(DUKPT, here)
        loads = tsm_store.all("SELECT * FROM key_loads ORDER BY rowid")
        ksn = bytes.fromhex(got["ksn"]["ok"])
        row = tsm_store.one("SELECT * FROM key_loads WHERE ikid = ?", ksn[:8].hex())
        assert row is not None and row["device"] == SERIAL, loads
        assert row["status"] == "confirmed"  # the SE's key confirmation reached the TSM
        assert ksn[8:] == b"\x00\x00\x00\x01", got
        # the SE's MAC under its new DUKPT key is the host's, from the TSM's BDK
        tag, mac_ksn = (bytes.fromhex(x) for x in got["mac"]["ok"])
        key = dukpt_aes.working_key(tsm_keys.bdk, mac_ksn, aes_dukpt.USAGE_MAC_GENERATION)
        assert tag == mac.aes_cmac_mac(key, b"ISO8583 message body")
        assert int(ksn[:8].hex()[-8:], 16) == n  # one new initial key per load
    tk = tsm_store.one("SELECT * FROM transport_keys WHERE device = ?", SERIAL)
    assert tk is not None
