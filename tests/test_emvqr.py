"""EMVCo merchant-presented QR codec (protocols/emvqr.py) and its CRC.

Vectors: tests/vectors/emvqr_payloads.json (each with its published source).
Independent oracle for the CRC: binascii.crc_hqx, which is CRC-16/XMODEM
with a caller-chosen initial value, i.e. CRC-16/CCITT-FALSE for init 0xFFFF.
"""

from __future__ import annotations

import binascii
import contextlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols import emvqr
from protocols.crc16 import crc16_ccitt_false, crc16_hex
from protocols.errors import DecodeError, EncodeError

VECTORS = json.loads(
    (Path(__file__).parent / "vectors" / "emvqr_payloads.json").read_text(encoding="utf-8")
)
VALID = VECTORS["valid"]
INVALID = VECTORS["invalid"]
EMVCO_EXAMPLE = VALID[0]["payload"]


def _ids(rows: list[dict[str, Any]]) -> list[str]:
    return [row["name"] for row in rows]


# ------------------------------------------------------------------- CRC


@pytest.mark.parametrize("row", VECTORS["crc_check_values"], ids=lambda r: r["data"])
def test_crc_catalogue_check_value(row: dict[str, str]) -> None:
    assert crc16_hex(row["data"].encode()) == row["crc"]
    assert crc16_ccitt_false(row["data"].encode()) == int(row["crc"], 16)


@given(st.binary(max_size=300))
def test_crc_matches_binascii_oracle(data: bytes) -> None:
    assert crc16_ccitt_false(data) == binascii.crc_hqx(data, 0xFFFF)


@given(st.binary(max_size=100), st.binary(max_size=100))
def test_crc_continues_over_chunks(head: bytes, tail: bytes) -> None:
    assert crc16_ccitt_false(tail, crc16_ccitt_false(head)) == crc16_ccitt_false(head + tail)


def test_crc_hex_is_four_upper_case_digits() -> None:
    # b"" leaves the register at init: FFFF; a small value keeps its zeros.
    assert crc16_hex(b"") == "FFFF"
    assert len(crc16_hex(b"A")) == 4
    assert crc16_hex(b"A") == crc16_hex(b"A").upper()


# --------------------------------------------------------- published vectors


@pytest.mark.parametrize("row", VALID, ids=_ids(VALID))
def test_published_payload_crc_and_fields(row: dict[str, Any]) -> None:
    text = row["payload"]
    assert f"{binascii.crc_hqx(text[:-4].encode(), 0xFFFF):04X}" == text[-4:]
    payload = emvqr.decode(text, strict=False)
    assert payload.crc_ok()
    for path, want in row["expect"].items():
        assert payload.get(path) == want, path


@pytest.mark.parametrize("row", VALID, ids=_ids(VALID))
def test_published_payload_round_trips_byte_for_byte(row: dict[str, Any]) -> None:
    payload = emvqr.parse(row["payload"])
    assert emvqr.encode(payload.objects) == row["payload"]
    assert payload.encode().encode("utf-8") == row["payload"].encode("utf-8")


@pytest.mark.parametrize("row", VALID, ids=_ids(VALID))
def test_published_payload_conformance(row: dict[str, Any]) -> None:
    found = emvqr.problems(emvqr.parse(row["payload"]))
    if row["conforms"]:
        assert found == []
        emvqr.decode(row["payload"])  # strict passes
    else:
        assert [path for path, _ in found] == row["problems"]
        with pytest.raises(DecodeError) as info:
            emvqr.decode(row["payload"])
        assert info.value.tag == row["problems"][0]


def test_lengths_count_characters_not_bytes() -> None:
    row = VALID[0]
    payload = emvqr.parse(row["payload"])
    for path, (chars, utf8_bytes) in row["char_lengths"].items():
        value = payload.get(path)
        assert isinstance(value, str)
        assert len(value) == chars
        assert len(value.encode("utf-8")) == utf8_bytes


@pytest.mark.parametrize("row", INVALID, ids=_ids(INVALID))
def test_invalid_payloads_raise_decode_error(row: dict[str, Any]) -> None:
    with pytest.raises(DecodeError) as info:
        emvqr.decode(row["payload"], strict=False)
    if row["error"] == "crc":
        assert info.value.tag == "63"
        assert row["computed_crc"] in str(info.value)
    else:
        assert info.value.tag != "63"


def test_wrong_crc_accepted_only_without_verification() -> None:
    tampered = EMVCO_EXAMPLE[:-1] + "B"
    payload = emvqr.decode(tampered, verify_crc=False)
    assert not payload.crc_ok()
    assert payload.crc == "A13B"
    assert payload.computed_crc() == "A13A"
    assert payload.encode() == EMVCO_EXAMPLE  # encoding repairs the CRC


