"""MAC (M6/M8) and data encryption (M0/M2) over TCP, against psec,
cryptography and pycryptodome called directly."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import psec.mac
import pytest
from Crypto.Cipher import AES, DES3
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.cmac import CMAC
from hsm_support import RunningHsm, lmk_block, running_hsm, tdes_key
from hypothesis import given, settings
from hypothesis import strategies as st

from hsm_sim.client import HsmClient, HsmError, req_data, req_mac
from hsm_sim.commands import _fast
from hsm_sim.crypto import mac

MESSAGE = b"0200 PAYTERM \x19\x00 binary and text" * 3
MAC_TDES = tdes_key(50)
MAC_AES = bytes(range(0x80, 0xA0))


@pytest.fixture(scope="module")
def hsm() -> Iterator[RunningHsm]:
    with running_hsm() as running:
        yield running


@pytest.fixture
def client(hsm: RunningHsm) -> Iterator[HsmClient]:
    with HsmClient(hsm.host, hsm.port) as c:
        yield c


def _cmac(key: bytes, data: bytes, aes: bool) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES

        c = CMAC(algorithms.AES(key) if aes else TripleDES(key))
    c.update(data)
    return c.finalize()


@pytest.mark.parametrize("padding", [1, 2, 3])
def test_m6_m8_iso9797_algorithms_1_and_3(client: HsmClient, padding: int) -> None:
    alg3 = client.generate_mac(lmk_block("M3", MAC_TDES), MESSAGE, "alg3", 8, padding)
    expected3 = psec.mac.generate_retail_mac(MAC_TDES[:8], MAC_TDES[8:], MESSAGE, padding)
    assert alg3 == expected3
    alg1 = client.generate_mac(lmk_block("M1", MAC_TDES), MESSAGE, "alg1", 4, padding)
    assert alg1 == psec.mac.generate_cbc_mac(MAC_TDES, MESSAGE, padding)[:4]
    assert client.verify_mac(lmk_block("M3", MAC_TDES), MESSAGE, alg3, "alg3", padding)
    assert not client.verify_mac(lmk_block("M3", MAC_TDES), MESSAGE + b"!", alg3, "alg3", padding)


@pytest.mark.parametrize("aes", [True, False])
def test_m6_m8_cmac(client: HsmClient, aes: bool) -> None:
    value = MAC_AES if aes else MAC_TDES
    key = lmk_block("M6", value, "A" if aes else "T")
    size = 16 if aes else 8
    mac = client.generate_mac(key, MESSAGE, "cmac", size)
    assert mac == _cmac(value, MESSAGE, aes)
    assert client.generate_mac(key, MESSAGE, "cmac", 4) == mac[:4]
    assert client.verify_mac(key, MESSAGE, mac[:8])
    assert not client.verify_mac(key, MESSAGE, bytes(8))


def test_m6_binary_input_format(client: HsmClient) -> None:
    key = lmk_block("M6", MAC_AES, "A")
    text = MESSAGE.decode("latin-1")
    fields = f"00150FFF{key}{len(text):04X}{text}"  # binary, 8-byte MAC, CMAC
    error, out = client.exchange("M6", fields)
    assert error == "00"
    assert bytes.fromhex(out) == _cmac(MAC_AES, MESSAGE, True)[:8]


def test_mac_errors(client: HsmClient) -> None:
    gen_only = lmk_block("M6", MAC_AES, "A", mode="G")
    assert client.exchange("M8", req_mac(gen_only, MESSAGE) + "00" * 8)[0] == "A8"
    verify_only = lmk_block("M6", MAC_AES, "A", mode="V")
    assert client.exchange("M6", req_mac(verify_only, MESSAGE))[0] == "A8"
    assert client.exchange("M6", req_mac(lmk_block("M3", MAC_TDES), MESSAGE))[0] == "A6"
    assert client.exchange("M6", req_mac(lmk_block("D0", MAC_AES, "A"), MESSAGE))[0] == "A6"
    odd = MESSAGE[:13]
    assert client.exchange("M6", req_mac(lmk_block("M1", MAC_TDES), odd, "alg1"))[0] == "15"
    assert client.exchange("M6", req_mac(lmk_block("M6", MAC_AES, "A"), odd, padding=1))[0] == "15"
    key = lmk_block("M6", MAC_AES, "A")
    assert client.exchange("M6", req_mac(key, MESSAGE)[:-3])[0] == "15"  # message cut short


@pytest.mark.parametrize("aes", [True, False])
def test_m0_m2_ecb_and_cbc(client: HsmClient, aes: bool) -> None:
    value = bytes(range(16, 48)) if aes else tdes_key(60, 24)
    block = 16 if aes else 8
    key = lmk_block("D0", value, "A" if aes else "T", "B")
    data = bytes(range(4 * block))
    ecb = AES.new(value, AES.MODE_ECB) if aes else DES3.new(value, DES3.MODE_ECB)
    result = client.encrypt_data(key, data)
    assert result.data == ecb.encrypt(data)
    assert client.decrypt_data(key, result.data).data == data
    iv = bytes(range(100, 100 + block))
    cbc = AES.new(value, AES.MODE_CBC, iv=iv) if aes else DES3.new(value, DES3.MODE_CBC, iv=iv)
    enc = client.encrypt_data(key, data, iv)
    assert enc.data == cbc.encrypt(data)
    assert enc.iv == enc.data[-block:]
    # chaining: the second half continues from the IV the first half returned
    first = client.encrypt_data(key, data[: 2 * block], iv)
    second = client.encrypt_data(key, data[2 * block :], first.iv)
    assert first.data + second.data == enc.data
    dec = client.decrypt_data(key, enc.data, iv)
    assert dec.data == data


def test_data_errors(client: HsmClient) -> None:
    enc_only = lmk_block("D0", MAC_AES, "A", "E")
    assert client.exchange("M2", req_data(enc_only, bytes(16)))[0] == "A8"
    dec_only = lmk_block("D0", MAC_AES, "A", "D")
    assert client.exchange("M0", req_data(dec_only, bytes(16)))[0] == "A8"
    assert client.exchange("M0", req_data(lmk_block("P0", MAC_TDES), bytes(16)))[0] == "A6"
    both = lmk_block("D0", MAC_AES, "A", "B")
    assert client.exchange("M0", req_data(both, bytes(15)))[0] == "15"
    with pytest.raises(HsmError) as info:
        client.encrypt_data(both, b"")
    assert info.value.code == "15"


@settings(max_examples=200)
@given(
    key=st.binary(min_size=16, max_size=16),
    data=st.binary(max_size=80),
    padding=st.sampled_from([1, 2, 3]),
)
def test_fast_retail_mac_equals_the_crypto_module(key: bytes, data: bytes, padding: int) -> None:
    assert _fast.retail_mac(key, data, padding) == mac.retail_mac(key, data, padding)


@pytest.mark.parametrize("aes", [True, False])
def test_cmac_fast_path_equals_the_crypto_module(aes: bool) -> None:
    from hsm_sim.commands.mac import _cmac

    degenerate = bytes(range(8)) * 2  # K1 = K3: pycryptodome refuses it, fallback path
    for key in [MAC_AES, bytes(16)] if aes else [MAC_TDES, degenerate]:
        for data in (b"", b"x" * 15, MESSAGE):
            expected = mac.aes_cmac_mac(key, data) if aes else mac.tdes_cmac(key, data)
            assert _cmac(key, aes, data) == expected


def test_an_answer_too_long_for_the_frame_is_error_15() -> None:
    with running_hsm(max_frame=0xFFFF) as hsm, HsmClient(hsm.host, hsm.port) as client:
        key = lmk_block("D0", MAC_AES, "A", "B")
        text = "\x00" * 40000  # binary in, hex out: 80,000 characters would not fit
        fields = f"0001FFF{key}{len(text):04X}{text}"
        assert client.exchange("M0", fields) == ("15", "")
        assert client.diagnostics().firmware == "0001-PT00"  # the connection goes on
