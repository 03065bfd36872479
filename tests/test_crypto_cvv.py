"""CVV / CVV2 / iCVV: published vectors, intermediate steps, psec agreement."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hsm_sim.crypto import cvv
from hsm_sim.crypto._cardutil import tdes_ecb, xor

# psec goes through cryptography's TripleDES, which warns that it moved.
pytestmark = pytest.mark.filterwarnings("ignore:TripleDES has been moved")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import psec.cvv

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "cvv_visa.json").read_text()
)
digits = "0123456789"


@pytest.mark.parametrize("vec", VECTORS["vectors"], ids=lambda v: v["from"])
def test_published_cvv_vectors(vec: dict[str, Any]) -> None:
    key = bytes.fromhex(vec["cvk"])
    assert cvv.cvv(key, vec["pan"], vec["expiry"], vec["service_code"]) == vec["cvv"]
    assert cvv.verify(key, vec["pan"], vec["expiry"], vec["service_code"], vec["cvv"])
    wrong = f"{(int(vec['cvv']) + 1) % 1000:03d}"
    assert not cvv.verify(key, vec["pan"], vec["expiry"], vec["service_code"], wrong)


def test_worked_example_intermediate_values() -> None:
    vec = next(v for v in VECTORS["vectors"] if "steps" in v)
    steps = vec["steps"]
    key = bytes.fromhex(vec["cvk"])
    b1, b2 = bytes.fromhex(steps["block1"]), bytes.fromhex(steps["block2"])
    assert (vec["pan"] + vec["expiry"] + vec["service_code"]).ljust(32, "0") == (
        steps["block1"] + steps["block2"]
    )
    step1 = tdes_ecb(key[:8], b1)
    assert step1.hex().upper() == steps["des_a_block1"]
    step2 = xor(step1, b2)
    assert step2.hex().upper() == steps["xor_block2"]
    assert tdes_ecb(key, step2).hex().upper() == steps["tdes"]


def test_cvv2_and_icvv_are_the_cvv_with_service_codes_000_and_999() -> None:
    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    pan, exp = "4123456789012345", "8701"
    assert cvv.cvv2(key, pan, exp) == cvv.cvv(key, pan, exp, "000")
    assert cvv.icvv(key, pan, exp) == cvv.cvv(key, pan, exp, "999")
    # The three values for one card differ (the point of distinct service codes).
    values = {cvv.cvv(key, pan, exp, "101"), cvv.cvv2(key, pan, exp), cvv.icvv(key, pan, exp)}
    assert len(values) == 3


@given(
    key=st.binary(min_size=16, max_size=16),
    pan=st.text(digits, min_size=12, max_size=19),
    expiry=st.text(digits, min_size=4, max_size=4),
    service_code=st.text(digits, min_size=3, max_size=3),
)
def test_agrees_with_psec(key: bytes, pan: str, expiry: str, service_code: str) -> None:
    assert cvv.cvv(key, pan, expiry, service_code) == psec.cvv.generate_cvv(
        key, pan, expiry, service_code
    )


@pytest.mark.parametrize(
    ("key", "pan", "expiry", "sc", "match"),
    [
        (bytes(8), "4123456789012345", "8701", "101", "CVK"),
        (bytes(16), "41234567890123456789", "8701", "101", "PAN"),
        (bytes(16), "4123a", "8701", "101", "PAN"),
        (bytes(16), "4123456789012345", "871", "101", "expiry"),
        (bytes(16), "4123456789012345", "8701", "1011", "service code"),
    ],
)
def test_bad_input(key: bytes, pan: str, expiry: str, sc: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        cvv.cvv(key, pan, expiry, sc)
    with pytest.raises(ValueError, match="CVV must be"):
        cvv.verify(bytes(16), "4123456789012345", "8701", "101", "12")
