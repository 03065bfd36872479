"""DATA_WRAP / DATA_UNWRAP of the SE emulator (docs/secure-element.md, "Data
at rest"): over real TCP on 127.0.0.1 and through ``Engine.execute``.  Blobs
are checked against AES-256-GCM computed here with `cryptography` (the
storage key taken out of the state file, which is the emulated chip's
internal memory), every refusal is exercised (other purpose, other SE, each
byte flipped, truncated, oversize, no key, locked), the key survives
restarts and tamper, is never in clear in the state file, a response or a
log line, and its first save is durable before any blob exists."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st
from se_support import SeServer, Wire, read_all, secret_hexes

from hsm_sim.crypto import aes
from hsm_sim.se import vault
from hsm_sim.se.engine import Engine
from hsm_sim.se.storage import Storage
from hsm_sim.se.testkeys import TEST_UNLOCK_KEY
from protocols import se_app as sa
from protocols import se_frame as sf
from protocols.errors import DecodeError

SERIAL = "PTSE-TEST-0001"
RECORD = b"REVERSAL|4761739001010010|9F2608A1B2C3D4E5F60718|000000001500"


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


def _storage_key(state: Path) -> bytes:
    store = Storage.open(state)
    return store.unwrap("storage_key", store.data["secrets"]["storage_key"])


def _gcm_open(key: bytes, purpose: int, serial: str, blob: bytes) -> bytes:
    """The blob opened by the documented format, independently of the SE."""
    assert blob[0] == 1
    aad = b"PTSE-WRAP1" + bytes((purpose,)) + serial.encode()
    return AESGCM(key).decrypt(blob[1:13], blob[13:], aad)


def test_layout_constants_fit_one_frame() -> None:
    assert (sa.CMD_DATA_WRAP, sa.CMD_DATA_UNWRAP) == (0x28, 0x29)
    assert sa.WRAP_OVERHEAD == 1 + 12 + 16
    # the longest request (DATA_UNWRAP: purpose + blob of MAX_WRAP) fills a frame
    assert 1 + sa.WRAP_OVERHEAD + sa.MAX_WRAP == sf.MAX_PAYLOAD
    sf.encode_request(sa.CMD_DATA_UNWRAP, bytes(1 + sa.WRAP_OVERHEAD + sa.MAX_WRAP))
    assert sa.WRAP_OVERHEAD + sa.MAX_WRAP <= sf.MAX_PAYLOAD  # the WRAP answer too
    assert sa.wrap_aad(3, "S1") == b"PTSE-WRAP1\x03S1"
    for bad in (b"", bytes(29), b"\x02" + bytes(30), bytes(1 + sa.WRAP_OVERHEAD + sa.MAX_WRAP)):
        with pytest.raises(DecodeError):
            sa.split_blob(bad)


def test_round_trip_over_the_bus_matches_aes_gcm(se: tuple[SeServer, Wire], state: Path) -> None:
    _, wire = se
    fake = b"\x01" + bytes(12) + b"x" + bytes(16)
    assert wire.request(sa.CMD_DATA_UNWRAP, b"\x01" + fake) == (sf.ST_KEY_NOT_FOUND, b"")
    blobs = []
    for purpose, data in (
        (1, RECORD),
        (2, b"\x00"),
        (255, os.urandom(sa.MAX_WRAP)),
        (0, b"z" * 500),
    ):
        blob = _ok(wire, sa.CMD_DATA_WRAP, bytes((purpose,)) + data)
        assert len(blob) == len(data) + 29 and blob[0] == 1
        if len(data) >= 16:  # a short value can occur in random bytes by chance
            assert data not in blob
        assert _ok(wire, sa.CMD_DATA_UNWRAP, bytes((purpose,)) + blob) == data
        blobs.append((purpose, data, blob))
    key = _storage_key(state)
    for purpose, data, blob in blobs:
        assert _gcm_open(key, purpose, SERIAL, blob) == data
    # the same data twice: fresh nonces, different blobs, both open
    again = _ok(wire, sa.CMD_DATA_WRAP, b"\x01" + RECORD)
    assert again[1:13] != blobs[0][2][1:13] and again != blobs[0][2]
    assert _ok(wire, sa.CMD_DATA_UNWRAP, b"\x01" + again) == RECORD


def test_no_storage_key_until_the_first_wrap(state: Path) -> None:
    engine = Engine.open(state)
    blob = b"\x01" + bytes(12) + b"data" + bytes(16)
    assert engine.execute(sa.CMD_DATA_UNWRAP, b"\x01" + blob) == (sf.ST_KEY_NOT_FOUND, b"")
    assert "storage_key" not in Storage.open(state).data["secrets"]
    status, info = engine.execute(sf.CMD_INFO, b"")
    assert b'"storage_key": false' in info
    status, blob = engine.execute(sa.CMD_DATA_WRAP, b"\x01data")
    assert status == sf.ST_OK
    assert "storage_key" in Storage.open(state).data["secrets"]  # saved before the answer
    assert b'"storage_key": true' in engine.execute(sf.CMD_INFO, b"")[1]


def test_every_refusal(tmp_path: Path, state: Path) -> None:
    engine = Engine.open(state, serial=SERIAL)
    status, blob = engine.execute(sa.CMD_DATA_WRAP, b"\x05" + RECORD)
    assert status == sf.ST_OK

    def unwrap(purpose: int, b: bytes) -> int:
        return engine.execute(sa.CMD_DATA_UNWRAP, bytes((purpose,)) + b)[0]

    assert unwrap(5, blob) == sf.ST_OK
    # another purpose
    for purpose in (0, 4, 6, 0x85, 255):
        assert unwrap(purpose, blob) == sf.ST_BAD_PARAMETER
    # any byte flipped (version, nonce, ciphertext, tag), any bit of a few
    for i in range(len(blob)):
        flipped = bytearray(blob)
        flipped[i] ^= 0x01
        assert unwrap(5, bytes(flipped)) == sf.ST_BAD_PARAMETER, i
    for bit in range(8):
        flipped = bytearray(blob)
        flipped[20] ^= 1 << bit
        assert unwrap(5, bytes(flipped)) == sf.ST_BAD_PARAMETER
    # truncated or extended: still a blob's length, the tag fails
    assert unwrap(5, blob[:-1]) == sf.ST_BAD_PARAMETER
    assert unwrap(5, blob + b"\x00") == sf.ST_BAD_PARAMETER
    assert unwrap(5, blob[:30]) == sf.ST_BAD_PARAMETER
    # too short to hold one byte of data, or nothing at all
    assert unwrap(5, blob[:29]) == sf.ST_BAD_LENGTH
    assert engine.execute(sa.CMD_DATA_UNWRAP, b"")[0] == sf.ST_BAD_LENGTH
    assert engine.execute(sa.CMD_DATA_UNWRAP, b"\x05")[0] == sf.ST_BAD_LENGTH
    # oversize
    assert unwrap(5, b"\x01" + bytes(12 + sa.MAX_WRAP + 1 + 16)) == sf.ST_BAD_LENGTH
    assert engine.execute(sa.CMD_DATA_WRAP, b"\x05" + bytes(sa.MAX_WRAP + 1))[0] == sf.ST_BAD_LENGTH
    assert engine.execute(sa.CMD_DATA_WRAP, b"\x05")[0] == sf.ST_BAD_LENGTH
    assert engine.execute(sa.CMD_DATA_WRAP, b"")[0] == sf.ST_BAD_LENGTH
    # another SE (the same serial, even): its own storage key does not open it
    other = Engine.open(tmp_path / "other.json", serial=SERIAL)
    assert other.execute(sa.CMD_DATA_UNWRAP, b"\x05" + blob)[0] == sf.ST_KEY_NOT_FOUND
    assert other.execute(sa.CMD_DATA_WRAP, b"\x05x")[0] == sf.ST_OK
    assert other.execute(sa.CMD_DATA_UNWRAP, b"\x05" + blob)[0] == sf.ST_BAD_PARAMETER
    # another serial under the same key: the AAD binds the serial
    key = _storage_key(state)
    assert _gcm_open(key, 5, SERIAL, blob) == RECORD
    with pytest.raises(InvalidTag):
        _gcm_open(key, 5, "PTSE-TEST-0002", blob)
    # after all that the blob still opens: refusals changed nothing
    assert engine.execute(sa.CMD_DATA_UNWRAP, b"\x05" + blob) == (sf.ST_OK, RECORD)


def _unlock(engine: Engine) -> None:
    challenge = engine.execute(sa.CMD_UNLOCK_CHALLENGE, b"")[1]
    count = int(engine.store.data["tamper_count"])
    message = sa.unlock_message(engine.serial, challenge, count)
    assert engine.execute(sa.CMD_UNLOCK, aes.cmac(TEST_UNLOCK_KEY, message))[0] == sf.ST_OK


def test_locked_refuses_both_and_the_key_survives_the_unlock(state: Path) -> None:
    engine = Engine.open(state)
    blob = engine.execute(sa.CMD_DATA_WRAP, b"\x01" + RECORD)[1]
    assert engine.execute(sa.CMD_TAMPER_EVENT, b"\x01")[0] == sf.ST_OK
    assert engine.execute(sa.CMD_DATA_WRAP, b"\x01" + RECORD) == (sf.ST_NOT_ALLOWED, b"")
    assert engine.execute(sa.CMD_DATA_UNWRAP, b"\x01" + blob) == (sf.ST_NOT_ALLOWED, b"")
    # a locked SE with no storage key yet does not create one either
    fresh = Engine.open(state.with_name("fresh.json"))
    fresh.execute(sa.CMD_TAMPER_EVENT, b"\x00")
    assert fresh.execute(sa.CMD_DATA_WRAP, b"\x01x")[0] == sf.ST_NOT_ALLOWED
    assert "storage_key" not in Storage.open(state.with_name("fresh.json")).data["secrets"]
    # the lock and the key survive a restart; after the TSM's unlock the
    # owed records open again
    after = Engine.open(state)
    assert after.execute(sa.CMD_DATA_UNWRAP, b"\x01" + blob)[0] == sf.ST_NOT_ALLOWED
    _unlock(after)
    assert after.execute(sa.CMD_DATA_UNWRAP, b"\x01" + blob) == (sf.ST_OK, RECORD)


def test_blobs_open_after_restarts(state: Path) -> None:
    blobs: list[bytes] = []
    for run in range(3):
        server = SeServer(state)
        wire = Wire(server.port)
        try:
            for i, old in enumerate(blobs):
                assert _ok(wire, sa.CMD_DATA_UNWRAP, b"\x02" + old) == RECORD + bytes((i,))
            blobs.append(_ok(wire, sa.CMD_DATA_WRAP, b"\x02" + RECORD + bytes((run,))))
        finally:
            wire.close()
            server.close()
    assert len({b[1:13] for b in blobs}) == 3


def test_failed_first_save_hands_out_no_blob(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = Engine.open(state)

    def disk_full(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    assert engine.execute(sa.CMD_DATA_WRAP, b"\x01" + RECORD) == (sf.ST_INTERNAL_ERROR, b"")
    monkeypatch.undo()
    assert "storage_key" not in engine.store.data["secrets"]
    assert "storage_key" not in Storage.open(state).data["secrets"]
    status, blob = engine.execute(sa.CMD_DATA_WRAP, b"\x01" + RECORD)
    assert status == sf.ST_OK
    assert Engine.open(state).execute(sa.CMD_DATA_UNWRAP, b"\x01" + blob) == (sf.ST_OK, RECORD)


def test_storage_key_never_in_clear(
    se: tuple[SeServer, Wire], state: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _, wire = se
    caplog.set_level(logging.DEBUG)
    responses = []
    for purpose in range(4):
        blob = _ok(wire, sa.CMD_DATA_WRAP, bytes((purpose,)) + RECORD)
        responses += [blob, _ok(wire, sa.CMD_DATA_UNWRAP, bytes((purpose,)) + blob)]
        responses.append(wire.request(sf.CMD_RESEND)[1])
        wire.request(sa.CMD_DATA_UNWRAP, bytes((purpose + 1,)) + blob)
    responses.append(_ok(wire, sf.CMD_INFO))
    key = _storage_key(state)
    assert len(key) == 32
    text = read_all(state)
    logs = "\n".join(r.getMessage() for r in caplog.records)
    assert all(key not in r for r in responses)
    for spelled in secret_hexes(key):
        assert spelled not in text and spelled not in logs
    assert RECORD.decode() not in logs and RECORD.hex() not in logs
    assert "DATA_UNWRAP refused" in logs  # the refusal is logged, by name only
    # the state file alone does not give the key away
    Storage.secret_path(state).write_text(os.urandom(32).hex())
    with pytest.raises(Exception, match="does not verify"):
        _storage_key(state)


def test_round_trip_property(tmp_path: Path) -> None:
    engine = Engine.open(tmp_path / "prop.json")
    key = b""

    @settings(max_examples=150, deadline=None, database=None)
    @given(
        purpose=st.integers(0, 255),
        other=st.integers(1, 255),
        data=st.binary(min_size=1, max_size=sa.MAX_WRAP),
    )
    def check(purpose: int, other: int, data: bytes) -> None:
        nonlocal key
        status, blob = engine.execute(sa.CMD_DATA_WRAP, bytes((purpose,)) + data)
        assert status == sf.ST_OK and len(blob) == len(data) + sa.WRAP_OVERHEAD
        assert engine.execute(sa.CMD_DATA_UNWRAP, bytes((purpose,)) + blob) == (sf.ST_OK, data)
        wrong = bytes(((purpose + other) % 256,))
        assert engine.execute(sa.CMD_DATA_UNWRAP, wrong + blob)[0] == sf.ST_BAD_PARAMETER
        key = key or engine.store.unwrap("storage_key", engine.store.data["secrets"]["storage_key"])
        assert _gcm_open(key, purpose, engine.serial, blob) == data

    check()
    assert vault.has_key(engine)


def test_one_byte_answers_over_the_bus(se: tuple[SeServer, Wire]) -> None:
    """Header then a 3-byte body (a 1-byte payload and its CRC): the body
    read continues the response; once it is all read, a 3-byte read starts
    it again from the top (docs/se.md)."""
    _, wire = se
    blob = _ok(wire, sa.CMD_DATA_WRAP, b"\x09\x42")
    assert wire.request(sa.CMD_DATA_UNWRAP, b"\x09" + blob) == (sf.ST_OK, b"\x42")
    assert wire.read(3) == b"\x00\x00\x01"  # re-read from the top
    assert len(_ok(wire, sf.CMD_RANDOM, b"\x01")) == 1
