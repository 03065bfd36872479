"""The firmware side of the secure element under real MicroPython on the sim
board: ``board.bus_for("secure_element")`` (the I2C-over-TCP bus of
boards/sim/i2c.py, ``PAYTERM_SIM_I2C0``), the channel driver
firmware/drivers/se and ``firmware.secure.SecureElementApp``, against the SE
emulator (hsm_sim/se) on 127.0.0.1.  Signatures are verified here with
`cryptography`, PIN blocks and MACs with the host-side DUKPT."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from se_support import BDK, SeServer, dukpt_block

import boards
from hsm_sim.crypto import dukpt_aes, mac, pinblock
from protocols.crypto import aes_dukpt
from tools import mpytest

SIM_HEAP = boards.load("sim")["memory"]["heap"]
PAN = "4761739001010010"
SIGNATURES = 40

SCRIPT = """
import json, time, boards
from firmware.drivers.se import SecureElement
from firmware.secure import SecureElementApp, SeLocked, SeKeyMissing, SeBadInput
board = boards.open_board("sim")
driver = SecureElement(board.bus_for("secure_element"), board.device("secure_element")["addr"],
                       board.rtc())
se = SecureElementApp(driver)
out = {"info": se.info()}
try:
    se.public_key()
except SeKeyMissing as e:
    out["missing"] = e.name
out["public"] = se.generate_key().hex()
sigs = []
t0 = time.ticks_ms()
for i in range(N_SIGS):
    digest = bytes([i]) * 32
    sig, counter = se.sign(digest)
    sigs.append([digest.hex(), sig.hex(), counter])
out["sign_ms"] = time.ticks_diff(time.ticks_ms(), t0)
out["sigs"] = sigs
der, counter = se.sign(b"\\x55" * 32, der=True)
out["der"] = [der.hex(), counter]
out["counter"] = se.counter()
out["first_ksn"] = se.load_dukpt(KEY_BLOCK).hex()
pins = []
for pin in ("1234", "567890"):
    buf = bytearray(pin.encode())
    block, ksn = se.pin_block(buf, PAN)
    m, mksn = se.mac(b"0200 " + pin.encode())
    pins.append([block.hex(), ksn.hex(), m.hex(), mksn.hex(), list(buf)])
    se.next_transaction()
out["pins"] = pins
try:
    se.pin_block(bytearray(b"12"), PAN)
except SeBadInput as e:
    out["short_pin"] = e.name
out["tamper_count"] = se.tamper()
try:
    se.sign(b"\\x00" * 32)
except SeLocked as e:
    out["locked"] = e.name
try:
    se.pin_block(bytearray(b"1234"), PAN)
except SeLocked as e:
    out["pin_locked"] = e.name
out["status"] = se.status()
out["stats"] = driver.stats
print("OUT " + json.dumps(out))
board.deinit()
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SeServer]:
    srv = SeServer(tmp_path / "se.json")
    yield srv
    srv.close()


