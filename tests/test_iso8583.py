"""ISO 8583 codec: published vectors, the PAYTERM_1987 dialect, validation,
framing, round trips and fuzzing (only DecodeError, never a hang), and the
`payterm iso8583` command."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from iso8583_strategies import messages, specs

from payterm import cli
from protocols import iso8583
from protocols.errors import DecodeError, EncodeError
from protocols.iso8583_specs import PAYTERM_1987, SPECS
from tools.mpytest import micropython_binary

VECTOR_DIR = Path(__file__).parent / "vectors"
DOCS = json.loads((VECTOR_DIR / "iso8583_pyiso8583_docs.json").read_text())
PAYTERM = json.loads((VECTOR_DIR / "iso8583_payterm.json").read_text())
MALFORMED = json.loads((VECTOR_DIR / "iso8583_malformed.json").read_text())
PAYTERM_WIRES = [bytes.fromhex(m["hex"]) for m in PAYTERM["messages"]]


def _docs_spec(message: dict[str, Any]) -> dict[str, Any]:
    spec = dict(DOCS["spec"])
    spec.update(message.get("spec_changes", {}))
    return spec


# ---------------------------------------------------------------- vectors


@pytest.mark.parametrize("message", DOCS["messages"], ids=lambda m: m["name"])
def test_pyiso8583_published_message(message: dict[str, Any]) -> None:
    spec = _docs_spec(message)
    wire = bytes.fromhex(message["hex"])
    assert iso8583.decode(wire, spec) == message["fields"]
    assert iso8583.encode(message["fields"], spec) == wire


@pytest.mark.parametrize("bitmap", DOCS["bitmaps"], ids=lambda b: b["hex"])
def test_wikipedia_bitmap(bitmap: dict[str, Any]) -> None:
    assert iso8583.bitmap_fields(bytes.fromhex(bitmap["hex"])) == bitmap["fields"]


@pytest.mark.parametrize("message", PAYTERM["messages"], ids=lambda m: m["name"])
def test_payterm_message(message: dict[str, Any]) -> None:
    wire = bytes.fromhex(message["hex"])
    assert iso8583.decode(wire, PAYTERM_1987) == message["fields"]
    assert iso8583.encode(message["fields"], PAYTERM_1987) == wire


@pytest.mark.parametrize("case", MALFORMED["cases"], ids=lambda c: c["name"])
def test_malformed_message(case: dict[str, Any]) -> None:
    with pytest.raises(DecodeError) as info:
        iso8583.decode(bytes.fromhex(case["hex"]), PAYTERM_1987)
    assert (info.value.field, info.value.offset) == (case["field"], case["offset"])


def test_bitmap_fields_rejects_wrong_width() -> None:
    with pytest.raises(DecodeError):
        iso8583.bitmap_fields(b"\x80" * 7)


# ---------------------------------------------------------------- dialect


def test_dialect_layout_by_hand() -> None:
    # 0800 echo test, laid out by hand from docs/iso8583.md.
    doc = {"t": "0800", "7": "1121120000", "11": "000003", "70": "301"}
    want = (
        "0800"  # MTI, BCD
        "8220000000000000"  # bits 1 (secondary), 7, 11
        "0400000000000000"  # bit 70
        "1121120000"  # field 7, n10 BCD
        "000003"  # field 11, n6 BCD
        "0301"  # field 70, n3 BCD left-padded with 0
    )
    assert iso8583.encode(doc, PAYTERM_1987).hex() == want


def test_dialect_variable_fields_by_hand() -> None:
    doc = {
        "t": "0200",
        "2": "374245455400126",  # 15 digits: BCD length 15, pad nibble 0 first
        "35": "374245455400126=2805201",  # 23 nibbles: trailing F
        "52": "00112233445566778899AABBCCDDEEFF",  # AES format 4 PIN block
        "55": "9F02060000000123455F340102",
    }
    want = (
        "0200"
        "4000000020001200"  # fields 2, 35, 52 and 55
        "15" "0374245455400126"
        "23" "374245455400126D2805201F"
        "16" "00112233445566778899AABBCCDDEEFF"
        "0013" "9F02060000000123455F340102"
    )  # fmt: skip
    assert iso8583.encode(doc, PAYTERM_1987).hex().upper() == want.upper()


def test_dialect_fields_and_formats_are_as_documented() -> None:
    doc_text = (Path(__file__).parent.parent / "docs" / "iso8583.md").read_text()
    for key, fs in PAYTERM_1987.items():
        if key in ("t", "p", "1"):
            continue
        # Each data element has a row "| key | name | format |" in the doc.
        assert f"| {key} | {fs['desc']} |" in doc_text, key
    assert SPECS["PAYTERM_1987"] is PAYTERM_1987


def _usage_table() -> dict[str, dict[str, str]]:
    """docs/iso8583.md's fields-per-message-type table: row -> MTI -> mark."""
    text = (Path(__file__).parent.parent / "docs" / "iso8583.md").read_text()
    lines = text[text.index("| field | 0100") :].splitlines()
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    rows = rows[: next(i for i, r in enumerate(rows) if not lines[i].startswith("|"))]
    mtis = rows[0][1:]
    return {row[0]: dict(zip(mtis, row[1:], strict=True)) for row in rows[2:]}


