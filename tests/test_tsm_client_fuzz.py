"""Hypothesis against the TSM client's HTTP response parser
(firmware/ota/client.py is MicroPython-compatible, so CPython imports it):
any bytes, and any damage to a valid response, end in a parsed response
or a DecodeError (TsmTruncated is one) — never another exception, never a
hang; valid responses round-trip whatever the read sizes."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware.ota.client import (
    READ_CHUNK,
    Reader,
    TsmClient,
    TsmTimeout,
    TsmTruncated,
    read_response,
)
from protocols.errors import DecodeError

LIMIT = 64 * 1024


class Stream:
    """Serves ``data`` in reads of the given sizes (cycled), then b""."""

    def __init__(self, data: bytes, sizes: list[int], timeout_at: int | None = None) -> None:
        self.data = data
        self.pos = 0
        self.sizes = sizes or [READ_CHUNK]
        self.i = 0
        self.timeout_at = timeout_at
        self.reads = 0

    def read(self, n: int) -> bytes | None:
        self.reads += 1
        assert 0 < n <= READ_CHUNK
        if self.timeout_at is not None and self.pos >= self.timeout_at:
            return None
        size = min(n, self.sizes[self.i % len(self.sizes)])
        self.i += 1
        out = self.data[self.pos : self.pos + size]
        self.pos += len(out)
        return out

    def write(self, data: bytes) -> int:
        return len(data)

    def close(self) -> None:
        pass


def parse(data: bytes, sizes: list[int], timeout_at: int | None = None) -> tuple[Any, bytes]:
    stream = Stream(data, sizes, timeout_at)
    resp = read_response(Reader(stream), "GET", LIMIT)
    body = resp.read_all(LIMIT)
    assert stream.reads <= len(data) + 2  # every read makes progress: no spinning
    return resp, body


def content_length(body: bytes, status: int = 200) -> bytes:
    return b"HTTP/1.1 %d X\r\nContent-Type: a/b\r\nContent-Length: %d\r\n\r\n%s" % (
        status,
        len(body),
        body,
    )


def chunked(body: bytes, cuts: list[int], ext: bool) -> bytes:
    parts, pos = [], 0
    for c in sorted(set(cuts)):
        if 0 < c < len(body):
            parts.append(body[pos:c])
            pos = c
    parts.append(body[pos:])
    out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    for p in parts:
        if p:
            out += b"%x%s\r\n%s\r\n" % (len(p), b";e=1" if ext else b"", p)
    return out + b"0\r\n\r\n"


sizes = st.lists(st.integers(1, 600), min_size=1, max_size=6)
bodies = st.binary(max_size=3000)
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=2000), sizes)
def test_any_bytes_parse_or_decode_error(data: bytes, sz: list[int]) -> None:
    with contextlib.suppress(DecodeError):
        parse(data, sz)


@FUZZ
@given(st.binary(max_size=300), sizes)
def test_any_bytes_after_a_status_line(data: bytes, sz: list[int]) -> None:
    for head in (b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"):
        with contextlib.suppress(DecodeError):
            parse(head + data, sz)


@FUZZ
@given(bodies, st.lists(st.integers(0, 3000), max_size=8), st.booleans(), sizes)
def test_valid_responses_round_trip(body: bytes, cuts: list[int], ext: bool, sz: list[int]) -> None:
    resp, got = parse(content_length(body), sz)
    assert (resp.status, got) == (200, body)
    resp, got = parse(chunked(body, cuts, ext), sz)
    assert (resp.status, got) == (200, body)


@FUZZ
@given(
    bodies,
    st.lists(st.integers(0, 3000), max_size=4),
    st.booleans(),
    sizes,
    st.data(),
)
def test_damaged_responses_only_decode_error(
    body: bytes, cuts: list[int], use_chunked: bool, sz: list[int], data: st.DataObject
) -> None:
    raw = bytearray(chunked(body, cuts, False) if use_chunked else content_length(body))
    how = data.draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
    at = data.draw(st.integers(0, len(raw) - 1))
    if how == "flip":
        raw[at] ^= data.draw(st.integers(1, 255))
    elif how == "cut":
        del raw[at:]
    elif how == "insert":
        raw[at:at] = data.draw(st.binary(min_size=1, max_size=8))
    else:
        del raw[at : at + data.draw(st.integers(1, 8))]
    if how == "cut":  # a response cut anywhere is incomplete
        with pytest.raises(TsmTruncated):
            parse(bytes(raw), sz)
        return
    with contextlib.suppress(DecodeError):
        parse(bytes(raw), sz)


@FUZZ
@given(bodies, sizes, st.integers(0, 3200))
def test_silence_is_a_timeout(body: bytes, sz: list[int], at: int) -> None:
    raw = content_length(body)
    try:
        _, got = parse(raw, sz, timeout_at=at)
    except TsmTimeout:
        assert at < len(raw)
        return
    assert got == body


@FUZZ
@given(st.binary(max_size=600), sizes)
def test_client_call_raises_only_typed_errors(data: bytes, sz: list[int]) -> None:
    client = TsmClient(lambda: Stream(data, sz), "tsm:8480", "PT-1")
    try:
        client.device_status()
    except DecodeError:
        pass
    except Exception as e:  # the client's own errors only
        assert type(e).__name__ in ("TsmRefused",), repr(e)
