"""The SE emulator (hsm_sim/se) over real TCP on 127.0.0.1, from CPython:
every command of docs/secure-element.md, its error statuses, malformed
frames and bus operations, the write-ahead signature counter across
restarts and a crash, signatures checked with `cryptography`, PIN blocks
and MACs checked with the host-side DUKPT (hsm_sim.crypto), and keys absent
from every response, log line and the state file."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from se_support import BDK, IKID, SeServer, Wire, dukpt_block, read_all, secret_hexes

from hsm_sim.crypto import aes, dukpt_aes, mac, pinblock
from hsm_sim.se import bus, ecdsa_keys
from hsm_sim.se.engine import Engine
from hsm_sim.se.storage import Storage
from hsm_sim.se.testkeys import TEST_KBPK, TEST_UNLOCK_KEY
from protocols import se_app as sa
from protocols import se_frame as sf
from protocols.crypto import aes_dukpt

REPO_ROOT = Path(__file__).resolve().parent.parent
PAN = "4761739001010010"


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "se.json"


@pytest.fixture
def se(state: Path) -> Iterator[tuple[SeServer, Wire]]:
    server = SeServer(state)
    wire = Wire(server.port)
    yield server, wire
    wire.close()
    server.close()


def _ok(wire: Wire, cmd: int, payload: bytes = b"") -> bytes:
    status, body = wire.request(cmd, payload)
    assert status == sf.ST_OK, sf.status_name(status)
    return body


def _status(wire: Wire, cmd: int, payload: bytes = b"") -> int:
    return wire.request(cmd, payload)[0]


def _verify(public: bytes, signature: bytes, digest: bytes, counter: int, slot: int = 0) -> None:
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public)
    if len(signature) == 64:
        signature = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
    message = b"PTSE-SIG1" + bytes((slot,)) + counter.to_bytes(4, "big") + digest
    key.verify(signature, message, ec.ECDSA(hashes.SHA256()))


def _sign(wire: Wire, digest: bytes, slot: int = 0, der: bool = False) -> tuple[int, bytes]:
    body = _ok(wire, sa.CMD_SIGN, bytes((slot, 1 if der else 0)) + digest)
    return int.from_bytes(body[:4], "big"), body[4:]


# --- transport ------------------------------------------------------------------------------


def test_info_random_echo(se: tuple[SeServer, Wire]) -> None:
    _, wire = se
    info = json.loads(_ok(wire, sf.CMD_INFO))
    assert info["model"] == "payterm-se-emulator" and info["serial"] == "PTSE-TEST-0001"
    assert info["emulator"] is True and info["version"]
    a, b = _ok(wire, sf.CMD_RANDOM, b"\x20"), _ok(wire, sf.CMD_RANDOM, b"\x20")
    assert len(a) == 32 and a != b
    assert _ok(wire, sf.CMD_ECHO, b"payterm\x00\xff") == b"payterm\x00\xff"
    assert _status(wire, sf.CMD_RANDOM, b"\x00") == sf.ST_BAD_PARAMETER
    assert _status(wire, sf.CMD_RANDOM, b"") == sf.ST_BAD_LENGTH
    assert _status(wire, sf.CMD_INFO, b"x") == sf.ST_BAD_LENGTH
    assert _status(wire, 0x7E) == sf.ST_UNKNOWN_COMMAND
    assert _status(wire, 0x80) == sf.ST_UNKNOWN_COMMAND


def test_bus_read_pointer_resend_and_no_response(se: tuple[SeServer, Wire]) -> None:
    server, wire = se
    assert wire.read(3) == b"\x09\x00\x00"  # nothing asked yet: NO_RESPONSE
    assert wire.write(sf.encode_request(sf.CMD_ECHO, b"abc")) == bus.ST_ACK
    assert wire.read(3) == b"\x00\x00\x03"
    assert wire.read(5) == bytes.fromhex("616263081A")  # docs/se.md worked example
    assert wire.read(3) == b"\x00\x00\x03"  # re-read from the top
    # RESEND returns the held response unchanged and runs nothing again
    body = _ok(wire, sa.CMD_GENERATE_KEY, b"\x01")
    assert wire.request(sf.CMD_RESEND) == (sf.ST_OK, body)
    assert server.engine.counts.get("GENERATE_KEY OK") == 1
    # a read past the response is padded, not short
    wire.write(sf.encode_request(sf.CMD_ECHO, b""))
    assert wire.read(8) == b"\x00\x00\x00" + sf.encode_response(0)[3:] + b"\xff\xff\xff"


def test_other_addresses_nack_scan_and_probe(se: tuple[SeServer, Wire]) -> None:
    _, wire = se
    assert wire.write(sf.encode_request(sf.CMD_INFO), addr=0x61) == bus.ST_NACK
    assert wire.op(bus.OP_READ, 0x10, length=3)[0] == bus.ST_NACK
    assert wire.op(bus.OP_SCAN, 0) == (bus.ST_ACK, b"\x60")
    assert wire.write(b"") == bus.ST_ACK  # an address probe runs nothing
    assert wire.read(3) == b"\x09\x00\x00"


def test_malformed_frames_get_crc_error_and_service_goes_on(se: tuple[SeServer, Wire]) -> None:
    _, wire = se
    good = sf.encode_request(sf.CMD_ECHO, b"xyz")
    damaged = [
        good[:-1] + bytes((good[-1] ^ 1,)),  # CRC
        good[:4],  # short
        good + b"\x00",  # long
        b"\x03",  # one byte
        b"\x03\xff\xff" + bytes(8),  # LEN beyond MAX_PAYLOAD
    ]
    for frame in damaged:
        assert wire.write(frame) == bus.ST_ACK
        assert wire.response() == (sf.ST_CRC_ERROR, b"")
    assert _ok(wire, sf.CMD_ECHO, b"xyz") == b"xyz"
    # payload lengths wrong for the command
    assert _status(wire, sa.CMD_SIGN, b"\x00\x00" + bytes(31)) == sf.ST_BAD_LENGTH
    assert _status(wire, sa.CMD_GET_COUNTER, b"") == sf.ST_BAD_LENGTH
    assert _status(wire, sa.CMD_GENERATE_KEY, b"\x09") == sf.ST_BAD_PARAMETER
    assert _status(wire, sa.CMD_READ_CERT, b"\x00") == sf.ST_BAD_LENGTH


def test_unknown_bus_op_closes_only_that_bus(se: tuple[SeServer, Wire]) -> None:
    server, wire = se
    assert wire.op(0x41, 0x60) == (bus.ST_BUS_ERROR, b"")
    with pytest.raises((EOFError, ConnectionError)):
        wire.read(3)
    other = Wire(server.port)
    try:
        assert _ok(other, sf.CMD_ECHO, b"ok") == b"ok"
    finally:
        other.close()


# --- keys, signatures, counter ---------------------------------------------------------------


def test_generate_sign_verify_with_cryptography(se: tuple[SeServer, Wire]) -> None:
    _, wire = se
    assert _status(wire, sa.CMD_GET_PUBLIC_KEY, b"\x00") == sf.ST_KEY_NOT_FOUND
    assert _status(wire, sa.CMD_SIGN, b"\x00\x00" + bytes(32)) == sf.ST_KEY_NOT_FOUND
    public = _ok(wire, sa.CMD_GENERATE_KEY, b"\x00")
    assert len(public) == 65 and public[0] == 4
    assert _ok(wire, sa.CMD_GET_PUBLIC_KEY, b"\x00") == public
    assert _status(wire, sa.CMD_GENERATE_KEY, b"\x00") == sf.ST_NOT_ALLOWED  # never replaced
    assert _ok(wire, sa.CMD_GET_COUNTER, b"\x00") == bytes(4)
    for n in range(1, 6):
        digest = hashlib.sha256(b"record %d" % n).digest()
        counter, signature = _sign(wire, digest, der=n % 2 == 0)
        assert counter == n
        _verify(public, signature, digest, counter)
        # the counter is bound into what is signed
        with pytest.raises(InvalidSignature):
            _verify(public, signature, digest, counter + 1)
        with pytest.raises(InvalidSignature):
            _verify(public, signature, bytes(32), counter)
    assert _ok(wire, sa.CMD_GET_COUNTER, b"\x00") == (5).to_bytes(4, "big")
    assert _status(wire, sa.CMD_SIGN, b"\x00\x02" + bytes(32)) == sf.ST_BAD_PARAMETER
    # slots have their own keys and counters
    other = _ok(wire, sa.CMD_GENERATE_KEY, b"\x03")
    assert other != public
    counter, signature = _sign(wire, bytes(32), slot=3)
    assert counter == 1
    _verify(other, signature, bytes(32), 1, slot=3)
    with pytest.raises(InvalidSignature):
        _verify(public, signature, bytes(32), 1, slot=3)


def test_counter_monotonic_across_restarts(state: Path) -> None:
    seen: list[int] = []
    public = b""
    for run in range(3):
        server = SeServer(state)
        wire = Wire(server.port)
        try:
            if run == 0:
                public = _ok(wire, sa.CMD_GENERATE_KEY, b"\x00")
            assert _ok(wire, sa.CMD_GET_PUBLIC_KEY, b"\x00") == public
            for _ in range(3):
                counter, signature = _sign(wire, bytes(range(32)))
                _verify(public, signature, bytes(range(32)), counter)
                seen.append(counter)
        finally:
            wire.close()
            server.close()
    assert seen == list(range(1, 10))


class PowerCut(BaseException):
    """The process dies here (not an error the SE could answer)."""


def test_crash_after_counter_persisted_never_reuses_it(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = Engine.open(state)
    engine.execute(sa.CMD_GENERATE_KEY, b"\x00")
    assert engine.execute(sa.CMD_SIGN, b"\x00\x00" + bytes(32))[0] == sf.ST_OK

    def cut(*_args: object) -> bytes:
        raise PowerCut

    monkeypatch.setattr(ecdsa_keys, "sign", cut)  # dies between persist and answer
    with pytest.raises(PowerCut):
        engine.execute(sa.CMD_SIGN, b"\x00\x00" + bytes(32))
    monkeypatch.undo()
    after = Engine.open(state)  # power back on
    assert after.execute(sa.CMD_GET_COUNTER, b"\x00") == (sf.ST_OK, (2).to_bytes(4, "big"))
    status, body = after.execute(sa.CMD_SIGN, b"\x00\x00" + bytes(32))
    assert status == sf.ST_OK and int.from_bytes(body[:4], "big") == 3  # 2 skipped, not reused


def test_crash_during_the_state_write_leaves_the_old_state(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = Engine.open(state)
    engine.execute(sa.CMD_GENERATE_KEY, b"\x00")
    engine.execute(sa.CMD_SIGN, b"\x00\x00" + bytes(32))
    signed: list[bytes] = []
    real_sign = ecdsa_keys.sign

    def spy(private: bytes, message: bytes, der: bool) -> bytes:
        signed.append(message)
        return real_sign(private, message, der)

    def cut(*_args: object) -> None:
        raise PowerCut

    monkeypatch.setattr(ecdsa_keys, "sign", spy)
    monkeypatch.setattr(os, "replace", cut)  # dies before the rename
    with pytest.raises(PowerCut):
        engine.execute(sa.CMD_SIGN, b"\x00\x00" + bytes(32))
    monkeypatch.undo()
    assert signed == []  # nothing was signed before the counter was durable
    after = Engine.open(state)
    assert after.execute(sa.CMD_GET_COUNTER, b"\x00") == (sf.ST_OK, (1).to_bytes(4, "big"))


# --- certificates ----------------------------------------------------------------------------


def test_certificate_slots_in_chunks(se: tuple[SeServer, Wire], state: Path) -> None:
    server, wire = se
    chain = bytes(i * 7 % 256 for i in range(2500))
    assert _status(wire, sa.CMD_READ_CERT, b"\x01\x00\x00\x03\xe8") == sf.ST_KEY_NOT_FOUND
    for offset in range(0, len(chain), 1000):
        chunk = chain[offset : offset + 1000]
        body = _ok(wire, sa.CMD_WRITE_CERT, b"\x01" + offset.to_bytes(2, "big") + chunk)
        assert int.from_bytes(body, "big") == offset + len(chunk)
    # a gap or an overlap is refused; offset 0 restarts the slot
    assert _status(wire, sa.CMD_WRITE_CERT, b"\x01\x00\x05xx") == sf.ST_BAD_PARAMETER
    assert _status(wire, sa.CMD_WRITE_CERT, b"\x09\x00\x00xx") == sf.ST_BAD_PARAMETER
    assert _status(wire, sa.CMD_WRITE_CERT, b"\x01\x00\x00" + bytes(1001)) == sf.ST_BAD_LENGTH
    out = b""
    while True:
        body = _ok(wire, sa.CMD_READ_CERT, b"\x01" + len(out).to_bytes(2, "big") + b"\x03\xe8")
        assert int.from_bytes(body[:2], "big") == len(chain)
        out += body[2:]
        if len(out) == len(chain):
            break
    assert out == chain
    assert _status(wire, sa.CMD_READ_CERT, b"\x01\x0a\x00\x00\x10") == sf.ST_BAD_PARAMETER
    wire.close()
    server.close()
    again = SeServer(state)
    w2 = Wire(again.port)
    try:
        assert _ok(w2, sa.CMD_READ_CERT, b"\x01\x00\x00\x00\x10")[2:] == chain[:16]
        assert _ok(w2, sa.CMD_WRITE_CERT, b"\x01\x00\x00new") == b"\x00\x03"
    finally:
        w2.close()
        again.close()


# --- tamper ----------------------------------------------------------------------------------


def _unlock_mac(serial: str, challenge: bytes, count: int, key: bytes = TEST_UNLOCK_KEY) -> bytes:
    message = b"PTSE-UNLOCK1" + bytes((len(serial),)) + serial.encode() + challenge
    return aes.cmac(key, message + count.to_bytes(4, "big"))


def test_tamper_locks_until_tsm_unlock(se: tuple[SeServer, Wire], state: Path) -> None:
    server, wire = se
    public = _ok(wire, sa.CMD_GENERATE_KEY, b"\x00")
    _ok(wire, sa.CMD_LOAD_DUKPT, dukpt_block().encode())
    assert _status(wire, sa.CMD_UNLOCK, bytes(16)) == sf.ST_NOT_ALLOWED  # not locked
    assert _ok(wire, sa.CMD_TAMPER_EVENT, b"\x00") == b"\x01\x00\x00\x00\x01"
    # locked, tamper count 1, key slot 0, no certificate, DUKPT loaded
    assert _ok(wire, sa.CMD_GET_STATUS) == bytes.fromhex("0100000001010001")
    locked = [
        (sa.CMD_SIGN, b"\x00\x00" + bytes(32)),
        (sa.CMD_GENERATE_KEY, b"\x01"),
        (sa.CMD_PIN_BLOCK, bytes(sa.pin_request(bytearray(b"1234"), PAN))),
        (sa.CMD_MAC, b"data"),
        (sa.CMD_NEXT_TRANSACTION, b""),
        (sa.CMD_LOAD_DUKPT, dukpt_block().encode()),
    ]
    for cmd, payload in locked:
        assert _status(wire, cmd, payload) == sf.ST_NOT_ALLOWED, sa.command_name(cmd)
    assert _ok(wire, sa.CMD_GET_PUBLIC_KEY, b"\x00") == public  # reading stays allowed
    assert _ok(wire, sa.CMD_GET_COUNTER, b"\x00") == bytes(4)  # nothing was signed
    # the lock survives a restart
    wire.close()
    server.close()
    server2 = SeServer(state)
    w = Wire(server2.port)
    try:
        assert _status(w, sa.CMD_SIGN, b"\x00\x00" + bytes(32)) == sf.ST_NOT_ALLOWED
        assert _status(w, sa.CMD_UNLOCK, bytes(16)) == sf.ST_NOT_ALLOWED  # no challenge
        serial = "PTSE-TEST-0001"
        challenge = _ok(w, sa.CMD_UNLOCK_CHALLENGE)
        assert len(challenge) == 16
        wrong = _unlock_mac(serial, challenge, 1, key=bytes(16))
        assert _status(w, sa.CMD_UNLOCK, wrong) == sf.ST_NOT_ALLOWED
        # the challenge was spent: the right MAC over it no longer works
        assert _status(w, sa.CMD_UNLOCK, _unlock_mac(serial, challenge, 1)) == sf.ST_NOT_ALLOWED
        challenge = _ok(w, sa.CMD_UNLOCK_CHALLENGE)
        assert _status(w, sa.CMD_UNLOCK, _unlock_mac(serial, challenge, 0)) == sf.ST_NOT_ALLOWED
        challenge = _ok(w, sa.CMD_UNLOCK_CHALLENGE)
        assert _ok(w, sa.CMD_UNLOCK, _unlock_mac(serial, challenge, 1)) == b""
        counter, signature = _sign(w, bytes(32))
        _verify(public, signature, bytes(32), counter)
        assert _ok(w, sa.CMD_GET_STATUS)[0] == 0
    finally:
        w.close()
        server2.close()


# --- DUKPT: PIN blocks and MACs ----------------------------------------------------------------


def test_pin_blocks_and_macs_checked_host_side(se: tuple[SeServer, Wire]) -> None:
    _, wire = se
    assert _status(wire, sa.CMD_GET_KSN) == sf.ST_KEY_NOT_FOUND
    pin_req = bytes(sa.pin_request(bytearray(b"1234"), PAN))
    assert _status(wire, sa.CMD_PIN_BLOCK, pin_req) == sf.ST_KEY_NOT_FOUND
    assert _status(wire, sa.CMD_MAC, b"x") == sf.ST_KEY_NOT_FOUND
    first = _ok(wire, sa.CMD_LOAD_DUKPT, dukpt_block().encode())
    assert first == IKID + b"\x00\x00\x00\x01"
    ksns = []
    pins = ["1234", "987654", "0000", "123456789012", "4321"]
    for i, pin in enumerate(pins):
        body = _ok(wire, sa.CMD_PIN_BLOCK, bytes(sa.pin_request(bytearray(pin.encode()), PAN)))
        block, ksn = body[:16], body[16:]
        assert aes_dukpt.ksn_is_valid(ksn)
        key = dukpt_aes.working_key(BDK, ksn, aes_dukpt.USAGE_PIN_ENCRYPTION)
        assert pinblock.decipher(4, key, block, PAN) == pin
        data = b"0200 message %d" % i
        body = _ok(wire, sa.CMD_MAC, data)
        assert body[16:] == ksn  # the MAC belongs to the PIN's transaction
        mac_key = dukpt_aes.working_key(BDK, ksn, aes_dukpt.USAGE_MAC_GENERATION)
        assert body[:16] == mac.aes_cmac_mac(mac_key, data)
        ksns.append(ksn)
        if i % 2:
            nxt = _ok(wire, sa.CMD_NEXT_TRANSACTION)
            assert nxt != ksn and _ok(wire, sa.CMD_GET_KSN) == nxt
    counters = [int.from_bytes(k[8:], "big") for k in ksns]
    assert counters == sorted(set(counters))  # every transaction its own KSN
    # a second PIN on the same KSN moves to the next one first
    a = _ok(wire, sa.CMD_PIN_BLOCK, pin_req)[16:]
    b = _ok(wire, sa.CMD_PIN_BLOCK, pin_req)[16:]
    assert int.from_bytes(b[8:], "big") > int.from_bytes(a[8:], "big")


def test_pin_block_refusals(se: tuple[SeServer, Wire]) -> None:
    _, wire = se
    _ok(wire, sa.CMD_LOAD_DUKPT, dukpt_block().encode())
    for pin, pan in ((b"123", PAN), (b"12a4", PAN), (b"1234567890123", PAN), (b"1234", "41x1")):
        payload = bytes((len(pan),)) + pan.encode() + pin
        assert _status(wire, sa.CMD_PIN_BLOCK, payload) == sf.ST_BAD_PARAMETER
    assert _status(wire, sa.CMD_PIN_BLOCK, b"\x10123") == sf.ST_BAD_LENGTH
    assert _status(wire, sa.CMD_PIN_BLOCK, b"") == sf.ST_BAD_LENGTH


def test_dukpt_state_survives_restart(state: Path) -> None:
    server = SeServer(state)
    wire = Wire(server.port)
    _ok(wire, sa.CMD_LOAD_DUKPT, dukpt_block().encode())
    pin_req = bytes(sa.pin_request(bytearray(b"2468"), PAN))
    k1 = _ok(wire, sa.CMD_PIN_BLOCK, pin_req)[16:]
    wire.close()
    server.close()
    server = SeServer(state)
    wire = Wire(server.port)
    try:
        assert _ok(wire, sa.CMD_GET_KSN) == k1
        body = _ok(wire, sa.CMD_PIN_BLOCK, pin_req)  # same KSN already had a PIN
        assert int.from_bytes(body[24:], "big") > int.from_bytes(k1[8:], "big")
        key = dukpt_aes.working_key(BDK, body[16:], aes_dukpt.USAGE_PIN_ENCRYPTION)
        assert pinblock.decipher(4, key, body[:16], PAN) == "2468"
    finally:
        wire.close()
        server.close()


def test_load_dukpt_refuses_bad_blocks(se: tuple[SeServer, Wire]) -> None:
    _, wire = se
    good = dukpt_block()
    wrong_kbpk = dukpt_block(kbpk=bytes(32))
    assert _status(wire, sa.CMD_LOAD_DUKPT, wrong_kbpk.encode()) == sf.ST_NOT_ALLOWED
    altered = good[:-1] + ("0" if good[-1] != "0" else "1")
    assert _status(wire, sa.CMD_LOAD_DUKPT, altered.encode()) == sf.ST_NOT_ALLOWED
    assert _status(wire, sa.CMD_LOAD_DUKPT, b"\xff\xfe") == sf.ST_BAD_PARAMETER
    assert _status(wire, sa.CMD_LOAD_DUKPT, b"D0000") == sf.ST_BAD_PARAMETER
    from hsm_sim.crypto import tr31

    pin_key = tr31.wrap(
        TEST_KBPK,
        tr31.Header(key_usage="P0", algorithm="A", mode_of_use="E", blocks=[("IK", IKID.hex())]),
        bytes(16),
    )
    assert _status(wire, sa.CMD_LOAD_DUKPT, pin_key.encode()) == sf.ST_BAD_PARAMETER
    no_ik = tr31.wrap(
        TEST_KBPK, tr31.Header(key_usage="B1", algorithm="A", mode_of_use="X"), bytes(16)
    )
    assert _status(wire, sa.CMD_LOAD_DUKPT, no_ik.encode()) == sf.ST_BAD_PARAMETER
    assert _ok(wire, sa.CMD_LOAD_DUKPT, good.encode()) == IKID + b"\x00\x00\x00\x01"


# --- secrets ---------------------------------------------------------------------------------


def test_no_key_in_any_response_log_or_state_file(
    se: tuple[SeServer, Wire], state: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _, wire = se
    caplog.set_level(logging.DEBUG)
    responses: list[bytes] = []
    for cmd, payload in (
        (sa.CMD_GENERATE_KEY, b"\x00"),
        (sa.CMD_GET_PUBLIC_KEY, b"\x00"),
        (sa.CMD_SIGN, b"\x00\x00" + bytes(32)),
        (sa.CMD_SIGN, b"\x00\x01" + bytes(32)),
        (sa.CMD_GET_COUNTER, b"\x00"),
        (sa.CMD_LOAD_DUKPT, dukpt_block().encode()),
        (sa.CMD_PIN_BLOCK, bytes(sa.pin_request(bytearray(b"97531"), PAN))),
        (sa.CMD_MAC, b"abc"),
        (sa.CMD_NEXT_TRANSACTION, b""),
        (sa.CMD_GET_KSN, b""),
        (sa.CMD_GET_STATUS, b""),
        (sf.CMD_INFO, b""),
    ):
        responses.append(_ok(wire, cmd, payload))
        responses.append(wire.request(sf.CMD_RESEND)[1])
    store = Storage.open(state)
    private = store.unwrap("slot:0:private", store.data["slots"]["0"]["private"])
    assert len(private) == 32
    dukpt_state = store.unwrap("dukpt", store.data["dukpt"]["state"])
    ik = dukpt_aes.initial_key(BDK, IKID)
    registers = [dukpt_state[i : i + 16] for i in range(19, len(dukpt_state), 16)]
    assert registers
    secrets_raw = [private, ik, BDK, TEST_KBPK, TEST_UNLOCK_KEY, dukpt_state, *registers]
    logs = "\n".join(r.getMessage() for r in caplog.records)
    text = read_all(state)
    for secret in secrets_raw:
        assert all(secret not in r for r in responses)
        for spelled in secret_hexes(secret):
            assert spelled not in text and spelled not in logs
    assert "97531" not in logs and "97531" not in text
    # the state file alone does not open: its secrets need the instance secret
    Storage.secret_path(state).write_text(os.urandom(32).hex())
    with pytest.raises(Exception, match="does not verify"):
        Storage.open(state).unwrap("slot:0:private", store.data["slots"]["0"]["private"])


def test_wrapped_value_cannot_move_to_another_field(state: Path) -> None:
    Engine.open(state)
    store = Storage.open(state)
    with pytest.raises(Exception, match="does not verify"):
        store.unwrap("unlock_key", store.data["secrets"]["kbpk"])


# --- the command line --------------------------------------------------------------------------


def test_serve_command_prints_where_it_listens(tmp_path: Path) -> None:
    state = tmp_path / "cli.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "payterm",
            "se",
            "serve",
            "--port",
            "0",
            "--state",
            str(state),
        ],
        cwd=str(REPO_ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = json.loads(proc.stdout.readline())
        assert line["host"] == "127.0.0.1" and line["addr"] == 0x60
        assert line["state"] == str(state) and line["serial"].startswith("PTSE")
        wire = Wire(line["port"])
        try:
            assert _ok(wire, sf.CMD_ECHO, b"cli") == b"cli"
        finally:
            wire.close()
    finally:
        proc.terminate()
        proc.wait(10)
    assert proc.returncode == 0
    assert state.exists()
    bad = subprocess.run(
        [sys.executable, "-m", "payterm", "se", "serve", "--addr", "0x99"],
        cwd=str(REPO_ROOT),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert bad.returncode == 2 and "--addr" in bad.stderr


def test_a_new_tamper_event_voids_an_outstanding_challenge(se: tuple[SeServer, Wire]) -> None:
    _, wire = se
    _ok(wire, sa.CMD_TAMPER_EVENT, b"\x02")
    challenge = _ok(wire, sa.CMD_UNLOCK_CHALLENGE)
    assert _ok(wire, sa.CMD_TAMPER_EVENT, b"\x03")[1:] == (2).to_bytes(4, "big")
    serial = "PTSE-TEST-0001"
    assert _status(wire, sa.CMD_UNLOCK, _unlock_mac(serial, challenge, 2)) == sf.ST_NOT_ALLOWED
    challenge = _ok(wire, sa.CMD_UNLOCK_CHALLENGE)
    assert _ok(wire, sa.CMD_UNLOCK, _unlock_mac(serial, challenge, 2)) == b""
    log = json.loads(read_all(se[0].engine.store.path))["tamper_log"]
    assert [e["source"] for e in log] == ["voltage", "temperature"]


def test_concurrent_buses_never_share_a_counter(se: tuple[SeServer, Wire]) -> None:
    server, wire = se
    public = _ok(wire, sa.CMD_GENERATE_KEY, b"\x00")
    results: list[tuple[int, bytes, bytes]] = []
    errors: list[BaseException] = []

    def client(n: int) -> None:
        w = Wire(server.port)
        try:
            for i in range(15):
                digest = hashlib.sha256(b"%d/%d" % (n, i)).digest()
                counter, signature = _sign(w, digest)
                results.append((counter, signature, digest))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            w.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(c for c, _, _ in results) == list(range(1, 61))
    for counter, signature, digest in results:
        _verify(public, signature, digest, counter)


def test_arbitrary_requests_always_get_a_proper_answer(tmp_path: Path) -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from hsm_sim.se.engine import HANDLERS

    engine = Engine.open(tmp_path / "fuzz.json")
    engine.execute(sa.CMD_GENERATE_KEY, b"\x00")
    engine.execute(sa.CMD_LOAD_DUKPT, dukpt_block().encode())
    commands = st.one_of(st.sampled_from(sorted(HANDLERS)), st.integers(0, 255))

    @settings(max_examples=400, deadline=None, database=None)
    @given(cmd=commands, payload=st.binary(max_size=80), raw=st.binary(max_size=40))
    def check(cmd: int, payload: bytes, raw: bytes) -> None:
        status, _ = sf.decode(engine.handle(sf.encode_request(cmd, payload)))
        assert status != sf.ST_INTERNAL_ERROR, sa.command_name(cmd)
        if cmd not in HANDLERS:
            assert status == sf.ST_UNKNOWN_COMMAND
        try:
            sf.decode(raw)
        except ValueError:
            assert sf.decode(engine.handle(raw)) == (sf.ST_CRC_ERROR, b"")

    check()
    assert engine.execute(sf.CMD_ECHO, b"alive") == (sf.ST_OK, b"alive")
