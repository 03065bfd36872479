"""MAC (M6/M8), DUKPT MAC (GW/GY) and data encryption (M0/M2) over TCP,
against psec, cryptography, pycryptodome called directly and the published
X9.24-3 AES DUKPT working keys."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import psec.mac
import pytest
from Crypto.Cipher import AES, DES3
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.cmac import CMAC
from hsm_support import RunningHsm, lmk_block, running_hsm, tdes_key
from hypothesis import given, settings
from hypothesis import strategies as st

from hsm_sim.client import HsmClient, HsmError, req_data, req_dukpt_mac, req_mac
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


# -- GW / GY: AES-CMAC under an AES DUKPT MAC working key (X9.24-3) -----------

DUKPT = json.loads((Path(__file__).parent / "vectors" / "dukpt_aes_x9_24_3.json").read_text())


def _dukpt_case(bits: str) -> tuple[str, bytes, dict[str, str]]:
    """(BDK block, KSN of counter 1, the published counter-1 working keys)."""
    ikid = DUKPT["initial_key_id"]
    if bits == "aes128":
        bdk = DUKPT["aes128"]["bdk"]
        want = DUKPT["aes128"]["all_usages_counter_1"]
    else:
        bdk = DUKPT["aes256"]["bdk"]
        want = DUKPT["aes256"]["working_keys_aes256_counter_1"]
    block = lmk_block("B0", bytes.fromhex(bdk), "A", "X")
    return block, bytes.fromhex(ikid + "00000001"), want


@pytest.mark.parametrize("bits", ["aes128", "aes256"])
def test_gw_gy_mac_under_the_published_dukpt_mac_keys(client: HsmClient, bits: str) -> None:
    """The MAC GW returns is the CMAC under the X9.24-3 supplement's
    counter-1 "MAC generation" working key (and 2001 / 2002 under the
    "verification" / "both ways" keys where the vectors give them)."""
    bdk, ksn, want = _dukpt_case(bits)
    key = bytes.fromhex(want["mac_generation"])
    mac16 = client.generate_dukpt_mac(bdk, ksn, MESSAGE, 16)
    assert mac16 == _cmac(key, MESSAGE, True)
    assert client.generate_dukpt_mac(bdk, ksn, MESSAGE) == mac16[:8]
    assert client.generate_dukpt_mac(bdk, ksn, MESSAGE, 4) == mac16[:4]
    assert client.verify_dukpt_mac(bdk, ksn, MESSAGE, mac16[:8])
    assert not client.verify_dukpt_mac(bdk, ksn, MESSAGE + b"!", mac16[:8])
    other = ksn[:-1] + b"\x02"  # the next KSN: another key
    assert not client.verify_dukpt_mac(bdk, other, MESSAGE, mac16[:8])
    for usage, name in (("verification", "mac_verification"), ("both", "mac_both")):
        if name in want:
            got = client.generate_dukpt_mac(bdk, ksn, MESSAGE, 16, usage)
            assert got == _cmac(bytes.fromhex(want[name]), MESSAGE, True)
            assert got != mac16


def test_gw_binary_input_and_the_counter_sequence(client: HsmClient) -> None:
    """Binary message input gives the hex input's MAC; counters 1..8 use the
    supplement's per-counter MAC generation keys (a counter with 17
    one-bits, which no terminal sends, is refused with 15)."""
    bdk, _ksn, _want = _dukpt_case("aes128")
    for case in DUKPT["aes128"]["working_keys"]:
        ksn = bytes.fromhex(DUKPT["initial_key_id"] + case["counter"])
        want = _cmac(bytes.fromhex(case["mac_generation"]), MESSAGE, True)[:8]
        fields = req_dukpt_mac(bdk, ksn, MESSAGE, 8, binary=True)
        if bin(int(case["counter"], 16)).count("1") > 16:
            assert client.exchange("GW", fields)[0] == "15"
            continue
        assert client.call("GW", fields) == want.hex().upper()
        assert client.generate_dukpt_mac(bdk, ksn, MESSAGE) == want


def test_gw_gy_errors(client: HsmClient) -> None:
    bdk, ksn, _want = _dukpt_case("aes128")
    mac = client.generate_dukpt_mac(bdk, ksn, MESSAGE)
    good = req_dukpt_mac(bdk, ksn, MESSAGE)
    assert client.exchange("GY", good + mac.hex().upper())[0] == "00"
    assert client.exchange("GY", good + "00" * 8)[0] == "01"
    tdes_bdk = lmk_block("B0", tdes_key(70), "T", "X")
    assert client.exchange("GW", req_dukpt_mac(tdes_bdk, ksn, MESSAGE))[0] == "A7"
    mac_key = lmk_block("M6", MAC_AES, "A")
    assert client.exchange("GW", req_dukpt_mac(mac_key, ksn, MESSAGE))[0] == "A6"
    zero = ksn[:8] + bytes(4)  # counter 0 is never used
    assert client.exchange("GW", req_dukpt_mac(bdk, zero, MESSAGE))[0] == "15"
    seventeen = ksn[:8] + bytes.fromhex("0001FFFF")  # 17 one-bits
    assert client.exchange("GW", req_dukpt_mac(bdk, seventeen, MESSAGE))[0] == "15"
    assert client.exchange("GW", good.replace("2000", "3000", 1))[0] == "15"  # not a MAC usage
    assert client.exchange("GW", good[:-3])[0] == "15"  # message cut short
    assert client.exchange("GY", good + mac.hex().upper() + "00")[0] == "15"  # extra


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 0xFFFFFFFF).filter(lambda c: bin(c).count("1") <= 16), st.booleans())
def test_gw_cached_derivation_equals_the_plain_one(counter: int, aes256: bool) -> None:
    """GW/GY derive through a cache of intermediate keys (one step per new
    KSN); the key equals X9.24-3's derivation from the BDK, walked whole."""
    from hsm_sim.commands.mac import dukpt_mac_key
    from hsm_sim.crypto import dukpt_aes
    from protocols.crypto import aes_dukpt

    bdk = bytes(range(32 if aes256 else 16))
    ksn = bytes.fromhex(DUKPT["initial_key_id"]) + counter.to_bytes(4, "big")
    for usage in (aes_dukpt.USAGE_MAC_GENERATION, aes_dukpt.USAGE_MAC_BOTH):
        assert dukpt_mac_key(bdk, ksn, usage) == dukpt_aes.working_key(bdk, ksn, usage)


