"""IBM 3624 offset and Visa PVV: published vectors, properties, psec agreement."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hsm_sim.crypto import pinverify
from hsm_sim.crypto._cardutil import decimalise_scan

# psec goes through cryptography's TripleDES, which warns that it moved.
pytestmark = pytest.mark.filterwarnings("ignore:TripleDES has been moved")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import psec.pin

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "pinverify_ibm3624_pvv.json").read_text()
)
PVK = bytes.fromhex(VECTORS["pvk"])

digits = "0123456789"
keys = st.sampled_from([8, 16, 24]).flatmap(lambda n: st.binary(min_size=n, max_size=n))
tables = st.text(digits, min_size=16, max_size=16)


@pytest.mark.parametrize("vec", VECTORS["ibm3624"], ids=lambda v: v["pin"] + "/" + v["offset"])
def test_ibm3624_vectors(vec: dict[str, str]) -> None:
    args = (vec["validation_data"], vec["table"], vec["pad"])
    assert pinverify.ibm3624_pin_from_offset(PVK, vec["offset"], *args) == vec["pin"]
    assert pinverify.ibm3624_offset(PVK, vec["pin"], *args) == vec["offset"]
    assert pinverify.ibm3624_verify(PVK, vec["pin"], vec["offset"], *args)


@pytest.mark.parametrize("vec", VECTORS["pvv"], ids=lambda v: v["pvv"])
def test_visa_pvv_vectors(vec: dict[str, str]) -> None:
    assert pinverify.visa_pvv(PVK, vec["pan"], vec["pvki"], vec["pin"]) == vec["pvv"]
    assert pinverify.visa_pvv_verify(PVK, vec["pan"], vec["pvki"], vec["pin"], vec["pvv"])


@given(
    pvk=keys,
    table=tables,
    pin=st.text(digits, min_size=4, max_size=16),
    pan=st.text(digits, min_size=16, max_size=16),
    start=st.integers(0, 4),
    pad=st.sampled_from("0123456789ABCDEF"),
)
def test_ibm3624_agrees_with_psec(
    pvk: bytes, table: str, pin: str, pan: str, start: int, pad: str
) -> None:
    length = 16 - start
    data = pan[start : start + length]
    offset = pinverify.ibm3624_offset(pvk, pin, data, table, pad)
    assert offset == psec.pin.generate_ibm3624_offset(pvk, table, pin, pan, start, length, pad)
    assert pinverify.ibm3624_pin_from_offset(pvk, offset, data, table, pad) == pin
    assert psec.pin.generate_ibm3624_pin(pvk, table, offset, pan, start, length, pad) == pin


@given(
    pvk=keys,
    pvki=st.sampled_from(digits),
    pin=st.text(digits, min_size=4, max_size=4),
    pan=st.text(digits, min_size=13, max_size=19),
)
def test_visa_pvv_agrees_with_psec(pvk: bytes, pvki: str, pin: str, pan: str) -> None:
    assert pinverify.visa_pvv(pvk, pan, pvki, pin) == psec.pin.generate_visa_pvv(
        pvk, pvki, pin, pan
    )


@given(pin=st.text(digits, min_size=4, max_size=12), other=st.text(digits, min_size=4))
def test_verification_rejects_other_pins(pin: str, other: str) -> None:
    other = other[: len(pin)].ljust(len(pin), "0")
    offset = pinverify.ibm3624_offset(PVK, pin, "4111111111111111")
    assert pinverify.ibm3624_verify(PVK, other, offset, "4111111111111111") == (other == pin)
    pvv = pinverify.visa_pvv(PVK, "4111111111111111", "1", pin)
    same_first4 = other[:4] == pin[:4]
    assert pinverify.visa_pvv_verify(PVK, "4111111111111111", "1", other, pvv) == same_first4


def test_check_length_keeps_and_checks_only_the_rightmost_digits() -> None:
    full = pinverify.ibm3624_offset(PVK, "123456", "4111111111111111")
    short = pinverify.ibm3624_offset(PVK, "123456", "4111111111111111", check_length=4)
    assert short == full[-4:]
    assert pinverify.ibm3624_verify(PVK, "123456", short, "4111111111111111")
    assert pinverify.ibm3624_verify(PVK, "993456", short, "4111111111111111")  # by design
    assert not pinverify.ibm3624_verify(PVK, "123457", short, "4111111111111111")


def test_natural_pin_uses_the_decimalisation_table() -> None:
    # Table mapping every hex digit to 7: the natural PIN is all sevens.
    assert pinverify.ibm3624_natural_pin(PVK, "1234", 6, "7" * 16) == "777777"
    natural = pinverify.ibm3624_natural_pin(PVK, "1234", 4)
    assert pinverify.ibm3624_offset(PVK, natural, "1234") == "0000"


def test_decimalisation_second_pass_takes_letters_minus_ten() -> None:
    assert decimalise_scan("ABCDEFABCDEFABCD", 4) == "0123"
    assert decimalise_scan("A1B2CDEFABCDEFAB", 4) == "1201"
    assert decimalise_scan("8D5625FA78011A0C", 3) == "856"


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: pinverify.ibm3624_offset(PVK, "123", "1234"), "PIN"),
        (lambda: pinverify.ibm3624_offset(PVK, "1234", "1234", "12345"), "table"),
        (lambda: pinverify.ibm3624_offset(PVK, "1234", "12345678901234567"), "validation"),
        (lambda: pinverify.ibm3624_offset(PVK, "1234", "12G4"), "validation"),
        (lambda: pinverify.ibm3624_offset(PVK, "1234", "1234", pad="FF"), "pad"),
        (lambda: pinverify.ibm3624_offset(PVK, "123456", "1234", check_length=3), "check"),
        (lambda: pinverify.ibm3624_offset(bytes(5), "1234", "1234"), "PVK"),
        (lambda: pinverify.ibm3624_verify(PVK, "1234", "12345", "1234"), "offset"),
        (lambda: pinverify.visa_pvv(PVK, "12345678901", "1", "1234"), "PAN"),
        (lambda: pinverify.visa_pvv(PVK, "4111111111111111", "A", "1234"), "PVKI"),
        (lambda: pinverify.visa_pvv(PVK, "4111111111111111", "1", "12a4"), "PIN"),
        (lambda: pinverify.visa_pvv_verify(PVK, "4111111111111111", "1", "1234", "12"), "PVV"),
    ],
)
def test_bad_input_is_a_value_error(call: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()