@pytest.mark.parametrize("message", PAYTERM["messages"], ids=lambda m: m["name"])
def test_vectors_follow_the_documented_usage(message: dict[str, Any]) -> None:
    fields = message["fields"]
    for row, marks in _usage_table().items():
        # "12, 13": both; "64 / 128": either.
        keys = [k.strip() for k in row.replace("/", ",").split(",")]
        present = [k in fields for k in keys]
        mark = marks[fields["t"]]
        if mark in ("M", "E"):
            assert any(present) if "/" in row else all(present), row
        elif not mark:
            assert not any(present), row


def test_mac_field_is_last_eight_bytes() -> None:
    # The MAC convention: MAC over everything before the MAC field, which,
    # being the highest-numbered field, is the last 8 bytes on the wire.
    for message, wire in zip(PAYTERM["messages"], PAYTERM_WIRES, strict=True):
        fields = message["fields"]
        mac_key = "128" if "128" in fields else "64" if "64" in fields else None
        if mac_key is None:
            continue
        assert wire[-8:].hex().upper() == fields[mac_key], message["name"]
        assert not ("64" in fields and "128" in fields)


# ---------------------------------------------------------------- encode validation

ENCODE_ERRORS = [
    ("11", "00000A", "non-digit in n"),
    ("11", "00001", "fixed length short"),
    ("11", "0000001", "fixed length long"),
    ("11", "00000\u0663", "Arabic-Indic digit is not an ISO 8583 digit"),
    ("2", "4" * 20, "n..19 too long"),
    ("37", "ABC-12345678", "an has no '-'"),
    ("38", "AB\u00e9123", "an is ASCII only"),
    ("41", "PT00001\t", "ans is printable only"),
    ("43", "x" * 41, "fixed 40"),
    ("48", "x" * 1000, "LLL max 999"),
    ("35", "4761=25A2", "z is digits and separator"),
    ("52", "0011223", "odd hex digits"),
    ("52", "00 11 22 33", "spaces in hex"),
    ("52", "GG112233", "non-hex"),
    ("52", "00" * 17, "b..16 too long"),
    ("64", "00" * 7, "b8 short"),
    ("55", 1234, "not text or bytes"),
    ("11", b"000001", "n must be text"),
]


@pytest.mark.parametrize(("key", "value", "why"), ENCODE_ERRORS, ids=[e[2] for e in ENCODE_ERRORS])
def test_encode_rejects_and_names_field(key: str, value: Any, why: str) -> None:
    doc = {"t": "0200", "3": "000000", key: value}
    with pytest.raises(EncodeError) as info:
        iso8583.encode(doc, PAYTERM_1987)
    assert info.value.field == int(key), why


@pytest.mark.parametrize("mti", [None, "020", "02000", "02a0", 200])
def test_encode_rejects_bad_mti(mti: Any) -> None:
    doc: dict[str, Any] = {"3": "000000"} if mti is None else {"t": mti}
    with pytest.raises(EncodeError) as info:
        iso8583.encode(doc, PAYTERM_1987)
    assert info.value.field == "t"


