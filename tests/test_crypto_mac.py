"""MACs: ISO 9797-1 algorithms 1 and 3, TDES-CMAC, AES-CMAC (hsm_sim.crypto.mac)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import psec
import pytest
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import algorithms
from hypothesis import given
from hypothesis import strategies as st

from hsm_sim.crypto import aes, des, dukpt_tdes, mac
from protocols.crypto import aes_cmac

VECTORS = Path(__file__).parent / "vectors"


def _cases(name: str) -> list[dict[str, str]]:
    cases: list[dict[str, str]] = json.loads((VECTORS / name).read_text())["cases"]
    return cases


@pytest.fixture(autouse=True)
def _quiet_psec_tdes() -> None:
    warnings.filterwarnings("ignore", message=".*TripleDES.*")


@pytest.mark.parametrize(
    "case",
    _cases("cmac_rfc4493.json") + _cases("cmac_sp800_38b.json"),
    ids=lambda c: f"{c['alg']}{len(c['key']) * 4}-{len(c['message']) // 2}",
)
def test_published_cmac_vectors(case: dict[str, str]) -> None:
    key, msg = bytes.fromhex(case["key"]), bytes.fromhex(case["message"])
    fn = mac.aes_cmac_mac if case["alg"] == "aes" else mac.tdes_cmac
    assert fn(key, msg).hex().upper() == case["mac"]
    assert mac.generate("cmac-" + case["alg"], key, msg).hex().upper() == case["mac"]


def test_rfc4493_subkeys() -> None:
    sk = json.loads((VECTORS / "cmac_rfc4493.json").read_text())["subkeys"]
    k1, k2 = aes_cmac.subkeys(aes.AesBlock(bytes.fromhex(sk["key"])))
    assert (k1.hex().upper(), k2.hex().upper()) == (sk["k1"], sk["k2"])


def test_x9_24_1_dukpt_macs_are_retail_macs() -> None:
    # ANSI X9.24-1:2009 Annex A: MAC request/response values are ISO 9797-1
    # algorithm 3 with padding method 1 under the DUKPT MAC keys.
    v = json.loads((VECTORS / "dukpt_tdes_x9_24_1.json").read_text())
    data = v["data_and_mac"]["data_ascii"].encode()
    bdk = bytes.fromhex(v["bdk"])
    for case in v["data_and_mac"]["cases"]:
        k = dukpt_tdes.working_keys(bdk, bytes.fromhex(case["ksn"]))
        assert mac.retail_mac(k["mac"], data).hex().upper() == case["mac_request"]
        assert mac.retail_mac(k["mac_response"], data).hex().upper() == case["mac_response"]


@given(st.binary(max_size=80), st.sampled_from([1, 2, 3]), st.sampled_from([8, 16]))
def test_padding_matches_psec(data: bytes, method: int, block: int) -> None:
    pads = {1: psec.mac.pad_iso_1, 2: psec.mac.pad_iso_2, 3: psec.mac.pad_iso_3}
    assert mac.pad(data, method, block) == pads[method](data, block)
    assert len(mac.pad(data, method, block)) % block == 0


def test_padding_edges() -> None:
    assert mac.pad(b"", 1) == bytes(8)
    assert mac.pad(bytes(8), 1) == bytes(8)
    assert mac.pad(bytes(8), 2) == bytes(8) + b"\x80" + bytes(7)
    assert mac.pad(b"\x01", 3) == bytes.fromhex("0000000000000008") + b"\x01" + bytes(7)
    with pytest.raises(ValueError):
        mac.pad(b"", 4)


@given(st.binary(min_size=16, max_size=16), st.binary(max_size=100), st.sampled_from([1, 2, 3]))
def test_retail_mac_matches_psec(key: bytes, data: bytes, padding: int) -> None:
    want = psec.mac.generate_retail_mac(key[:8], key[8:], data, padding)
    assert mac.retail_mac(key, data, padding) == want
    assert mac.generate("retail", key, data, padding) == want


@given(
    st.sampled_from([8, 16, 24]).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
    st.binary(max_size=100),
    st.sampled_from([1, 2, 3]),
)
def test_cbc_mac_matches_psec(key: bytes, data: bytes, padding: int) -> None:
    k = key * 2 if len(key) == 8 else key
    assert mac.cbc_mac(key, data, padding) == psec.mac.generate_cbc_mac(k, data, padding)


@given(st.binary(min_size=16, max_size=16), st.binary(max_size=64))
def test_retail_mac_with_equal_halves_is_cbc_mac(key8x2: bytes, data: bytes) -> None:
    # Algorithm 3 with K' = K collapses to algorithm 1 with single DES.
    k = key8x2[:8] * 2
    assert mac.retail_mac(k, data) == mac.cbc_mac(k[:8], data)


@given(
    st.sampled_from([16, 24]).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
    st.binary(max_size=100),
)
def test_tdes_cmac_matches_cryptography(key: bytes, data: bytes) -> None:
    c = cmac.CMAC(TripleDES(key if len(key) == 24 else key + key[:8]))
    c.update(data)
    assert mac.tdes_cmac(key, data) == c.finalize()


@given(
    st.sampled_from([16, 24, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
    st.binary(max_size=100),
)
def test_aes_cmac_matches_cryptography(key: bytes, data: bytes) -> None:
    c = cmac.CMAC(algorithms.AES(key))
    c.update(data)
    tag = c.finalize()
    assert mac.aes_cmac_mac(key, data) == tag
    assert aes_cmac.verify(aes.AesBlock(key), data, tag[:8])
    assert not aes_cmac.verify(aes.AesBlock(key), data + b"x", tag)


def test_errors() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        mac.retail_mac(bytes(24), b"")
    with pytest.raises(ValueError, match="padding"):
        mac.generate("cmac-aes", bytes(16), b"", 2)
    with pytest.raises(ValueError):
        mac.generate("hmac", bytes(16), b"")
    with pytest.raises(ValueError, match="block"):
        aes_cmac.cmac(_Odd(), b"")
    assert not aes_cmac.verify(aes.AesBlock(bytes(16)), b"", b"\x00\x00")


class _Odd:
    block_size = 12

    def encrypt_block(self, b: bytes) -> bytes:
        return b


def test_tdes_block_is_injectable_cipher() -> None:
    c = des.TdesBlock(bytes(range(16)))
    assert c.block_size == 8
    assert c.decrypt_block(c.encrypt_block(b"12345678")) == b"12345678"
