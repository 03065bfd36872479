"""PN532 frames: published vectors, nfcpy as a peer, and fuzzing of the
strict decoder and the streaming parser."""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import pn532
from protocols.errors import DecodeError, EncodeError

VECTORS = json.loads((Path(__file__).parent / "vectors" / "pn532_frames.json").read_text())
FRAMES = VECTORS["frames"]
STREAMS = VECTORS["streams"]


@pytest.mark.parametrize("vector", FRAMES, ids=lambda v: v["name"])
def test_published_frame_decodes(vector: dict[str, Any]) -> None:
    frame = pn532.decode_frame(bytes.fromhex(vector["hex"]))
    assert frame.kind == vector["kind"]
    if "command" in vector:
        assert pn532.command_of(frame) == (vector["command"], bytes.fromhex(vector["params"]))
    if "response_to" in vector:
        assert pn532.response_data(frame, vector["response_to"]) == bytes.fromhex(vector["data"])


@pytest.mark.parametrize("vector", [v for v in FRAMES if "command" in v], ids=lambda v: v["name"])
def test_published_command_encodes(vector: dict[str, Any]) -> None:
    got = pn532.encode_command(vector["command"], bytes.fromhex(vector["params"]))
    assert got == bytes.fromhex(vector["hex"])


@pytest.mark.parametrize(
    "vector", [v for v in FRAMES if "response_to" in v], ids=lambda v: v["name"]
)
def test_published_response_encodes(vector: dict[str, Any]) -> None:
    got = pn532.encode_response(vector["response_to"], bytes.fromhex(vector["data"]))
    assert got == bytes.fromhex(vector["hex"])


def test_fixed_frames_are_the_published_ones() -> None:
    by_name = {v["name"]: bytes.fromhex(v["hex"]) for v in FRAMES}
    assert by_name["ACK"] == pn532.ACK_FRAME
    assert by_name["NACK"] == pn532.NACK_FRAME
    assert by_name["error frame"] == pn532.ERROR_FRAME


@pytest.mark.parametrize("stream", STREAMS, ids=lambda v: v["name"])
def test_published_streams_parse_at_every_split(stream: dict[str, Any]) -> None:
    raw = bytes.fromhex(stream["hex"])
    want = [(k, t, bytes.fromhex(d)) for k, t, d in stream["frames"]]
    for cut in range(len(raw) + 1):
        parser = pn532.FrameParser()
        got = parser.feed(raw[:cut]) + parser.feed(raw[cut:])
        assert [(f.kind, f.tfi, f.data) for f in got] == want


# --- nfcpy as a peer -------------------------------------------------------
# nfcpy's own tests (tests/test_clf_pn532.py) mock the transport's read and
# write; we do the same and compare the bytes it writes with ours, and let it
# parse our responses.


def _nfcpy_chipset() -> Any:
    nfc_pn532 = pytest.importorskip("nfc.clf.pn532")
    transport = mock.MagicMock()
    return nfc_pn532.Chipset(transport, logger=logging.getLogger("nfcpy-peer"))


# nfcpy logs the command name, so only codes in its table can be sent.
NFCPY_KNOWN_CODES = [code for code, _ in pn532.COMMANDS]


@settings(deadline=None)
@given(
    st.sampled_from(NFCPY_KNOWN_CODES),
    st.one_of(st.binary(max_size=40), st.binary(min_size=250, max_size=263)),
    st.binary(max_size=300),
)
def test_nfcpy_writes_our_command_and_reads_our_response(
    code: int, params: bytes, answer: bytes
) -> None:
    chipset = _nfcpy_chipset()
    answer = answer[: pn532.MAX_FRAME_LEN - 2]
    chipset.transport.read.side_effect = [
        bytearray(pn532.ACK_FRAME),
        bytearray(pn532.encode_response(code, answer)),
    ]
    returned = chipset.command(code, bytearray(params), timeout=0.1)
    written = chipset.transport.write.call_args_list[0].args[0]
    assert bytes(written) == pn532.encode_command(code, params)
    assert bytes(returned) == answer


def test_extended_frame_threshold_matches_nfcpy() -> None:
    # nfcpy switches to the extended frame at 254 parameter bytes (LEN 256).
    assert pn532.encode_command(0x40, bytes(253))[3] == 255
    extended = pn532.encode_command(0x40, bytes(254))
    assert extended[3:5] == b"\xff\xff"
    assert extended[5:7] == (256).to_bytes(2, "big")
    assert pn532.decode_frame(extended).kind == pn532.KIND_EXTENDED


def test_nfcpy_rejects_our_response_with_bad_checksum() -> None:
    # Guards the peer test: nfcpy does check what we feed it.
    chipset = _nfcpy_chipset()
    bad = bytearray(pn532.encode_response(0x02, b"\x32\x01\x06\x07"))
    bad[-2] ^= 1
    chipset.transport.read.side_effect = [bytearray(pn532.ACK_FRAME), bad]
    with pytest.raises(OSError):
        chipset.command(0x02, bytearray(), timeout=0.1)