@pytest.mark.parametrize("key", ["5", "02", " 2", "129", "0", "x"])
def test_encode_rejects_field_not_in_spec(key: str) -> None:
    with pytest.raises(EncodeError) as info:
        iso8583.encode({"t": "0200", key: "1"}, PAYTERM_1987)
    assert info.value.field == key


def test_encode_ignores_given_bitmaps() -> None:
    doc = {"t": "0200", "p": "spam", "1": "eggs", "3": "000000"}
    assert iso8583.encode(doc, PAYTERM_1987) == bytes.fromhex("02002000000000000000000000")


def test_binary_value_as_bytes_or_either_case_hex() -> None:
    raw = bytes(range(8))
    docs = [{"t": "0200", "64": v} for v in (raw, bytearray(raw), raw.hex(), raw.hex().upper())]
    wires = {iso8583.encode(d, PAYTERM_1987) for d in docs}
    assert len(wires) == 1
    assert iso8583.decode(wires.pop(), PAYTERM_1987)["64"] == raw.hex().upper()


def test_ascii_track_keeps_its_separator_and_bcd_track_reads_equals() -> None:
    spec = copy.deepcopy(PAYTERM_1987)
    spec["35"]["data_enc"] = "ascii"
    for value in ("4761739001010010=2512", "4761739001010010D2512"):
        wire = iso8583.encode({"t": "0200", "35": value}, spec)
        assert iso8583.decode(wire, spec)["35"] == value
    wire = iso8583.encode({"t": "0200", "35": "4761739001010010D2512"}, PAYTERM_1987)
    assert iso8583.decode(wire, PAYTERM_1987)["35"] == "4761739001010010=2512"


# ---------------------------------------------------------------- spec checks

BAD_FIELD_SPECS = [
    {"type": "x", "data_enc": "ascii", "len_type": 0, "max_len": 1},
    {"type": "an", "data_enc": "bcd", "len_type": 0, "max_len": 1},
    {"type": "b", "data_enc": "ascii", "len_type": 0, "max_len": 1},
    {"type": "n", "data_enc": "ebcdic", "len_type": 0, "max_len": 1},
    {"type": "n", "data_enc": "ascii", "len_type": 5, "max_len": 1},
    {"type": "n", "data_enc": "ascii", "len_type": 2, "max_len": 100, "len_enc": "ascii"},
    {"type": "n", "data_enc": "ascii", "len_type": 2, "max_len": 10, "len_enc": "hex"},
    {"type": "n", "data_enc": "ascii", "len_type": 0, "max_len": 0},
    {"type": "n", "data_enc": "ascii", "len_type": 0, "max_len": "6"},
    {"type": "n", "data_enc": "bcd", "len_type": 0, "max_len": 3, "pad": "middle"},
    {"type": "n", "data_enc": "bcd", "len_type": 0, "max_len": 3, "pad_nibble": "f"},
]


@pytest.mark.parametrize("field_spec", BAD_FIELD_SPECS)
def test_malformed_spec_is_rejected(field_spec: dict[str, Any]) -> None:
    spec = {"t": {"data_enc": "ascii"}, "p": {"data_enc": "binary"}, "2": field_spec}
    with pytest.raises(ValueError, match="spec field 2"):
        iso8583.compile_spec(spec)


