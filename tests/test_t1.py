"""protocols.t1: ISO 7816-3 T=1 blocks from tests/vectors/t1_blocks.json, the
CRC against its catalogue check value, malformed blocks, chaining and fuzzing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols import t1
from protocols.errors import DecodeError, EncodeError

DATA = json.loads((Path(__file__).parent / "vectors" / "t1_blocks.json").read_text())


def _build(v: dict[str, Any]) -> t1.Block:
    if v["kind"] == "I":
        return t1.i_block(v["ns"], bytes.fromhex(v["inf"]), v["more"])
    if v["kind"] == "R":
        return t1.r_block(v["nr"], v["error"])
    return t1.s_block(v["stype"], v["response"], v.get("value"))


@pytest.mark.parametrize("v", DATA["blocks"], ids=lambda v: v["name"])
def test_published_blocks_decode_and_encode(v: dict[str, Any]) -> None:
    raw = bytes.fromhex(v["hex"])
    block = t1.decode(raw)
    assert block.kind == v["kind"]
    if v["kind"] == "I":
        assert (block.ns, block.more, block.inf.hex().upper()) == (v["ns"], v["more"], v["inf"])
    elif v["kind"] == "R":
        assert (block.nr, block.error) == (v["nr"], v["error"])
    else:
        assert (block.stype, block.response) == (v["stype"], v["response"])
        if "value" in v:
            assert block.value() == v["value"]
    assert t1.encode(_build(v)) == raw
    assert t1.block_length(raw[:3]) == len(raw)


def test_crc_check_value_and_crc_blocks() -> None:
    check = DATA["crc_check"]
    assert f"{t1.crc(bytes.fromhex(check['data'])):04X}" == check["crc"]
    raw = t1.encode(t1.i_block(1, b"\x00\xb2\x01\x0c\x00"), t1.CRC)
    assert len(raw) == 3 + 5 + 2
    assert t1.decode(raw, t1.CRC).inf == b"\x00\xb2\x01\x0c\x00"
    with pytest.raises(DecodeError) as err:
        t1.decode(raw, t1.LRC)
    assert err.value.field in ("LEN", "EDC")


@pytest.mark.parametrize(
    ("hexblock", "field"),
    [
        ("00C101FE3F", "EDC"),  # LRC off by one bit
        ("00C101FE", "LEN"),  # EDC missing
        ("00C1", "LEN"),  # no LEN
        ("00C1FF", "LEN"),  # LEN FF reserved
        ("00C10100C0", "INF"),  # IFS 0
        ("00C10200FE3D", "INF"),  # S(IFS) with two bytes
        ("00C001" + "05C4", "INF"),  # S(RESYNCH) with INF
        ("00A000A0", "PCB"),  # R-block with b6 set
        ("00830083", "PCB"),  # R-block error code 3
        ("00C400C4", "PCB"),  # VPP error as a request
        ("00C500C5", "PCB"),  # S-block type 5
        ("00010100 00".replace(" ", ""), "PCB"),  # I-block RFU bit
        ("88000088", "NAD"),  # NAD b8/b4 set
        ("0080010180", "INF"),  # R-block with INF
    ],
)
def test_malformed_blocks_name_the_field(hexblock: str, field: str) -> None:
    with pytest.raises(DecodeError) as err:
        t1.decode(bytes.fromhex(hexblock))
    assert err.value.field == field


def test_encoder_refuses_what_t1_cannot_carry() -> None:
    with pytest.raises(EncodeError):
        t1.i_block(0, bytes(255))
    with pytest.raises(EncodeError):
        t1.i_block(0, b"")
    with pytest.raises(EncodeError):
        t1.s_block(t1.S_IFS)
    with pytest.raises(EncodeError):
        t1.r_block(0, 3)
    with pytest.raises(EncodeError):
        t1.chain(b"\x00", 0)


def test_chaining_cuts_at_the_ifs() -> None:
    apdu = bytes(range(256)) + b"\x00"
    parts = t1.chain(apdu, 254)
    assert [len(p) for p in parts] == [254, 3]
    assert b"".join(parts) == apdu
    assert t1.chain(b"\x01\x02\x03", 32) == [b"\x01\x02\x03"]


@given(st.binary(max_size=300), st.sampled_from([t1.LRC, t1.CRC]))
def test_arbitrary_bytes_raise_only_decode_error(data: bytes, edc: str) -> None:
    try:
        block = t1.decode(data, edc)
    except DecodeError:
        return
    assert t1.encode(block, edc) == data


@given(
    st.integers(0, 1),
    st.binary(min_size=1, max_size=254),
    st.booleans(),
    st.sampled_from([t1.LRC, t1.CRC]),
)
def test_i_block_round_trip(ns: int, inf: bytes, more: bool, edc: str) -> None:
    raw = t1.encode(t1.i_block(ns, inf, more), edc)
    block = t1.decode(raw, edc)
    assert (block.kind, block.ns, block.more, block.inf) == ("I", ns, more, inf)
    # any single flipped bit is caught (LEN changes give LEN, others EDC/PCB/NAD)
    for i in range(len(raw)):
        bad = bytearray(raw)
        bad[i] ^= 0x01
        with pytest.raises(DecodeError):
            t1.decode(bytes(bad), edc)
