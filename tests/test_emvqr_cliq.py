"""CliQ profile of the EMVCo QR (protocols/emvqr_cliq.py).

The profile is this project's stated assumption (docs/qr.md), so its payload
vectors are regression vectors; their CRCs are checked here against
binascii.crc_hqx, and the IBAN against the SWIFT IBAN registry example.
"""

from __future__ import annotations

import binascii
import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols import emvqr, emvqr_cliq
from protocols.errors import DecodeError, EncodeError

VECTORS = json.loads(
    (Path(__file__).parent / "vectors" / "emvqr_cliq.json").read_text(encoding="utf-8")
)
BUILT = VECTORS["built"]
BUILDERS = {"static": emvqr_cliq.cliq_static, "dynamic": emvqr_cliq.cliq_dynamic}


def test_published_iban_passes_mod97() -> None:
    assert emvqr_cliq.iban_ok(VECTORS["iban"]["value"])


@pytest.mark.parametrize(
    "iban",
    [
        "JO95CBJO0010000000000131000302",  # check digits off by one
        "JO94CBJO001000000000013100030",  # one short
        "GB94CBJO0010000000000131000302",  # not Jordan
        "jo94cbjo0010000000000131000302",  # lower case
        "JO94CBJO0010000000000131000303",  # account digit changed
    ],
)
def test_bad_ibans_fail(iban: str) -> None:
    assert not emvqr_cliq.iban_ok(iban)


@pytest.mark.parametrize("row", BUILT, ids=[r["args"]["alias_type"] for r in BUILT])
def test_builders_reproduce_vectors(row: dict[str, Any]) -> None:
    text = BUILDERS[row["builder"]](**row["args"])
    assert text == row["payload"]
    assert f"{binascii.crc_hqx(text[:-4].encode(), 0xFFFF):04X}" == text[-4:]
    emvqr.decode(text)  # EMVCo-conforming too


@pytest.mark.parametrize("row", BUILT, ids=[r["args"]["alias_type"] for r in BUILT])
def test_parse_cliq_gives_back_builder_arguments(row: dict[str, Any]) -> None:
    parsed = emvqr_cliq.parse_cliq(row["payload"])
    for name, value in row["args"].items():
        assert getattr(parsed, name) == value, name
    assert parsed.dynamic == (row["builder"] == "dynamic")
    assert parsed.template_id == "26"
    assert parsed.payload.template_with_guid("com.jopacc.cliq") is not None


def test_arabic_names_count_characters() -> None:
    text = BUILT[0]["payload"]
    parsed = emvqr_cliq.parse_cliq(text)
    assert parsed.language == "AR"
    assert parsed.name_ar == "مطعم الياسمين"
    assert "0113مطعم الياسمين" in text  # 13 characters: 12 letters of 2 bytes + a space
    assert len("مطعم الياسمين".encode()) == 25


@pytest.mark.parametrize("row", VECTORS["rejected"], ids=lambda r: r["name"])
def test_profile_violations_are_decode_errors(row: dict[str, Any]) -> None:
    with pytest.raises(DecodeError) as info:
        emvqr_cliq.parse_cliq(row["payload"])
    assert info.value.tag == row["tag"]


def test_wrong_crc_is_rejected_unless_unverified() -> None:
    text = BUILT[1]["payload"]
    broken = text[:-4] + ("0000" if text[-4:] != "0000" else "1111")
    with pytest.raises(DecodeError) as info:
        emvqr_cliq.parse_cliq(broken)
    assert info.value.tag == "63"
    assert emvqr_cliq.parse_cliq(broken, verify_crc=False).amount == "12.500"


def test_other_schemes_may_share_the_payload() -> None:
    row = BUILT[2]
    objects = emvqr.parse(row["payload"]).objects
    objects.insert(2, ("02", "4761360000000017"))  # a Visa merchant PAN first
    parsed = emvqr_cliq.parse_cliq(emvqr.encode(objects))
    assert parsed.alias == "00962791234567"