@pytest.mark.parametrize(
    "spec",
    [
        {"t": {"data_enc": "binary"}, "p": {"data_enc": "binary"}},
        {"t": {"data_enc": "ascii"}, "p": {"data_enc": "bcd"}},
        {"t": {"data_enc": "ascii"}, "p": {"data_enc": "binary"}, "02": {}},
        {"t": {"data_enc": "ascii"}, "p": {"data_enc": "binary"}, "\u0662": {}},
        {"t": {"data_enc": "ascii"}, "p": {"data_enc": "binary"}, "": {}},
        {"t": {"data_enc": "ascii"}, "p": {"data_enc": "binary"}, "70": {}},
    ],
)
def test_malformed_spec_header_is_rejected(spec: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        iso8583.compile_spec(spec)


# ---------------------------------------------------------------- decode details


def test_decode_accepts_bytearray() -> None:
    wire = PAYTERM_WIRES[0]
    want = iso8583.decode(wire, PAYTERM_1987)
    assert iso8583.decode(bytearray(wire), PAYTERM_1987) == want


def test_all_zero_secondary_bitmap_is_accepted() -> None:
    wire = bytes.fromhex("0800A0000000000000000000000000000000000003")
    assert iso8583.decode(wire, PAYTERM_1987) == {
        "t": "0800",
        "p": "A000000000000000",
        "1": "0000000000000000",
        "3": "000003",
    }


def test_hex_bitmap_must_be_uppercase_hex() -> None:
    spec = {"t": {"data_enc": "ascii"}, "p": {"data_enc": "ascii"}}
    assert iso8583.decode(b"08000000000000000000", spec)["p"] == "0000000000000000"
    for bad in (b"0800000000000000000a", b"0800000000000000000G"):
        with pytest.raises(DecodeError) as info:
            iso8583.decode(bad, spec)
        assert info.value.field == "p"


def test_secondary_bit_without_secondary_in_spec() -> None:
    spec = {"t": {"data_enc": "ascii"}, "p": {"data_enc": "binary"}}
    with pytest.raises(DecodeError) as info:
        iso8583.decode(b"0800" + bytes.fromhex("8000000000000000") + bytes(8), spec)
    assert info.value.field == "1"


def test_ascii_length_prefix_must_be_plain_digits() -> None:
    spec = {
        "t": {"data_enc": "ascii"},
        "p": {"data_enc": "binary"},
        "2": {"type": "n", "data_enc": "ascii", "len_enc": "ascii", "len_type": 2, "max_len": 19},
    }
    bitmap = bytes.fromhex("4000000000000000")
    # int() would accept " 1", "+1" and "1_"; a length prefix must not.
    for prefix in (b" 1", b"+1", b"1_", b"-1"):
        with pytest.raises(DecodeError) as info:
            iso8583.decode(b"0200" + bitmap + prefix + b"5", spec)
        assert (info.value.field, info.value.offset) == (2, 12)


# ---------------------------------------------------------------- framing


def test_frame_prefixes_big_endian_length() -> None:
    assert iso8583.frame(b"\x01" * 300)[:2] == b"\x01\x2c"
    assert iso8583.unframe(iso8583.frame(b"")) == b""


def test_frame_rejects_oversized_message() -> None:
    with pytest.raises(EncodeError):
        iso8583.frame(bytes(0x10000))


@given(st.lists(st.binary(max_size=300), max_size=5), st.data())
def test_split_frame_reassembles_any_chunking(parts: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(iso8583.frame(p) for p in parts)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    got: list[bytes] = []
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        while True:
            message, buffer = iso8583.split_frame(buffer)
            if message is None:
                break
            got.append(message)
    assert got == parts
    assert buffer == b""


@given(st.binary(max_size=64))
def test_unframe_raises_only_decode_error(data: bytes) -> None:
    try:
        message = iso8583.unframe(data)
    except DecodeError:
        return
    assert iso8583.frame(message) == data


# ---------------------------------------------------------------- properties


@given(messages(PAYTERM_1987, max_fields=40))
def test_payterm_round_trip(doc: dict[str, str]) -> None:
    wire = iso8583.encode(doc, PAYTERM_1987)
    decoded = iso8583.decode(wire, PAYTERM_1987)
    assert {k: v for k, v in decoded.items() if k not in ("p", "1")} == doc
    assert iso8583.encode(decoded, PAYTERM_1987) == wire


@given(st.data())
def test_round_trip_under_random_specs(data: st.DataObject) -> None:
    spec = data.draw(specs())
    doc = data.draw(messages(spec))
    wire = iso8583.encode(doc, spec)
    decoded = iso8583.decode(wire, spec)
    assert {k: v for k, v in decoded.items() if k not in ("p", "1")} == doc


def _assert_decode_is_strict(wire: bytes, spec: Any) -> None:
    """Only DecodeError; whatever decodes re-encodes to the same bytes."""
    try:
        doc = iso8583.decode(wire, spec)
    except DecodeError:
        return
    if doc.get("1") == "0000000000000000":
        return  # tolerated on input, never produced
    assert iso8583.encode(doc, spec) == wire


@given(st.binary(max_size=400))
def test_fuzz_arbitrary_bytes(wire: bytes) -> None:
    _assert_decode_is_strict(wire, PAYTERM_1987)


@given(st.sampled_from(PAYTERM_WIRES), st.data())
def test_fuzz_mutated_vectors(wire: bytes, data: st.DataObject) -> None:
    mutated = bytearray(wire)
    for _ in range(data.draw(st.integers(1, 4))):
        action = data.draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        pos = data.draw(st.integers(0, max(len(mutated) - 1, 0)))
        if action == "flip" and mutated:
            mutated[pos] ^= data.draw(st.integers(1, 255))
        elif action == "cut":
            del mutated[pos:]
        elif action == "insert":
            mutated[pos:pos] = data.draw(st.binary(min_size=1, max_size=4))
        elif mutated:
            del mutated[pos]
    _assert_decode_is_strict(bytes(mutated), PAYTERM_1987)


@given(st.data())
def test_fuzz_under_random_specs(data: st.DataObject) -> None:
    spec = data.draw(specs())
    if data.draw(st.booleans()):
        wire = iso8583.encode(data.draw(messages(spec)), spec)
        cut = data.draw(st.integers(0, len(wire)))
        wire = wire[:cut] + data.draw(st.binary(max_size=8))
    else:
        wire = data.draw(st.binary(max_size=300))
    _assert_decode_is_strict(wire, spec)


def test_decode_time_is_bounded_on_large_input() -> None:
    # Work is bounded by the bitmap (at most 128 fields), not the input size.
    hostile = bytes.fromhex("0200") + b"\xff" * 16 + b"\x99" * 1_000_000
    start = time.perf_counter()
    with pytest.raises(DecodeError):
        iso8583.decode(hostile, PAYTERM_1987)
    assert time.perf_counter() - start < 1.0


# ---------------------------------------------------------------- CLI


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("message", PAYTERM["messages"], ids=lambda m: m["name"])
def test_cli_decode_then_encode_gives_the_same_hex(
    message: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = _run(capsys, "iso8583", "decode", message["hex"])
    assert code == 0
    printed = json.loads(out)
    assert printed["mti"] == message["fields"]["t"]
    assert printed["bitmap"]["primary"] == message["fields"]["p"]
    assert {str(f["field"]): f["value"] for f in printed["fields"]} == {
        k: v for k, v in message["fields"].items() if k not in ("t", "p", "1")
    }
    path = tmp_path / "message.json"
    path.write_text(out)
    code, out, _ = _run(capsys, "iso8583", "encode", str(path))
    assert code == 0
    assert json.loads(out) == {"hex": message["hex"]}


def test_cli_shows_icc_data_as_tlv_tree(capsys: pytest.CaptureFixture[str]) -> None:
    wire = iso8583.encode({"t": "0200", "55": "9F02060000000123455F340102"}, PAYTERM_1987)
    code, out, _ = _run(capsys, "iso8583", "decode", wire.hex())
    assert code == 0
    (field55,) = json.loads(out)["fields"]
    assert [node["tag"] for node in field55["tlv"]] == ["9F02", "5F34"]
    assert field55["tlv"][0]["value"] == "000000012345"


def test_cli_reports_icc_data_that_is_not_tlv(capsys: pytest.CaptureFixture[str]) -> None:
    wire = iso8583.encode({"t": "0200", "55": "9F0206000000"}, PAYTERM_1987)
    code, out, _ = _run(capsys, "iso8583", "decode", wire.hex())
    assert code == 0
    (field55,) = json.loads(out)["fields"]
    assert "tlv" not in field55 and field55["tlv_error"]


def test_cli_framed_both_ways(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    wire = PAYTERM_WIRES[0]
    framed = iso8583.frame(wire).hex().upper()
    code, out, _ = _run(capsys, "iso8583", "decode", "--framed", framed)
    assert code == 0
    path = tmp_path / "m.json"
    path.write_text(out)
    assert _run(capsys, "iso8583", "encode", "--framed", str(path))[1] == (
        json.dumps({"hex": framed}, indent=2) + "\n"
    )


def test_cli_reads_hex_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(PAYTERM["messages"][0]["hex"] + "\n"))
    code, out, _ = _run(capsys, "iso8583", "decode", "-")
    assert code == 0 and json.loads(out)["mti"] == PAYTERM["messages"][0]["fields"]["t"]


@pytest.mark.parametrize(
    "argv",
    [
        ["iso8583", "decode", "zz"],
        ["iso8583", "decode", "0200"],
        ["iso8583", "decode", "--framed", "0005" + "0200"],
        ["iso8583", "decode", "--spec", "NO_SUCH_SPEC", "0200"],
        ["iso8583"],
    ],
)
def test_cli_bad_input_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err


@pytest.mark.parametrize(
    "obj",
    [
        [],
        {"fields": []},
        {"mti": "0200", "fields": {}},
        {"mti": "0200", "fields": [{"field": 2}]},
        {"mti": "0200", "fields": [{"field": "2", "value": "1"}]},
        {"mti": "0200", "fields": [{"field": True, "value": "1"}]},
        {"mti": "0200", "fields": [{"field": 1, "value": "1"}]},
        {"mti": "0200", "fields": [{"field": 3, "value": "000000"}] * 2},
        {"mti": "0200", "fields": [{"field": 3, "value": "00000X"}]},
        {"mti": "0200", "spec": "OTHER", "fields": []},
    ],
)
def test_cli_encode_bad_json_exits_2(
    obj: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(obj))
    code, out, err = _run(capsys, "iso8583", "encode", str(path))
    assert (code, out) == (2, "")
    assert err.startswith("payterm iso8583: ")


def test_cli_encode_spec_option_must_agree_with_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"spec": "PAYTERM_1987", "mti": "0800", "fields": []}))
    assert _run(capsys, "iso8583", "encode", "--spec", "PAYTERM_1987", str(path))[0] == 0
    path.write_text(json.dumps({"mti": "0800", "fields": []}))
    code, out, _ = _run(capsys, "iso8583", "encode", str(path))
    assert code == 0
    assert json.loads(out) == {"hex": "08000000000000000000"}