# ------------------------------------------------------------- accessors


def test_accessors_on_emvco_example() -> None:
    payload = emvqr.decode(EMVCO_EXAMPLE)
    assert [t for t, _ in payload.merchant_accounts()] == ["29", "31"]
    assert payload.additional_data() == [
        ("03", "1234"),
        ("06", "***"),
        ("07", "A6008667"),
        ("09", "ME"),
    ]
    assert payload.language_template() == [("00", "ZH"), ("01", "最佳运输"), ("02", "北京")]
    assert payload.is_dynamic()
    assert payload.template_with_guid("a011223344998877") == (
        "91",
        [("00", "A011223344998877"), ("07", "12345678")],
    )
    assert payload.template_with_guid("nope") is None
    assert payload.get("99") is None
    assert payload.get("59.01") is None  # a primitive has no children
    assert [t for t, _ in payload.objects][:3] == ["00", "01", "29"]
    assert payload.objects[-1] == ("63", "A13A")


def test_names_follow_the_context() -> None:
    assert emvqr.name_of("26") == "Merchant Account Information"
    assert emvqr.name_of("00", emvqr.ACCOUNT) == "Globally Unique Identifier"
    assert emvqr.name_of("05", emvqr.ADDITIONAL) == "Reference Label"
    assert emvqr.name_of("11", emvqr.ADDITIONAL) == "Merchant Channel"
    assert emvqr.name_of("55", emvqr.ADDITIONAL) == "Payment System Specific Template"
    assert emvqr.name_of("01", emvqr.LANGUAGE) == "Merchant Name - Alternate Language"
    assert emvqr.name_of("70") == "RFU for EMVCo"
    assert emvqr.name_of("85") == "Unreserved Template"
    assert emvqr.child_context("62") == emvqr.ADDITIONAL
    assert emvqr.child_context("59") is None


def test_minor_units() -> None:
    assert emvqr.minor_unit("400") == 3  # JOD
    assert emvqr.minor_unit("392") == 0  # JPY
    assert emvqr.minor_unit("840") == 2  # USD (not listed)


# ----------------------------------------------------------- conformance


def _base(**changes: Any) -> list[tuple[str, Any]]:
    """A small conforming object list; changes replace or (None) drop IDs."""
    objects: list[tuple[str, Any]] = [
        ("00", "01"),
        ("01", "11"),
        ("26", [("00", "COM.EXAMPLE"), ("01", "ACC1")]),
        ("52", "5411"),
        ("53", "840"),
        ("58", "US"),
        ("59", "SHOP"),
        ("60", "TOWN"),
    ]
    result = []
    for tag, value in objects:
        key = "t" + tag
        if key in changes:
            if changes[key] is not None:
                result.append((tag, changes.pop(key)))
            else:
                changes.pop(key)
        else:
            result.append((tag, value))
    for key, value in changes.items():
        result.append((key[1:], value))
    return result


def _problem_paths(objects: list[tuple[str, Any]]) -> list[str]:
    return [path for path, _ in emvqr.problems(emvqr.parse(emvqr.encode(objects)))]


def test_base_conforms() -> None:
    assert _problem_paths(_base()) == []


@pytest.mark.parametrize(
    ("changes", "paths"),
    [
        ({"t00": "02"}, ["00"]),
        ({"t01": "13"}, ["01"]),
        ({"t01": None}, []),  # 01 is optional in EMV QRCPS-MPM
        ({"t26": None}, ["02-51"]),
        ({"t52": "541"}, ["52"]),
        ({"t52": "54A1"}, ["52"]),
        ({"t53": None}, ["53"]),
        ({"t58": "U1"}, ["58"]),
        ({"t59": "X" * 26}, ["59"]),
        ({"t59": "CAFÉ"}, ["59"]),
        ({"t60": "Y" * 16}, ["60"]),
        ({"t26": [("01", "ACC1")]}, ["26.00"]),
        ({"t26": [("00", "G" * 33)]}, ["26.00"]),
        ({"t54": "12.5"}, []),
        ({"t54": "12."}, []),
        ({"t54": "12.345"}, ["54"]),  # USD has 2 decimals
        ({"t54": "0.00"}, ["54"]),
        ({"t54": "1,00"}, ["54"]),
        ({"t54": ".5"}, ["54"]),
        ({"t54": "1.2.3"}, ["54"]),
        ({"t54": "12345678901234"}, ["54"]),
        ({"t55": "01"}, []),
        ({"t55": "04"}, ["55"]),
        ({"t55": "02"}, ["56"]),
        ({"t55": "02", "t56": "1.00"}, []),
        ({"t55": "03", "t57": "3.5"}, []),
        ({"t55": "03"}, ["57"]),
        ({"t55": "03", "t57": "100"}, ["57"]),
        ({"t55": "03", "t57": "00.00"}, ["57"]),
        ({"t55": "01", "t56": "1.00"}, ["56"]),
        ({"t57": "1.00"}, ["57"]),
        ({"t61": "12345678901"}, ["61"]),
        ({"t62": [("05", "R" * 26)]}, ["62.05"]),
        ({"t62": [("09", "AME")]}, []),
        ({"t62": [("09", "AA")]}, ["62.09"]),
        ({"t62": [("09", "X")]}, ["62.09"]),
        ({"t62": [("11", "AB")]}, ["62.11"]),
        ({"t62": [("50", [("01", "x")])]}, ["62.50.00"]),
        ({"t62": [("05", "A"), ("05", "B")]}, ["62.05"]),
        ({"t64": [("00", "AR"), ("01", "مطعم")]}, []),
        ({"t64": [("00", "AR")]}, ["64.01"]),
        ({"t64": [("01", "x")]}, ["64.00"]),
        ({"t64": [("00", "AR"), ("01", "م" * 26)]}, ["64.01"]),
        ({"t80": [("00", "COM.X"), ("01", "é")]}, []),
        ({"t80": [("05", "x")]}, ["80.00"]),
        ({"t59": ""}, ["59"]),
    ],
)
def test_conformance_rules(changes: dict[str, Any], paths: list[str]) -> None:
    assert _problem_paths(_base(**changes)) == paths


