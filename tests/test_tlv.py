"""BER-TLV, DOL and the EMV tag dictionary under CPython.

Published vectors (tests/vectors/tlv_*.json, sources inside), properties
checked with hypothesis, a differential check against pyemv's independent
BER-TLV codec, and the `payterm tlv` CLI.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyemv import tlv as pyemv_tlv

from payterm.cli import main
from protocols import emv_tags, tlv
from protocols.errors import DecodeError

VECTORS = Path(__file__).parent / "vectors"
CARD = json.loads((VECTORS / "tlv_card_responses.json").read_text())
BER = json.loads((VECTORS / "tlv_ber.json").read_text())
DOL = json.loads((VECTORS / "tlv_dol.json").read_text())


def shape(nodes: list[tlv.TLV]) -> list[dict[str, Any]]:
    """The vector files' tree shape."""
    out: list[dict[str, Any]] = []
    for node in nodes:
        if node.children is None:
            out.append({"tag": tlv.tag_hex(node.tag), "value": node.value.hex().upper()})
        else:
            out.append({"tag": tlv.tag_hex(node.tag), "children": shape(node.children)})
    return out


# --- published vectors -------------------------------------------------


@pytest.mark.parametrize("vector", CARD["vectors"], ids=lambda v: v["name"])
def test_card_response_decodes_to_published_tree(vector: dict[str, Any]) -> None:
    raw = bytes.fromhex(vector["response"])
    assert raw[-2:].hex().upper() == vector["sw"]
    nodes = tlv.decode(raw[:-2])
    assert shape(nodes) == vector["tree"]
    assert tlv.encode(nodes) == raw[:-2]


@pytest.mark.parametrize("vector", CARD["vectors"], ids=lambda v: v["name"])
def test_card_response_agrees_with_pyemv(vector: dict[str, Any]) -> None:
    body = bytes.fromhex(vector["response"])[:-2]
    assert as_pyemv(tlv.decode(body)) == pyemv_tlv.decode(body)


@pytest.mark.parametrize("vector", BER["valid"], ids=lambda v: v["name"])
def test_ber_rule_valid(vector: dict[str, Any]) -> None:
    nodes = tlv.decode(bytes.fromhex(vector["hex"]))
    assert shape(nodes) == vector["tree"]
    if vector["minimal"]:
        assert tlv.encode(nodes).hex().upper() == vector["hex"]


@pytest.mark.parametrize("vector", BER["invalid"], ids=lambda v: v["name"])
def test_ber_rule_invalid(vector: dict[str, Any]) -> None:
    with pytest.raises(DecodeError) as info:
        tlv.decode(bytes.fromhex(vector["hex"]))
    assert vector["reason"] in str(info.value)
    assert info.value.offset == vector["offset"]
    assert info.value.tag is not None


@pytest.mark.parametrize("vector", DOL["parse"], ids=lambda v: v["name"])
def test_parse_published_dol(vector: dict[str, Any]) -> None:
    entries = tlv.parse_dol(bytes.fromhex(vector["dol"]))
    assert [[tlv.tag_hex(t), n] for t, n in entries] == vector["entries"]


@pytest.mark.parametrize("vector", DOL["build"], ids=lambda v: v["name"])
def test_build_dol_data(vector: dict[str, Any]) -> None:
    store = {int(k, 16): bytes.fromhex(v) for k, v in vector["store"].items()}
    assert tlv.build_dol_data(bytes.fromhex(vector["dol"]), store).hex().upper() == vector["data"]


@pytest.mark.parametrize("vector", DOL["invalid"], ids=lambda v: v["name"])
def test_parse_dol_invalid(vector: dict[str, Any]) -> None:
    with pytest.raises(DecodeError):
        tlv.parse_dol(bytes.fromhex(vector["dol"]))