def _run(script: str, port: int, tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "se_fw.py"
    path.write_text(script)
    proc = mpytest.run_script(path, SIM_HEAP, env={"PAYTERM_SIM_I2C0": f"127.0.0.1:{port}"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    res: dict[str, Any] = {}
    for out in mpytest.json_lines(proc.stdout):
        res.update(out)
    return res


def _verify(public: bytes, sig: bytes, digest: bytes, counter: int) -> None:
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public)
    if len(sig) == 64:
        sig = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    message = b"PTSE-SIG1\x00" + counter.to_bytes(4, "big") + digest
    key.verify(sig, message, ec.ECDSA(hashes.SHA256()))


def test_firmware_app_over_the_sim_i2c_bus(server: SeServer, tmp_path: Path) -> None:
    script = f"N_SIGS = {SIGNATURES}\nKEY_BLOCK = {dukpt_block()!r}\nPAN = {PAN!r}\n" + SCRIPT
    res = _run(script, server.port, tmp_path)
    assert res["info"]["serial"] == "PTSE-TEST-0001"
    assert res["missing"] == "KEY_NOT_FOUND"
    public = bytes.fromhex(res["public"])
    counters = []
    for digest, sig, counter in res["sigs"]:
        _verify(public, bytes.fromhex(sig), bytes.fromhex(digest), counter)
        counters.append(counter)
    assert counters == list(range(1, SIGNATURES + 1))
    der, counter = res["der"]
    _verify(public, bytes.fromhex(der), b"\x55" * 32, counter)
    assert counter == SIGNATURES + 1 == res["counter"]
    ksns = []
    for (block, ksn, m, mksn, wiped), pin in zip(res["pins"], ("1234", "567890"), strict=True):
        ksn_b = bytes.fromhex(ksn)
        key = dukpt_aes.working_key(BDK, ksn_b, aes_dukpt.USAGE_PIN_ENCRYPTION)
        assert pinblock.decipher(4, key, bytes.fromhex(block), PAN) == pin
        assert mksn == ksn
        mac_key = dukpt_aes.working_key(BDK, ksn_b, aes_dukpt.USAGE_MAC_GENERATION)
        assert bytes.fromhex(m) == mac.aes_cmac_mac(mac_key, b"0200 " + pin.encode())
        assert wiped == [0] * len(pin)  # the caller's PIN buffer was wiped
        ksns.append(ksn)
    assert ksns[0] == res["first_ksn"] and ksns[1] != ksns[0]
    assert res["short_pin"] == "BAD_PARAMETER"
    assert res["tamper_count"] == 1
    assert res["locked"] == "NOT_ALLOWED" and res["pin_locked"] == "NOT_ALLOWED"
    assert res["status"]["locked"] is True and res["status"]["dukpt"] is True
    rate = SIGNATURES * 1000 / max(res["sign_ms"], 1)
    print(f"\nSE signatures over the sim I2C bus under MicroPython: {rate:.0f}/s")


RESTART_SCRIPT = """
import json, boards
from firmware.drivers.se import SecureElement
from firmware.secure import SecureElementApp, SeKeyMissing
board = boards.open_board("sim")
se = SecureElementApp(SecureElement(board.bus_for("secure_element"), 0x60, board.rtc()))
try:
    public = se.public_key()
except SeKeyMissing:
    public = se.generate_key()
sig, counter = se.sign(b"\\x42" * 32)
print("OUT " + json.dumps({"public": public.hex(), "sig": sig.hex(), "counter": counter,
                           "read_back": se.counter()}))
board.deinit()
"""


def test_counter_continues_across_emulator_restarts(tmp_path: Path) -> None:
    state = tmp_path / "restart.json"
    seen = []
    publics = set()
    for _ in range(3):
        srv = SeServer(state)
        try:
            res = _run(RESTART_SCRIPT, srv.port, tmp_path)
        finally:
            srv.close()
        public = bytes.fromhex(res["public"])
        _verify(public, bytes.fromhex(res["sig"]), b"\x42" * 32, res["counter"])
        assert res["read_back"] == res["counter"]
        seen.append(res["counter"])
        publics.add(public)
    assert seen == [1, 2, 3] and len(publics) == 1


WRAP_SCRIPT = """
import json, time, boards
from firmware.drivers.se import SecureElement
from firmware.secure import SecureElementApp, SeLocked
from firmware.secure.se_app import SeUnwrapError
from protocols import se_app as sa
board = boards.open_board("sim")
se = SecureElementApp(SecureElement(board.bus_for("secure_element"), 0x60, board.rtc()))
out = {}
if OLD:
    out["old"] = [se.unwrap(p, bytes.fromhex(b)).hex() for p, b in OLD]
    out["tamper"] = se.tamper(0)
    for name, call in (("wrap", lambda: se.wrap(1, b"x")),
                       ("unwrap", lambda: se.unwrap(OLD[0][0], bytes.fromhex(OLD[0][1])))):
        try:
            call()
        except SeLocked as e:
            out["locked_" + name] = e.name
else:
    records = [(1, RECORD), (2, b"\\x42"), (3, bytes(i % 256 for i in range(sa.MAX_WRAP)))]
    blobs = [(p, se.wrap(p, d)) for p, d in records]
    out["blobs"] = [[p, b.hex()] for p, b in blobs]
    out["back"] = [se.unwrap(p, b) == d for (p, d), (_, b) in zip(records, blobs)]
    p, b = blobs[0]
    errors = []
    flipped = bytearray(b)
    flipped[len(b) // 2] ^= 0x80
    for purpose, blob in ((p + 1, b), (p, bytes(flipped)), (p, b[:-1]), (p, b[:29])):
        try:
            se.unwrap(purpose, blob)
            errors.append("opened")
        except SeUnwrapError as e:
            errors.append(e.name)
    out["errors"] = errors
    try:
        se.wrap(1, bytes(sa.MAX_WRAP + 1))
    except ValueError:
        out["oversize"] = True
    t0 = time.ticks_ms()
    for i in range(N):
        se.unwrap(1, se.wrap(1, RECORD))
    out["pair_ms"] = time.ticks_diff(time.ticks_ms(), t0)
print("OUT " + json.dumps(out))
board.deinit()
"""

WRAP_RECORD = b"REVERSAL|4761739001010010|9F2608A1B2C3D4E5F60718|000000001500"
WRAP_PAIRS = 100


def test_wrap_unwrap_through_the_firmware_across_a_restart(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from hsm_sim.se.storage import Storage

    state = tmp_path / "wrap.json"
    head = f"RECORD = {WRAP_RECORD!r}\nN = {WRAP_PAIRS}\n"
    srv = SeServer(state)
    try:
        res = _run(head + "OLD = None\n" + WRAP_SCRIPT, srv.port, tmp_path)
    finally:
        srv.close()
    assert res["back"] == [True, True, True]
    assert res["errors"] == ["BAD_PARAMETER", "BAD_PARAMETER", "BAD_PARAMETER", None]
    assert res["oversize"] is True
    # the blobs are AES-256-GCM of the documented layout under the key the
    # SE keeps in its (emulated) internal memory
    store = Storage.open(state)
    key = store.unwrap("storage_key", store.data["secrets"]["storage_key"])
    expected = [WRAP_RECORD, b"\x42", bytes(i % 256 for i in range(994))]
    for (purpose, blob_hex), data in zip(res["blobs"], expected, strict=True):
        blob = bytes.fromhex(blob_hex)
        aad = b"PTSE-WRAP1" + bytes((purpose,)) + b"PTSE-TEST-0001"
        assert AESGCM(key).decrypt(blob[1:13], blob[13:], aad) == data
    rate = WRAP_PAIRS * 1000 / max(res["pair_ms"], 1)
    print(f"\nwrap+unwrap pairs over the sim I2C bus under MicroPython: {rate:.0f}/s")
    # power cycle: a new emulator on the same state opens the old blobs,
    # then a tamper event locks both commands
    srv = SeServer(state)
    try:
        res = _run(head + f"OLD = {res['blobs']!r}\n" + WRAP_SCRIPT, srv.port, tmp_path)
    finally:
        srv.close()
    assert [bytes.fromhex(d) for d in res["old"]] == expected
    assert res["tamper"] == 1
    assert res["locked_wrap"] == res["locked_unwrap"] == "NOT_ALLOWED"