def test_payload_format_indicator_must_come_first() -> None:
    objects = _base()
    objects[0], objects[1] = objects[1], objects[0]
    assert _problem_paths(objects) == ["00"]


def test_duplicate_root_object() -> None:
    assert _problem_paths([*_base(), ("59", "AGAIN")]) == ["59"]


def test_strict_decode_names_first_problem() -> None:
    text = emvqr.encode(_base(t52=None))
    with pytest.raises(DecodeError) as info:
        emvqr.decode(text)
    assert info.value.tag == "52"
    assert "Merchant Category Code is missing" in str(info.value)
    assert emvqr.decode(text, strict=False).get("59") == "SHOP"


def test_problems_accepts_object_list() -> None:
    assert emvqr.problems(_base()) == [("63", "CRC is missing")]


# ---------------------------------------------------------------- encoding


def test_encode_appends_crc_and_replaces_a_given_one() -> None:
    text = emvqr.encode(_base())
    assert text[-8:-4] == "6304"
    assert text[-4:] == f"{binascii.crc_hqx(text[:-4].encode(), 0xFFFF):04X}"
    assert emvqr.encode([*_base(), ("63", "0000")]) == text


def test_encode_counts_characters() -> None:
    text = emvqr.encode(_base(t64=[("00", "AR"), ("01", "عمّان")]))
    assert "64150002AR0105عمّان" in text  # 6 + 4 + 5 characters


@pytest.mark.parametrize(
    "objects",
    [
        [("0", "x")],
        [("AB", "x")],
        [(1, "x")],
        [("59", "x" * 100)],
        [("26", "not a template")],
        [("59", ["not", "a primitive"])],
        [("59", 5)],
        [("63", "0000"), ("59", "x")],
        [("26", [("00", "G" * 40), ("01", "A" * 60)])],
        ["not a pair"],
        [("59", "x", "extra")],
        "not a list",
    ],
)
def test_encode_rejects_unrepresentable(objects: Any) -> None:
    with pytest.raises(EncodeError):
        emvqr.encode(objects)


# ------------------------------------------------------------- hypothesis

ASCII = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
ANY_CHAR = st.characters(blacklist_categories=("Cs",))
DIGIT = st.sampled_from("0123456789")


def _ans(low: int, high: int) -> st.SearchStrategy[str]:
    return st.text(ASCII, min_size=low, max_size=high)


@st.composite
def _amount(draw: st.DrawFn, decimals: int) -> str:
    whole = draw(st.integers(min_value=1, max_value=99999))
    if decimals == 0:
        return str(whole)
    fraction = draw(st.text(DIGIT, min_size=0, max_size=decimals))
    return str(whole) + ("." + fraction if fraction else draw(st.sampled_from(["", "."])))


@st.composite
def _guid_template(draw: st.DrawFn) -> list[tuple[str, Any]]:
    children: list[tuple[str, Any]] = [("00", draw(_ans(1, 20)))]
    for tag in sorted(draw(st.sets(st.integers(1, 99), max_size=3))):
        children.append((f"{tag:02d}", draw(st.text(ANY_CHAR, min_size=1, max_size=20))))
    return children


