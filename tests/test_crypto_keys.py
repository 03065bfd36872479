"""Key parity, check values and components (hsm_sim.crypto.keys, des, aes)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import psec
import pytest
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import algorithms
from hypothesis import given
from hypothesis import strategies as st

from hsm_sim.crypto import aes, des, keys

VECTORS = Path(__file__).parent / "vectors"
TR31 = json.loads((VECTORS / "tr31_examples.json").read_text())

tdes_keys = st.sampled_from([8, 16, 24]).flatmap(lambda n: st.binary(min_size=n, max_size=n))
aes_keys = st.sampled_from([16, 24, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n))


@pytest.fixture(autouse=True)
def _quiet_psec_tdes() -> None:
    # psec uses cryptography's TripleDES, which warns that it has moved.
    warnings.filterwarnings("ignore", message=".*TripleDES.*")


@pytest.mark.parametrize("case", TR31["cases"], ids=lambda c: c["name"])
def test_published_kcvs(case: dict[str, str]) -> None:
    # The TR-31 examples publish each wrapped key's KCV: E(zeros) for TDES,
    # CMAC(zeros) for AES, 3 or 5 bytes.
    key = bytes.fromhex(case["key"])
    alg = "aes" if case["block"][7] == "A" else "tdes"
    want = case["kcv"]
    assert keys.kcv(key, alg, len(want) // 2).hex().upper() == want


def test_kcv_default_is_three_bytes() -> None:
    assert (
        keys.kcv_tdes(bytes.fromhex("5DB50B454F8389ADCE573BE50861F2BF")).hex().upper() == "5C9405"
    )
    with pytest.raises(ValueError):
        keys.kcv_tdes(bytes(16), 9)
    with pytest.raises(ValueError):
        keys.kcv(bytes(16), "rsa")


@given(tdes_keys)
def test_tdes_kcv_matches_psec(key: bytes) -> None:
    if len(key) == 8:
        key = key * 2
    assert keys.kcv_tdes(key) == psec.des.generate_kcv(key, 3)


@given(aes_keys)
def test_aes_kcv_is_cmac_of_zero_block(key: bytes) -> None:
    c = cmac.CMAC(algorithms.AES(key))
    c.update(bytes(16))
    assert keys.kcv_aes(key, 16) == c.finalize()


@given(st.binary(min_size=1, max_size=32))
def test_parity_matches_psec(key: bytes) -> None:
    adjusted = keys.adjust_parity(key)
    assert adjusted == psec.des.adjust_key_parity(key)
    assert keys.has_odd_parity(adjusted)
    keys.check_parity(adjusted)
    # Only the low bit of each byte may change.
    assert all((a ^ b) in (0, 1) for a, b in zip(adjusted, key, strict=True))


def test_check_parity_names_the_byte() -> None:
    with pytest.raises(ValueError, match="byte 1"):
        keys.check_parity(bytes.fromhex("0100"))


@given(st.lists(st.binary(min_size=16, max_size=16), min_size=2, max_size=4))
def test_components_xor_and_parity(components: list[bytes]) -> None:
    key = keys.combine_components(components)
    raw = bytes(16)
    for c in components:
        raw = bytes(x ^ y for x, y in zip(raw, c, strict=True))
    assert key == psec.des.adjust_key_parity(raw)
    assert keys.combine_components(components, "aes") == raw


def test_component_errors() -> None:
    with pytest.raises(ValueError, match="two"):
        keys.combine_components([bytes(16)])
    with pytest.raises(ValueError, match="length"):
        keys.combine_components([bytes(16), bytes(8)])
    with pytest.raises(ValueError):
        keys.combine_components([bytes(5), bytes(5)])
    with pytest.raises(ValueError):
        keys.combine_components([bytes(8), bytes(8)], "aes")


@given(tdes_keys, st.binary(min_size=8, max_size=64).map(lambda b: b[: len(b) // 8 * 8]))
def test_tdes_matches_psec_including_degenerate_keys(key: bytes, data: bytes) -> None:
    k = key * 2 if len(key) == 8 else key
    iv = bytes(range(8))
    assert des.encrypt_ecb(key, data) == psec.des.encrypt_tdes_ecb(k, data)
    assert des.encrypt_cbc(key, data, iv) == psec.des.encrypt_tdes_cbc(k, iv, data)
    assert des.decrypt_cbc(key, des.encrypt_cbc(key, data, iv), iv) == data


def test_degenerate_tdes_key_is_single_des() -> None:
    k = bytes.fromhex("0123456789ABCDEF")
    block = bytes.fromhex("4E6F772069732074")
    # FIPS 81 / DES validation example: "Now is t" under 0123456789ABCDEF.
    assert des.des_encrypt(k, block).hex().upper() == "3FA40E8A984D4815"
    assert des.encrypt_ecb(k * 2, block) == des.des_encrypt(k, block)
    assert des.encrypt_ecb(k * 3, block) == des.des_encrypt(k, block)


@given(aes_keys, st.binary(min_size=16, max_size=64).map(lambda b: b[: len(b) // 16 * 16]))
def test_aes_matches_psec(key: bytes, data: bytes) -> None:
    iv = bytes(range(16))
    assert aes.encrypt_cbc(key, data, iv) == psec.aes.encrypt_aes_cbc(key, iv, data)
    assert aes.decrypt_ecb(key, aes.encrypt_ecb(key, data)) == data
    assert aes.AesBlock(key).decrypt_block(aes.AesBlock(key).encrypt_block(data[:16])) == data[:16]


def test_bad_lengths() -> None:
    with pytest.raises(ValueError):
        des.encrypt_ecb(bytes(10), bytes(8))
    with pytest.raises(ValueError):
        des.encrypt_ecb(bytes(16), bytes(7))
    with pytest.raises(ValueError):
        aes.encrypt_ecb(bytes(10), bytes(16))
    with pytest.raises(ValueError):
        aes.encrypt_cbc(bytes(16), bytes(15))