def test_dictionary_covers_book3_annex_a() -> None:
    # The data elements the issue names, plus every 9F01..9F4F except the
    # few that neither Book 3 Annex A nor Books B, C-2, C-3 assign.
    named = [0x4F, 0x50, 0x57, 0x5A, 0x5F20, 0x5F24, 0x5F25, 0x5F28, 0x5F2A, 0x5F2D, 0x5F30]
    named += [0x5F34, 0x61, 0x6F, 0x70, 0x71, 0x72, 0x73, 0x77, 0x80, 0x81, 0x82, 0x83, 0x84]
    named += [0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x8D, 0x8E, 0x8F, 0x90, 0x91, 0x92, 0x93]
    named += [0x94, 0x95, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F66, 0x9F6C, 0x9F6E]
    named += [0x9F7C, 0xBF0C, 0xA5]
    unassigned = {0x9F28, 0x9F2B, 0x9F2C, 0x9F30, 0x9F31, 0x9F3E, 0x9F3F}
    named += [t for t in range(0x9F01, 0x9F50) if t not in unassigned]
    missing = [tlv.tag_hex(t) for t in named if t not in emv_tags.TAGS]
    assert missing == []
    assert len(emv_tags.TAGS) >= 130


# --- properties ---------------------------------------------------------

CLASS_BITS = st.sampled_from([0x00, 0x40, 0x80, 0xC0])


def tags(constructed: bool) -> st.SearchStrategy[int]:
    """Valid BER tags of one to four bytes (never starting with 00 or FF)."""
    flag = 0x20 if constructed else 0x00
    one_byte = st.builds(lambda c, n: c | flag | n, CLASS_BITS, st.integers(0, 30))
    more = st.lists(st.integers(0x80, 0xFF), max_size=2)
    last = st.integers(0x00, 0x7F)

    def multi(cls: int, middle: list[int], end: int) -> int:
        return int.from_bytes(bytes([cls | flag | 0x1F, *middle, end]), "big")

    multi_byte = st.builds(multi, CLASS_BITS, more, last)
    # A first byte of 00 or FF reads as padding, so such tags are not valid.
    return st.one_of(one_byte, multi_byte).filter(lambda t: first_byte(t) not in (0x00, 0xFF))


def first_byte(tag: int) -> int:
    return bytes.fromhex(tlv.tag_hex(tag))[0]


def primitives() -> st.SearchStrategy[tlv.TLV]:
    return st.builds(lambda t, v: tlv.TLV(t, v), tags(False), st.binary(max_size=300))


def trees() -> st.SearchStrategy[list[tlv.TLV]]:
    nodes = st.recursive(
        primitives(),
        lambda kids: st.builds(
            lambda t, c: tlv.TLV(t, children=c), tags(True), st.lists(kids, max_size=4)
        ),
        max_leaves=20,
    )
    return st.lists(nodes, max_size=5)


@given(trees())
def test_round_trip(nodes: list[tlv.TLV]) -> None:
    assert tlv.decode(tlv.encode(nodes)) == nodes


@given(trees(), st.data())
def test_padding_between_objects_is_skipped(nodes: list[tlv.TLV], data: st.DataObject) -> None:
    padding = st.binary(max_size=3).map(lambda b: bytes(0xFF if x & 1 else 0x00 for x in b))
    padded = data.draw(padding)
    for node in nodes:
        padded += tlv.encode_one(node) + data.draw(padding)
    assert tlv.decode(padded) == nodes


def as_pyemv(nodes: list[tlv.TLV]) -> dict[str, Any]:
    """pyemv's decode shape: a dict per level, later duplicates winning."""
    out: dict[str, Any] = {}
    for node in nodes:
        key = tlv.tag_hex(node.tag)
        out[key] = as_pyemv(node.children) if node.children is not None else node.value
    return out


@given(trees())
def test_pyemv_reads_what_we_write(nodes: list[tlv.TLV]) -> None:
    assert pyemv_tlv.decode(tlv.encode(nodes)) == as_pyemv(nodes)


@given(trees())
def test_we_read_what_pyemv_writes(nodes: list[tlv.TLV]) -> None:
    reference = as_pyemv(nodes)
    assert as_pyemv(tlv.decode(pyemv_tlv.encode(reference))) == reference


@given(st.binary(max_size=600))
def test_decode_raises_only_decode_error(data: bytes) -> None:
    try:
        nodes = tlv.decode(data)
    except DecodeError:
        return
    # Whatever decodes re-encodes to something that decodes the same.
    assert tlv.decode(tlv.encode(nodes)) == nodes


