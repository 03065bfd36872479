"""Key management commands over TCP: A0, A6, A8, A4, BU, LA; key block,
parity, usage and export errors.  Every key the HSM returns is unwrapped
here with the published test LMK, independently of the server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hsm_support import RunningHsm, lmk_block, running_hsm, tdes_key, unwrap_lmk

from hsm_sim.client import HsmClient, HsmError
from hsm_sim.crypto import keys, tr31


@pytest.fixture(scope="module")
def hsm() -> Iterator[RunningHsm]:
    with running_hsm() as running:
        yield running


@pytest.fixture
def client(hsm: RunningHsm) -> Iterator[HsmClient]:
    with HsmClient(hsm.host, hsm.port) as c:
        yield c


ZMK_TDES = tdes_key(1)
ZMK_AES = bytes(range(32))


@pytest.mark.parametrize(
    ("alg", "length", "tr31_alg"),
    [("T2", 16, "T"), ("T3", 24, "T"), ("A1", 16, "A"), ("A2", 24, "A"), ("A3", 32, "A")],
)
def test_a0_generates_a_key_block_under_the_lmk(
    client: HsmClient, alg: str, length: int, tr31_alg: str
) -> None:
    result = client.generate_key("D0", alg, "B", "07", "S")
    header, key = unwrap_lmk(result.key)
    assert (header.key_usage, header.algorithm, header.mode_of_use) == ("D0", tr31_alg, "B")
    assert (header.key_version, header.exportability) == ("07", "S")
    assert len(key) == length
    if tr31_alg == "T":
        assert keys.has_odd_parity(key)
    assert result.kcv == keys.kcv(key, "aes" if tr31_alg == "A" else "tdes").hex().upper()
    assert client.generate_key("D0", alg, "B").key != result.key  # random keys


@pytest.mark.parametrize(("zmk", "version"), [(ZMK_TDES, "B"), (ZMK_AES, "D")])
def test_a0_mode_1_also_returns_the_key_under_the_zmk(
    client: HsmClient, zmk: bytes, version: str
) -> None:
    alg = "T" if len(zmk) == 16 else "A"
    zmk_block = lmk_block("K0", zmk, alg, "B")
    result = client.generate_key("P0", "T2", "B", zmk=zmk_block)
    assert result.exported is not None
    _h, under_lmk = unwrap_lmk(result.key)
    header, under_zmk = tr31.unwrap(zmk, result.exported[1:])
    assert header.version == version
    assert under_zmk == under_lmk


def test_a6_imports_a_key_under_a_zmk(client: HsmClient) -> None:
    key = tdes_key(9)
    for zmk, version in ((ZMK_TDES, "B"), (ZMK_AES, "D")):
        alg = "T" if len(zmk) == 16 else "A"
        zmk_block = lmk_block("K0", zmk, alg, "B")
        under_zmk = tr31.wrap(zmk, tr31.Header(version, "P0", "T", "B", "00", "E"), key)
        result = client.import_key(zmk_block, under_zmk)
        header, imported = unwrap_lmk(result.key)
        assert imported == key
        assert header.key_usage == "P0"
        assert result.kcv == keys.kcv_tdes(key).hex().upper()


def test_a6_refuses_a_block_under_another_zmk_and_a_zmk_of_the_wrong_usage(
    client: HsmClient,
) -> None:
    under_other = tr31.wrap(tdes_key(2), tr31.Header("B", "P0", "T", "B", "00", "E"), tdes_key(9))
    with pytest.raises(HsmError) as info:
        client.import_key(lmk_block("K0", ZMK_TDES), under_other)
    assert info.value.code == "A4"
    with pytest.raises(HsmError) as info:
        client.import_key(lmk_block("P0", ZMK_TDES), under_other)
    assert info.value.code == "A6"
    uneven = bytes(16)  # even parity in every byte
    under_zmk = tr31.wrap(ZMK_TDES, tr31.Header("B", "P0", "T", "B", "00", "E"), uneven)
    with pytest.raises(HsmError) as info:
        client.import_key(lmk_block("K0", ZMK_TDES), under_zmk)
    assert info.value.code == "11"


def test_a8_exports_under_a_zmk_and_honours_exportability(client: HsmClient) -> None:
    key = tdes_key(4)
    zmk_block = lmk_block("K0", ZMK_TDES, mode="E")
    result = client.export_key(zmk_block, lmk_block("P0", key, export="E"))
    header, exported = tr31.unwrap(ZMK_TDES, result.key[1:])
    assert exported == key
    assert header.key_usage == "P0"
    with pytest.raises(HsmError) as info:
        client.export_key(zmk_block, lmk_block("P0", key, export="N"))
    assert info.value.code == "29"
    aes_key = bytes(range(16))
    with pytest.raises(HsmError) as info:  # an AES key cannot go under a TDES ZMK
        client.export_key(zmk_block, lmk_block("D0", aes_key, "A"))
    assert info.value.code == "27"
    with pytest.raises(HsmError) as info:  # a decrypt-only KEK cannot wrap
        client.export_key(lmk_block("K0", ZMK_TDES, mode="D"), lmk_block("P0", key))
    assert info.value.code == "A8"


def test_a4_forms_a_key_from_components(client: HsmClient) -> None:
    parts = [tdes_key(10), tdes_key(11), tdes_key(12)]
    blocks = [lmk_block("K0", p, mode="B", version=f"c{i + 1}") for i, p in enumerate(parts)]
    result = client.form_key(blocks)
    header, key = unwrap_lmk(result.key)
    expected = keys.adjust_parity(bytes(a ^ b ^ c for a, b, c in zip(*parts, strict=True)))
    assert key == expected
    assert header.key_version == "00"
    assert result.kcv == keys.kcv_tdes(expected).hex().upper()
    with pytest.raises(HsmError) as info:  # not marked as components
        client.form_key([lmk_block("K0", p) for p in parts[:2]])
    assert info.value.code == "A9"
    with pytest.raises(HsmError) as info:  # different usages
        client.form_key([blocks[0], lmk_block("P0", parts[1], version="c2")])
    assert info.value.code == "27"


def test_bu_key_check_values(client: HsmClient) -> None:
    tdes = tdes_key(5)
    aes_key = bytes(range(100, 132))
    assert client.key_check_value(lmk_block("P0", tdes)) == keys.kcv_tdes(tdes).hex().upper()
    aes_kcv = client.key_check_value(lmk_block("D0", aes_key, "A"))
    assert aes_kcv == keys.kcv_aes(aes_key).hex().upper()
    # the X9.24-1 example key and its published KCV
    published = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    assert client.key_check_value(lmk_block("B0", published)) == "08D7B4"


def test_key_block_errors(client: HsmClient) -> None:
    good = lmk_block("P0", tdes_key(6))
    tampered = good[:-1] + ("0" if good[-1] != "0" else "1")
    with pytest.raises(HsmError) as info:
        client.key_check_value(tampered)
    assert info.value.code == "A4"
    other_lmk = "S" + tr31.wrap(bytes(32), tr31.Header("D", "P0", "T", "N", "00", "E"), tdes_key(6))
    with pytest.raises(HsmError) as info:
        client.key_check_value(other_lmk)
    assert info.value.code == "A4"
    with pytest.raises(HsmError) as info:
        client.key_check_value("S" + "D0016P0TN00E0000")  # header only
    assert info.value.code == "B2"
    with pytest.raises(HsmError) as info:
        client.key_check_value(lmk_block("P0", bytes(16)))  # even parity
    assert info.value.code == "10"


def test_la_stores_a_key_that_later_commands_name_by_label(client: HsmClient) -> None:
    key = tdes_key(7)
    kcv = client.store_key("Z01", lmk_block("P0", key))
    assert kcv == keys.kcv_tdes(key).hex().upper()
    assert client.key_check_value("KZ01") == kcv
    with pytest.raises(HsmError) as info:
        client.key_check_value("KZ99")
    assert info.value.code == "12"
    with pytest.raises(HsmError) as info:
        block = lmk_block("P0", key)
        client.store_key("Z02", block[:-1] + ("0" if block[-1] != "0" else "1"))
    assert info.value.code == "A4"