# --- encoder limits and tables -----------------------------------------------


def test_encoder_rejects_what_the_pn532_cannot_take() -> None:
    pn532.encode_command(0x40, bytes(pn532.MAX_FRAME_LEN - 2))
    with pytest.raises(EncodeError) as e:
        pn532.encode_command(0x40, bytes(pn532.MAX_FRAME_LEN - 1))
    assert e.value.field == "data"
    with pytest.raises(EncodeError):
        pn532.encode_command(256)
    with pytest.raises(EncodeError):
        pn532.encode_response(0xFF)


def test_error_meanings_come_from_the_status_low_bits() -> None:
    assert pn532.error_meaning(0x01).startswith("time out")
    assert pn532.error_meaning(0x41) == pn532.error_meaning(0x01)  # MI bit set
    assert pn532.error_meaning(0x27).startswith("command not acceptable")
    assert pn532.error_meaning(0x14) == "MIFARE: authentication error"
    assert pn532.error_meaning(0x3F) == "unknown error 0x3F"
    assert pn532.error_meaning(0x00) == "no error"


def test_error_codes_agree_with_nfcpy() -> None:
    nfc_pn532 = pytest.importorskip("nfc.clf.pn532")
    theirs = {k for k in nfc_pn532.Chipset.ERR if k < 0x40}
    assert {code for code, _ in pn532.ERRORS if code} == theirs


def test_command_names_agree_with_nfcpy() -> None:
    nfc_pn532 = pytest.importorskip("nfc.clf.pn532")
    theirs = dict(nfc_pn532.Chipset.CMD)
    ours = dict(pn532.COMMANDS)
    assert set(ours) == set(theirs)
    assert pn532.command_name(0x4A) == "InListPassiveTarget"
    assert pn532.command_name(0x01) is None


# --- strict decoder ----------------------------------------------------------


def test_bad_checksums_are_named() -> None:
    good = bytearray(pn532.encode_command(0x02))
    lcs = bytearray(good)
    lcs[4] ^= 0x01
    with pytest.raises(DecodeError) as e:
        pn532.decode_frame(bytes(lcs))
    assert (e.value.field, e.value.offset) == ("LCS", 4)
    dcs = bytearray(good)
    dcs[7] ^= 0x01
    with pytest.raises(DecodeError) as e:
        pn532.decode_frame(bytes(dcs))
    assert (e.value.field, e.value.offset) == ("DCS", 7)
    ext = bytearray(pn532.encode_command(0x40, bytes(260)))
    ext[7] ^= 0x01
    with pytest.raises(DecodeError) as e:
        pn532.decode_frame(bytes(ext))
    assert (e.value.field, e.value.offset) == ("LCS", 7)


@given(st.integers(0, 255), st.binary(max_size=pn532.MAX_FRAME_LEN - 2))
def test_command_round_trip(code: int, params: bytes) -> None:
    frame = pn532.decode_frame(pn532.encode_command(code, params))
    assert pn532.command_of(frame) == (code, params)
    assert frame.kind == (pn532.KIND_NORMAL if len(params) <= 253 else pn532.KIND_EXTENDED)


@given(st.binary(max_size=400))
def test_decode_frame_raises_only_decode_error(raw: bytes) -> None:
    with contextlib.suppress(DecodeError):
        pn532.decode_frame(raw)


@given(st.integers(0, 254), st.binary(max_size=64), st.integers(0, 80), st.integers(0, 7))
def test_any_single_bit_flip_is_caught(code: int, data: bytes, index: int, bit: int) -> None:
    raw = bytearray(pn532.encode_response(code, data))
    raw[index % len(raw)] ^= 1 << bit
    try:
        frame = pn532.decode_frame(bytes(raw))
    except DecodeError:
        return
    # A flip in the length can turn the frame into ACK/NACK-shaped bytes
    # only if it still checks; it never yields the original payload silently.
    assert (frame.kind, frame.data) != (pn532.KIND_NORMAL, bytes((code + 1,)) + data)


# --- streaming parser --------------------------------------------------------

frame_specs = st.one_of(
    st.just(("ack", None, b"")),
    st.just(("nack", None, b"")),
    st.just(("error", None, b"")),
    st.tuples(st.just("normal"), st.sampled_from([0xD4, 0xD5]), st.binary(min_size=0, max_size=60)),
    st.tuples(
        st.just("extended"), st.sampled_from([0xD4, 0xD5]), st.binary(min_size=255, max_size=264)
    ),
)
# Noise without 00 cannot contain a start code, so the expected frames are exact.
noise = st.binary(max_size=12).map(lambda b: bytes(x or 0x55 for x in b))


def _wire(spec: tuple[str, int | None, bytes]) -> bytes:
    kind, tfi, data = spec
    if kind == "ack":
        return pn532.ACK_FRAME
    if kind == "nack":
        return pn532.NACK_FRAME
    if kind == "error":
        return pn532.ERROR_FRAME
    assert tfi is not None
    return pn532.encode_frame(tfi, data)