# -- the HSM's in-memory caches and C-speed paths ------------------------------

_IKIDS = [bytes.fromhex(DUKPT["initial_key_id"]), bytes(range(8)), bytes(range(1, 9))]
_BDKS = [bytes(range(16)), bytes(range(1, 17)), bytes(range(32))]
_USAGES = [0x2000, 0x2001, 0x2002]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(range(len(_BDKS))),
            st.sampled_from(range(len(_IKIDS))),
            st.integers(1, 0xFFFFFFFF).filter(lambda c: bin(c).count("1") <= 16),
            st.sampled_from(_USAGES),
        ),
        min_size=1,
        max_size=12,
    ),
    st.binary(max_size=64),
)
def test_dukpt_caches_never_answer_for_another_bdk_ksn_or_usage(
    calls: list[tuple[int, int, int, int]], message: bytes
) -> None:
    """Interleaved GW/GY work for several BDKs, initial key IDs, counters
    and usages (neighbouring counters share intermediate keys in the cache):
    every cached CMAC key MACs as the key derived from scratch for exactly
    that BDK, KSN and usage, and differs from its neighbours'."""
    from hsm_sim.commands.mac import dukpt_cmac_key, dukpt_mac_key
    from hsm_sim.crypto import aes, dukpt_aes
    from protocols.crypto import aes_dukpt

    seen: dict[tuple[bytes, bytes, int], bytes] = {}
    for b, i, counter, usage in calls + calls[::-1]:
        bdk, ksn = _BDKS[b], _IKIDS[i] + counter.to_bytes(4, "big")
        plain = aes_dukpt.working_key(
            aes.AesBlock, dukpt_aes.initial_key(bdk, _IKIDS[i]), ksn, usage
        )
        assert dukpt_mac_key(bdk, ksn, usage) == plain
        assert dukpt_aes.cached_working_key(bdk, ksn, usage) == plain
        assert dukpt_cmac_key(bdk, ksn, usage).mac(message) == aes.cmac(plain, message)
        seen[(bdk, ksn, usage)] = plain
    # different (BDK, KSN, usage), different key: no entry stood for another
    assert len(set(seen.values())) == len(seen)


def test_dukpt_cache_refuses_an_invalid_ksn_and_caches_nothing() -> None:
    from hsm_sim.commands.mac import dukpt_cmac_key

    bdk = _BDKS[0]
    for counter in (0, 0x0001FFFF):  # counter 0; 17 one-bits
        ksn = _IKIDS[0] + counter.to_bytes(4, "big")
        for _ in range(2):
            with pytest.raises(HsmError) as info:
                dukpt_cmac_key(bdk, ksn, 0x2000)
            assert info.value.code == "15"


@settings(max_examples=100, deadline=None)
@given(key=st.sampled_from([16, 24, 32]).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
       data=st.binary(max_size=80))  # fmt: skip
def test_fast_aes_block_and_cmac_key_equal_pycryptodome(key: bytes, data: bytes) -> None:
    from hsm_sim.crypto import aes

    block = (data + bytes(16))[:16]
    fast, slow = aes.FastAesBlock(key), aes.AesBlock(key)
    assert fast.encrypt_block(block) == slow.encrypt_block(block)
    assert fast.decrypt_block(block) == slow.decrypt_block(block)
    assert aes.AesCmacKey(key).mac(data) == aes.cmac(key, data) == _cmac(key, data, True)
    with pytest.raises(ValueError):
        fast.encrypt_block(block[:15])


@settings(max_examples=200, deadline=None)
@given(
    mk=st.binary(min_size=16, max_size=16),
    r=st.binary(min_size=8, max_size=8),
    blocks=st.binary(min_size=8, max_size=8).map(lambda b: b * 3),
)
def test_fast_tdes_and_session_keys_equal_the_crypto_modules(
    mk: bytes, r: bytes, blocks: bytes
) -> None:
    """KQ's session keys and TDES on ``cryptography`` equal
    ``hsm_sim.crypto`` (pycryptodome), degenerate keys (K1 = K2) included."""
    from hsm_sim.commands.emv import common_session_key
    from hsm_sim.crypto import des, emv_kd

    assert common_session_key(mk, r) == emv_kd.derive_common_sk(mk, r)
    for key in (mk, mk[:8] * 2, mk[:8], mk + mk[:8]):
        assert _fast.tdes_ecb(key, blocks) == des.encrypt_ecb(key, blocks)
    degenerate = mk[:8] * 2  # K = K': algorithm 3 is then single DES CBC-MAC
    assert _fast.retail_mac(degenerate, blocks, 1) == mac.retail_mac(degenerate, blocks, 1)
    with pytest.raises(ValueError):
        _fast.tdes_ecb(mk, blocks[:7])
