"""The service protocol's frame codec (protocols/service_frame.py, docs/service.md):
exact bytes with CRCs from the standard library's binascii.crc_hqx (not our
CRC code), round trips, every malformed input a DecodeError, the stream
deframer resynchronising after garbage, bad lengths and bad CRCs."""

from __future__ import annotations

import binascii
import contextlib
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import service_frame as sf
from protocols.errors import DecodeError, EncodeError


def ref_frame(code: int, payload: bytes) -> bytes:
    body = bytes([code]) + len(payload).to_bytes(2, "big") + payload
    return b"PS" + body + binascii.crc_hqx(body, 0xFFFF).to_bytes(2, "big")


def test_exact_bytes() -> None:
    assert sf.encode(sf.CMD_HELLO) == bytes.fromhex("5053010000") + (
        binascii.crc_hqx(b"\x01\x00\x00", 0xFFFF).to_bytes(2, "big")
    )
    assert sf.encode(0x85, b"oops") == ref_frame(0x85, b"oops")
    big = bytes(range(256)) * 4
    assert sf.encode(sf.ST_DATA, big) == ref_frame(1, big)
    assert sf.decode(ref_frame(0x20, b"")) == (0x20, b"")


def test_encode_refuses() -> None:
    with pytest.raises(EncodeError):
        sf.encode(256)
    with pytest.raises(EncodeError):
        sf.encode(-1)
    with pytest.raises(EncodeError):
        sf.encode(1, bytes(sf.MAX_PAYLOAD + 1))


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"", "LEN"),
        (b"PS\x01\x00", "LEN"),
        (b"XS\x01\x00\x00\x00\x00", "SYNC"),
        (b"PS\x01\x04\x01" + bytes(1027), "LEN"),  # LEN 1025 > 1024
        (ref_frame(1, b"ab")[:-1], "LEN"),
        (ref_frame(1, b"ab") + b"\x00", "LEN"),
        (ref_frame(1, b"ab")[:-1] + b"\x00", "CRC"),
    ],
)
def test_decode_names_the_field(raw: bytes, field: str) -> None:
    with pytest.raises(DecodeError) as err:
        sf.decode(raw)
    assert err.value.field == field


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 255), st.binary(max_size=sf.MAX_PAYLOAD))
def test_round_trip(code: int, payload: bytes) -> None:
    raw = sf.encode(code, payload)
    assert raw == ref_frame(code, payload)
    assert sf.decode(raw) == (code, payload)
    d = sf.Deframer()
    for i in range(len(raw)):  # byte by byte, as a UART delivers
        assert d.next() is None
        d.feed(raw[i : i + 1])
    assert d.next() == (code, payload) and d.pending() == 0


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=64))
def test_decode_fuzz_raises_only_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        sf.decode(data)
    with contextlib.suppress(DecodeError):
        sf.decode(b"PS" + data)


def _drain(d: sf.Deframer) -> tuple[list[tuple[int, bytes]], int]:
    """Frames and errors until the deframer wants more bytes; each call
    must make progress (never spin)."""
    frames, errors = [], 0
    for _ in range(10_000):
        before = d.pending()
        try:
            got = d.next()
        except DecodeError:
            errors += 1
            assert d.pending() < before
            continue
        if got is None:
            return frames, errors
        frames.append(got)
    raise AssertionError("deframer does not make progress")


@settings(max_examples=500, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=8), st.integers(1, 9))
def test_deframer_fuzz_raises_only_decode_error(pieces: list[bytes], step: int) -> None:
    d = sf.Deframer()
    stream = b"".join(pieces)
    for i in range(0, len(stream), step):
        d.feed(stream[i : i + step])
        _drain(d)
    assert d.pending() <= len(stream)


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=50).filter(lambda b: b"P" not in b),
    st.integers(0, 255),
    st.binary(max_size=100),
)
def test_deframer_finds_a_frame_after_garbage(junk: bytes, code: int, payload: bytes) -> None:
    d = sf.Deframer()
    d.feed(junk + sf.encode(code, payload) + sf.encode(2))
    frames, errors = _drain(d)
    assert frames == [(code, payload), (2, b"")]
    assert errors == (1 if junk else 0)


def test_deframer_after_bad_crc_and_bad_length() -> None:
    good = sf.encode(sf.CMD_STATUS)
    bad_crc = bytearray(sf.encode(sf.CMD_HELLO, b"xyz"))
    bad_crc[-1] ^= 1
    too_long = b"PS\x01\xff\xff"
    d = sf.Deframer()
    d.feed(bytes(bad_crc) + good + too_long + good)
    with pytest.raises(DecodeError, match="CRC"):
        d.next()
    assert d.next() == (sf.CMD_STATUS, b"")
    with pytest.raises(DecodeError, match="LEN"):
        d.next()
    # the three bytes after the dropped SYNC are garbage before the next frame
    with pytest.raises(DecodeError, match="3 bytes outside a frame"):
        d.next()
    assert d.next() == (sf.CMD_STATUS, b"")
    assert d.next() is None
    # an incomplete frame waits; clear() drops it
    d.feed(good[:4])
    assert d.next() is None and d.pending() == 4
    assert d.clear() == 4 and d.pending() == 0
    # a lone "P" at the end may start the next frame
    d.feed(b"xxP")
    with pytest.raises(DecodeError, match="2 bytes"):
        d.next()
    d.feed(good[1:])
    assert d.next() == (sf.CMD_STATUS, b"")


def test_auth_message_and_digest() -> None:
    c = bytes(range(16))
    msg = sf.auth_message(c, "PT-SIM-0042")
    assert msg == b"PTSV-AUTH1" + c + b"\x0bPT-SIM-0042"
    assert sf.auth_digest(c, "PT-SIM-0042") == hashlib.sha256(msg).digest()
    with pytest.raises(EncodeError):
        sf.auth_message(c[:15], "PT")
    with pytest.raises(EncodeError):
        sf.auth_message(c, "")


def test_export_end() -> None:
    h = hashlib.sha256(b"x").digest()
    raw = sf.encode_export_end(70000, h, True)
    assert raw == (70000).to_bytes(4, "big") + h + b"\x01"
    assert sf.decode_export_end(raw) == (70000, h, True)
    assert sf.decode_export_end(sf.encode_export_end(0, h, False)) == (0, h, False)
    for bad in (raw[:-1], raw + b"\x00", raw[:-1] + b"\x02"):
        with pytest.raises(DecodeError):
            sf.decode_export_end(bad)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40))
def test_json_payload_fuzz(data: bytes) -> None:
    try:
        doc = sf.decode_json(data)
    except DecodeError:
        return
    assert isinstance(doc, dict)


def test_json_payload_is_canonical() -> None:
    doc = {"z": 1, "a": "PT", "m": None, "b": True}
    assert sf.encode_json(doc) == b'{"a":"PT","b":true,"m":null,"z":1}'
    assert sf.decode_json(sf.encode_json(doc)) == doc
    for bad in (b"[1]", b"{", b"\xff"):
        with pytest.raises(DecodeError):
            sf.decode_json(bad)


def test_names() -> None:
    assert sf.command_name(sf.CMD_EXPORT) == "EXPORT"
    assert sf.status_name(sf.ST_NOT_AUTHENTICATED) == "NOT_AUTHENTICATED"
    assert sf.command_name(0x7F) == "CMD_7F"