@given(st.sampled_from(CARD["vectors"]), st.data())
def test_mutated_card_responses_raise_only_decode_error(
    vector: dict[str, Any], data: st.DataObject
) -> None:
    raw = bytearray.fromhex(vector["response"])
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    with contextlib.suppress(DecodeError):
        tlv.decode(bytes(raw[:cut]))


@given(st.binary(max_size=200), st.dictionaries(st.integers(1, 0xDFFFFF), st.binary(max_size=40)))
def test_dol_functions_raise_only_decode_error(dol: bytes, store: dict[int, bytes]) -> None:
    try:
        entries = tlv.parse_dol(dol)
    except DecodeError:
        with pytest.raises(DecodeError):
            tlv.build_dol_data(dol, store)
        return
    # Every entry is filled to exactly its length.
    assert len(tlv.build_dol_data(dol, store)) == sum(length for _, length in entries)


@given(st.sampled_from(sorted(emv_tags.TAGS)), st.binary(max_size=20), st.integers(0, 24))
def test_dol_values_are_cut_or_padded_by_format(tag: int, value: bytes, length: int) -> None:
    dol = tlv.tag_bytes(tag) + tlv.encode_length(length)
    got = tlv.build_dol_data(dol, {tag: value})
    fmt = emv_tags.TAGS[tag][1]
    assert len(got) == length
    if tlv.is_constructed(tag):
        assert got == bytes(length)
    elif fmt == "n":
        assert got == (bytes(length) + value)[-length:] if length else got == b""
    elif length <= len(value):
        assert got == value[:length]
    else:
        filler = b"\xff" if fmt == "cn" else b"\x00"
        assert got == value + filler * (length - len(value))


def test_hostile_lengths_and_nesting_fail_fast() -> None:
    started = time.monotonic()
    with pytest.raises(DecodeError):
        tlv.decode(bytes.fromhex("9F1084FFFFFFFF01"))
    bomb = b""
    for _ in range(5000):  # 5000 nested templates, each correctly sized
        bomb = bytes([0x61]) + tlv.encode_length(len(bomb)) + bomb
    with pytest.raises(DecodeError, match="nesting"):
        tlv.decode(bomb)
    assert time.monotonic() - started < 1.0


# --- CLI ---------------------------------------------------------------

VISA_PPSE = CARD["vectors"][0]


def test_cli_decode_prints_named_tree(capsys: pytest.CaptureFixture[str]) -> None:
    body = VISA_PPSE["response"][:-4]
    assert main(["tlv", "decode", body]) == 0
    tree = json.loads(capsys.readouterr().out)
    fci = tree[0]
    assert (fci["tag"], fci["name"], fci["length"]) == (
        "6F",
        "File Control Information (FCI) Template",
        0x2F,
    )
    assert fci["children"][0] == {
        "tag": "84",
        "name": "Dedicated File (DF) Name",
        "length": 14,
        "value": "325041592E5359532E4444463031",
    }
    app = fci["children"][1]["children"][0]["children"][0]
    assert app["name"] == "Application Template"
    assert app["children"][1] == {
        "tag": "50",
        "name": "Application Label",
        "length": 10,
        "value": "56495341204445424954",
        "text": "VISA DEBIT",
    }


def test_cli_decode_response_and_spaced_hex(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tlv", "decode", "--response", "9F36 02 00C2", "6A 82"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sw"] == "6A82"
    assert "not found" in out["meaning"]
    assert out["tlv"][0]["value"] == "00C2"


def test_cli_dol(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tlv", "dol", DOL["parse"][2]["dol"]]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[0] == {"tag": "91", "name": "Issuer Authentication Data", "length": 10}
    assert [e["tag"] for e in out] == ["91", "8A", "95", "9F37", "9F4C"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["tlv", "decode", "6F0"], "not valid hex"),
        (["tlv", "decode", "6F80840100"], "indefinite length (80) not allowed (tag 6F, offset 1)"),
        (["tlv", "decode", "9F020600"], "tag 9F02"),
        (["tlv", "decode", "--response", "90"], "status word"),
        (["tlv", "dol", "9F"], "truncated tag"),
    ],
)
def test_cli_bad_input_exits_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message in captured.err