# ---------------------------------------------------------------- CPython vs MicroPython

# Reads one case per line (JSON) and prints one result per line, so the heap
# only ever holds one case.
_MICROPYTHON_DIFF = """
import json
from protocols import iso8583
from protocols.errors import DecodeError

def outcome(wire, spec):
    try:
        return {"doc": iso8583.decode(wire, spec)}
    except DecodeError as e:
        return {"error": [e.field, e.offset]}

with open(%r) as f:
    for line in f:
        case = json.loads(line)
        spec = case["spec"]
        result = {"hex": iso8583.encode(case["doc"], spec).hex()}
        result["decoded"] = outcome(bytes.fromhex(case["hex"]), spec)
        result["damaged"] = outcome(bytes.fromhex(case["damaged"]), spec)
        print(json.dumps(result))
"""


def _outcome(wire: bytes, spec: Any) -> dict[str, Any]:
    try:
        return {"doc": iso8583.decode(wire, spec)}
    except DecodeError as e:
        return {"error": [e.field, e.offset]}


@settings(max_examples=3)
@given(data=st.data())
def test_micropython_matches_cpython_on_generated_cases(
    data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    cases = []
    for _ in range(40):
        spec = data.draw(specs())
        wire = iso8583.encode(data.draw(messages(spec)), spec)
        cut = data.draw(st.integers(0, len(wire)))
        damaged = wire[:cut] + data.draw(st.binary(max_size=6)) + wire[cut + 1 :]
        decoded = iso8583.decode(wire, spec)
        cases.append({"spec": spec, "doc": decoded, "hex": wire.hex(), "damaged": damaged.hex()})
    path = tmp_path_factory.mktemp("mpy") / "cases.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in cases))
    proc = subprocess.run(
        [micropython_binary(), "-X", "heapsize=256K", "-c", _MICROPYTHON_DIFF % str(path)],
        env={**os.environ, "MICROPYPATH": str(Path(__file__).resolve().parent.parent)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(results) == len(cases)
    for case, result in zip(cases, results, strict=True):
        assert result["hex"] == case["hex"]
        assert result["decoded"] == {"doc": case["doc"]}
        assert result["damaged"] == _outcome(bytes.fromhex(case["damaged"]), case["spec"])