def _chunks(raw: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(raw) + 1) for c in cuts})
    out, last = [], 0
    for p in [*points, len(raw)]:
        out.append(raw[last:p])
        last = p
    return out


@settings(deadline=None)
@given(st.lists(st.tuples(noise, frame_specs), max_size=6), noise, st.lists(st.integers(0, 5000)))
def test_parser_finds_every_frame_across_any_chunking(
    parts: list[tuple[bytes, tuple[str, int | None, bytes]]], tail: bytes, cuts: list[int]
) -> None:
    raw = b"".join(n + _wire(spec) for n, spec in parts) + tail
    parser = pn532.FrameParser()
    got = []
    for chunk in _chunks(raw, cuts):
        got += parser.feed(chunk)
        assert parser.buffered <= pn532.MAX_FRAME_LEN + 9 + 64
    assert [(f.kind, f.tfi, f.data) for f in got] == [spec for _, spec in parts]
    assert parser.skipped <= len(raw)


@settings(deadline=None)
@given(
    st.binary(max_size=40).map(lambda b: bytes(x or 1 for x in b)),
    st.sampled_from(["LCS", "DCS", "TFI"]),
    st.binary(max_size=40).map(lambda b: bytes(x or 1 for x in b)),
    st.lists(st.integers(0, 500)),
)
def test_corrupt_frame_is_reported_and_next_frame_survives(
    bad_data: bytes, where: str, good_data: bytes, cuts: list[int]
) -> None:
    bad = bytearray(pn532.encode_frame(0xD5, bad_data))
    index = {"LCS": 4, "TFI": 5, "DCS": len(bad) - 2}[where]
    bad[index] ^= 0x5A
    good = pn532.encode_frame(0xD5, good_data)
    raw = bytes(bad) + good
    parser = pn532.FrameParser()
    got = []
    for chunk in _chunks(raw, cuts):
        got += parser.feed(chunk)
    corrupt = [f for f in got if f.kind == pn532.KIND_CORRUPT]
    assert corrupt and corrupt[0].offset == 1
    assert isinstance(corrupt[0].error, DecodeError)
    # Changing TFI breaks the data checksum first; either names a real field.
    assert corrupt[0].error.field in ({where} if where != "TFI" else {"DCS", "TFI"})
    assert got[-1] == pn532.Frame(pn532.KIND_NORMAL, 0xD5, good_data)


@settings(deadline=None)
@given(st.binary(max_size=2000), st.lists(st.integers(0, 3000), max_size=20))
def test_parser_survives_arbitrary_bytes(raw: bytes, cuts: list[int]) -> None:
    parser = pn532.FrameParser()
    for chunk in _chunks(raw, cuts):
        for frame in parser.feed(chunk):
            assert frame.kind in (
                pn532.KIND_ACK,
                pn532.KIND_NACK,
                pn532.KIND_ERROR,
                pn532.KIND_NORMAL,
                pn532.KIND_EXTENDED,
                pn532.KIND_CORRUPT,
            )
            assert (frame.error is not None) == (frame.kind == pn532.KIND_CORRUPT)
        assert parser.buffered <= pn532.MAX_FRAME_LEN + 9 + 64


def test_parser_caps_declared_length() -> None:
    parser = pn532.FrameParser(max_len=40)
    too_long = pn532.encode_frame(0xD4, bytes(60))
    got = parser.feed(too_long + pn532.ACK_FRAME)
    assert got[0].kind == pn532.KIND_CORRUPT and got[0].error is not None
    assert got[0].error.field == "LEN"
    assert got[-1].kind == pn532.KIND_ACK


def test_parser_offsets_count_the_whole_stream() -> None:
    parser = pn532.FrameParser()
    parser.feed(b"\x55" * 100)
    (ack,) = parser.feed(pn532.ACK_FRAME)
    assert ack.offset == 101  # the 00 FF start code after 100 noise bytes and the preamble
    assert parser.skipped == 100


def test_parser_recovers_when_a_frame_restarts_inside_a_cut_header() -> None:
    # A PN532 reset mid-frame leaves "00 00 FF" and then a whole frame: the
    # cut header reads as LEN 00 LCS 00, and the real start code sits two
    # bytes into it.
    good = pn532.encode_response(0x02, b"\x32\x01\x06\x07")
    for cut in (b"\x00\x00\xff", b"\x00\x00\xff\x06"):
        got = pn532.FrameParser().feed(cut + good)
        assert got[-1] == pn532.decode_frame(good)
        assert all(f.kind == pn532.KIND_CORRUPT for f in got[:-1])


def test_postamble_arriving_late_does_not_start_a_false_frame() -> None:
    # ACK, then its postamble in the next read, then a noise FF: "00 FF" must
    # not be taken for a start code.
    parser = pn532.FrameParser()
    assert parser.feed(pn532.ACK_FRAME[:-1]) == [pn532.Frame(pn532.KIND_ACK)]
    assert parser.feed(b"\x00\xff\x55\x55\x55") == []
    assert parser.feed(pn532.NACK_FRAME) == [pn532.Frame(pn532.KIND_NACK)]