def test_payload_without_cliq_template() -> None:
    pix = (
        "00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-426655440000"
        "5204000053039865802BR5913Fulano de Tal6008BRASILIA62070503***63041D3D"
    )
    with pytest.raises(DecodeError) as info:
        emvqr_cliq.parse_cliq(pix)
    assert info.value.tag == "26"


STATIC = {
    "alias_type": "ALIAS",
    "alias": "SHOP1",
    "merchant_name": "SHOP",
    "merchant_city": "AMMAN",
    "mcc": "5411",
}
DYNAMIC = {**STATIC, "amount": "1.000", "reference": "R1"}


@pytest.mark.parametrize(
    ("builder", "changes", "tag"),
    [
        ("static", {"alias": "shop1"}, "26.02"),
        ("static", {"alias": "ABCDEFGHIJK"}, "26.02"),
        ("static", {"alias_type": "EMAIL"}, "26.02"),
        ("static", {"alias_type": "MOBILE", "alias": "0791234567"}, "26.02"),
        ("static", {"alias_type": "MOBILE", "alias": "00962691234567"}, "26.02"),
        ("static", {"alias_type": "MOBILE", "alias": "00962761234567"}, "26.02"),
        ("static", {"bic": "CBJOUSAX"}, "26.03"),
        ("static", {"bic": "CBJOJO"}, "26.03"),
        (
            "static",
            {"alias_type": "IBAN", "alias": "JO94CBJO0010000000000131000302", "bic": "ARABJOAX"},
            "26.03",
        ),
        ("static", {"merchant_name": "X" * 26}, "59"),
        ("static", {"merchant_name": "مطعم"}, "59"),
        ("static", {"name_ar": "م" * 26}, "64.01"),
        ("static", {"mcc": "58"}, "52"),
        ("dynamic", {"amount": "0.000"}, "54"),
        ("dynamic", {"amount": "1.0001"}, "54"),
        ("dynamic", {"amount": "1,5"}, "54"),
        ("dynamic", {"reference": None}, "62"),
        ("dynamic", {"purpose": "P" * 26}, "62.08"),
    ],
)
def test_builders_reject_invalid_input(builder: str, changes: dict[str, Any], tag: str) -> None:
    args = dict(STATIC if builder == "static" else DYNAMIC)
    args.update(changes)
    with pytest.raises(EncodeError) as info:
        BUILDERS[builder](**args)
    assert info.value.tag == tag


def test_arabic_city_needs_arabic_name() -> None:
    with pytest.raises(EncodeError) as info:
        emvqr_cliq.cliq_static(**STATIC, city_ar="عمّان")
    assert info.value.field == "city_ar"


def test_bill_number_alone_is_a_reference() -> None:
    text = emvqr_cliq.cliq_dynamic(**{**DYNAMIC, "reference": None, "bill_number": "B7"})
    assert emvqr_cliq.parse_cliq(text).bill_number == "B7"


ALIAS = st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"), min_size=1, max_size=10)
ASCII = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=15)


@given(
    alias=ALIAS,
    name=ASCII,
    city=ASCII,
    whole=st.integers(1, 999999),
    thousandths=st.integers(0, 999),
    reference=st.text(
        st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=25
    ),
    name_ar=st.text(st.characters(min_codepoint=0x0621, max_codepoint=0x064A), max_size=25),
)
def test_dynamic_round_trip(
    alias: str, name: str, city: str, whole: int, thousandths: int, reference: str, name_ar: str
) -> None:
    amount = f"{whole}.{thousandths:03d}"
    text = emvqr_cliq.cliq_dynamic(
        "ALIAS",
        alias,
        name,
        city,
        "5999",
        amount,
        reference=reference,
        name_ar=name_ar or None,
    )
    parsed = emvqr_cliq.parse_cliq(text)
    assert (parsed.alias, parsed.amount, parsed.reference) == (alias, amount, reference)
    assert parsed.merchant_name == name and parsed.merchant_city == city
    assert parsed.name_ar == (name_ar or None)
    assert emvqr.parse(text).encode() == text


@given(st.text())
def test_parse_cliq_fuzz_raises_only_decode_error(text: str) -> None:
    with contextlib.suppress(DecodeError):
        emvqr_cliq.parse_cliq(text)