@st.composite
def valid_objects(draw: st.DrawFn) -> list[tuple[str, Any]]:
    middle: list[tuple[str, Any]] = []
    if draw(st.booleans()):
        middle.append(("01", draw(st.sampled_from(["11", "12"]))))
    primitive_ids = draw(st.sets(st.integers(2, 25), max_size=2))
    template_ids = draw(
        st.sets(st.integers(26, 51), min_size=0 if primitive_ids else 1, max_size=2)
    )
    for tag in primitive_ids:
        middle.append((f"{tag:02d}", draw(_ans(1, 30))))
    for tag in template_ids:
        middle.append((f"{tag:02d}", draw(_guid_template())))
    currency = draw(st.sampled_from(["400", "392", "840", "156", "990"]))
    middle += [("52", draw(st.text(DIGIT, min_size=4, max_size=4))), ("53", currency)]
    middle += [("58", draw(st.sampled_from(["JO", "SG", "CN", "BR"])))]
    middle += [("59", draw(_ans(1, 25))), ("60", draw(_ans(1, 15)))]
    if draw(st.booleans()):
        middle.append(("54", draw(_amount(emvqr.minor_unit(currency)))))
    fee = draw(st.sampled_from([None, "01", "02", "03"]))
    if fee is not None:
        middle.append(("55", fee))
    if fee == "02":
        middle.append(("56", draw(_amount(emvqr.minor_unit(currency)))))
    if fee == "03":
        middle.append(("57", draw(st.sampled_from(["0.01", "5", "12.5", "99.99"]))))
    if draw(st.booleans()):
        middle.append(("61", draw(_ans(1, 10))))
    if draw(st.booleans()):
        sub = sorted(draw(st.sets(st.integers(1, 8), min_size=1, max_size=3)))
        middle.append(("62", [(f"{t:02d}", draw(_ans(1, 25))) for t in sub]))
    if draw(st.booleans()):
        language: list[tuple[str, Any]] = [("00", draw(st.sampled_from(["AR", "ZH", "th"])))]
        language.append(("01", draw(st.text(ANY_CHAR, min_size=1, max_size=25))))
        if draw(st.booleans()):
            language.append(("02", draw(st.text(ANY_CHAR, min_size=1, max_size=15))))
        middle.append(("64", language))
    if draw(st.booleans()):
        middle.append((f"{draw(st.integers(80, 99)):02d}", draw(_guid_template())))
    # EMVCo fixes only 00 first and 63 last; the rest may come in any order.
    return [("00", "01"), *draw(st.permutations(middle))]


@given(valid_objects())
def test_round_trip_generated_payloads(objects: list[tuple[str, Any]]) -> None:
    text = emvqr.encode(objects)
    payload = emvqr.decode(text)  # CRC and every conformance rule
    assert payload.objects[:-1] == objects
    assert payload.objects[-1] == ("63", text[-4:])
    assert emvqr.encode(payload.objects) == text


def _decode_only_decode_error(data: Any) -> None:
    started = time.monotonic()
    with contextlib.suppress(DecodeError):
        emvqr.decode(data)
    assert time.monotonic() - started < 1.0


@given(st.text())
def test_fuzz_text_raises_only_decode_error(text: str) -> None:
    _decode_only_decode_error(text)
    with contextlib.suppress(DecodeError):
        emvqr.parse(text)


@given(st.binary())
def test_fuzz_bytes_raises_only_decode_error(data: bytes) -> None:
    _decode_only_decode_error(data)


@st.composite
def _mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from([row["payload"] for row in VALID]))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        char = draw(st.sampled_from("0123456789X9é最\x00"))
        if action == "insert":
            text = text[:at] + char + text[at:]
        elif action == "delete":
            text = text[:at] + text[at + 1 :]
        else:
            text = text[:at] + char + text[at + 1 :]
    return text


@given(_mutated())
def test_fuzz_mutated_published_payloads(text: str) -> None:
    _decode_only_decode_error(text)


def test_lone_surrogate_is_a_decode_error() -> None:
    with pytest.raises(DecodeError):
        emvqr.decode("0001\ud8006304ABCD")


def test_long_input_does_not_hang() -> None:
    started = time.monotonic()
    with pytest.raises(DecodeError):
        emvqr.decode("0000" * 50000)
    assert time.monotonic() - started < 5.0


def test_many_objects_with_valid_crc_do_not_hang() -> None:
    # Syntactically valid and CRC-correct, so every conformance rule runs.
    text = emvqr.encode([("00", "01")] + [("70", "")] * 20000)
    started = time.monotonic()
    with pytest.raises(DecodeError) as info:
        emvqr.decode(text)
    assert time.monotonic() - started < 5.0
    assert info.value.tag == "70"  # empty value
    paths = {path for path, _ in emvqr.problems(emvqr.parse(text))}
    assert paths == {"70", "52", "53", "58", "59", "60", "02-51"}
