"""CVV (CW/CY) and EMV (KQ) over TCP, against psec and pyemv, with the
virtual cards' TEST issuer keys imported under a ZMK."""

from __future__ import annotations

from collections.abc import Iterator

import psec.cvv
import pyemv.ac
import pyemv.kd
import pytest
from hsm_support import RunningHsm, lmk_block, running_hsm, tdes_key

from host_sim.cards import issuer_master_keys
from hsm_sim.client import HsmClient, HsmError, req_kq
from hsm_sim.testkeys import import_issuer_keys

ZMK = tdes_key(40)
PAN = "4761739001010010"
PSN = "01"
ATC = bytes.fromhex("0042")
UN = bytes.fromhex("1A2B3C4D")
DATA = bytes.fromhex("000000001000000000000000084000000000000840231122003C0D2E1F5800001E0300")


@pytest.fixture(scope="module")
def hsm() -> Iterator[RunningHsm]:
    with running_hsm() as running:
        yield running


@pytest.fixture
def client(hsm: RunningHsm) -> Iterator[HsmClient]:
    with HsmClient(hsm.host, hsm.port) as c:
        yield c


@pytest.fixture
def issuer(client: HsmClient) -> dict[str, str]:
    return import_issuer_keys(client, "payterm-test-visa", ZMK, lmk_block("K0", ZMK, mode="B"))


def test_cw_cy_cvv_cvv2_icvv(client: HsmClient) -> None:
    cvk_value = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    cvk = lmk_block("C0", cvk_value)
    for expiry, service in (("2612", "101"), ("2612", "000"), ("3001", "999")):
        expected = psec.cvv.generate_cvv(cvk_value, PAN, expiry, service)
        assert client.generate_cvv(cvk, PAN, expiry, service) == expected
        assert client.verify_cvv(cvk, expected, PAN, expiry, service)
        wrong = str((int(expected) + 1) % 1000).zfill(3)
        assert not client.verify_cvv(cvk, wrong, PAN, expiry, service)
    with pytest.raises(HsmError) as info:  # generate-only key cannot verify
        client.verify_cvv(lmk_block("C0", cvk_value, mode="G"), "123", PAN, "2612", "101")
    assert info.value.code == "A8"
    with pytest.raises(HsmError) as info:
        client.generate_cvv(cvk, "12AB", "2612", "101")
    assert info.value.code == "15"


def test_issuer_keys_import_with_their_published_kcvs(
    client: HsmClient, issuer: dict[str, str]
) -> None:
    assert client.key_check_value(issuer["ac"]) == "28B9FD"  # issuer_keys.json
    assert client.key_check_value(issuer["smi"]) == "832FED"
    assert client.key_check_value(issuer["smc"]) == "69F313"


def test_kq_cvn18_verifies_the_arqc_and_makes_an_arpc_method_2(
    client: HsmClient, issuer: dict[str, str]
) -> None:
    imk = issuer_master_keys("payterm-test-visa")["ac"]
    icc_mk = pyemv.kd.derive_icc_mk_a(imk, PAN, PSN)
    sk = pyemv.kd.derive_common_sk(icc_mk, ATC + bytes(6))
    arqc = pyemv.ac.generate_ac(sk, DATA, pyemv.ac.PaddingType.EMV)
    csu = bytes.fromhex("00820000")
    arpc = client.verify_arqc(18, issuer["ac"], PAN, PSN, ATC, UN, DATA, arqc, csu=csu)
    assert arpc == pyemv.ac.generate_arpc_2(sk, arqc, csu)
    assert client.verify_arqc(18, issuer["ac"], PAN, PSN, ATC, UN, DATA, arqc) == b""
    bad = bytes([arqc[0] ^ 1]) + arqc[1:]
    assert client.verify_arqc(18, issuer["ac"], PAN, PSN, ATC, UN, DATA, bad, csu=csu) is None
    prop = bytes.fromhex("0102")
    arpc_p = client.verify_arqc(
        18, issuer["ac"], PAN, PSN, ATC, UN, DATA, arqc, csu=csu, prop_data=prop
    )
    assert arpc_p == pyemv.ac.generate_arpc_2(sk, arqc, csu, prop)


def test_kq_cvn10_method_1_with_the_icc_master_key(
    client: HsmClient, issuer: dict[str, str]
) -> None:
    imk = issuer_master_keys("payterm-test-visa")["ac"]
    icc_mk = pyemv.kd.derive_icc_mk_a(imk, PAN, PSN)
    data = DATA[:-3]  # CVN 10 MACs the CVR, zero-padded (Visa padding)
    arqc = pyemv.ac.generate_ac(icc_mk, data, pyemv.ac.PaddingType.VISA)
    arc = b"00"
    arpc = client.verify_arqc(10, issuer["ac"], PAN, PSN, ATC, UN, data, arqc, arc=arc)
    assert arpc == pyemv.ac.generate_arpc_1(icc_mk, arqc, arc)


def test_kq_mode_2_arpc_only_and_errors(client: HsmClient, issuer: dict[str, str]) -> None:
    imk = issuer_master_keys("payterm-test-visa")["ac"]
    icc_mk = pyemv.kd.derive_icc_mk_a(imk, PAN, PSN)
    sk = pyemv.kd.derive_common_sk(icc_mk, ATC + bytes(6))
    arqc = bytes(8)  # not verified in mode 2
    csu = bytes(4)
    fields = req_kq(2, 18, issuer["ac"], PAN, PSN, ATC, UN, DATA, arqc, csu=csu)
    error, out = client.exchange("KQ", fields)
    assert (error, bytes.fromhex(out)) == ("00", pyemv.ac.generate_arpc_2(sk, arqc, csu))
    # the SMI key is not an application cryptogram key
    fields = req_kq(0, 18, issuer["smi"], PAN, PSN, ATC, UN, DATA, arqc)
    assert client.exchange("KQ", fields)[0] == "A6"
    fields = req_kq(0, 99, issuer["ac"], PAN, PSN, ATC, UN, DATA, arqc)
    assert client.exchange("KQ", fields)[0] == "15"
    fields = req_kq(0, 18, issuer["ac"], PAN, PSN, ATC, UN, DATA, arqc)
    assert client.exchange("KQ", fields[:-4])[0] == "15"  # ARQC cut short


def test_kq_mastercard_cvn16_session_key_uses_the_unpredictable_number(
    client: HsmClient,
) -> None:
    imk = issuer_master_keys("payterm-test-mc")["ac"]
    issuer_mc = import_issuer_keys(client, "payterm-test-mc", ZMK, lmk_block("K0", ZMK, mode="B"))
    pan = "5413330089010012"
    icc_mk = pyemv.kd.derive_icc_mk_a(imk, pan, "00")
    for un in (UN, bytes.fromhex("CAFEBABE")):
        sk = pyemv.kd.derive_common_sk(icc_mk, ATC + b"\x00\x00" + un)
        arqc = pyemv.ac.generate_ac(sk, DATA, pyemv.ac.PaddingType.EMV)
        arc = b"\x00\x10"
        arpc = client.verify_arqc(16, issuer_mc["ac"], pan, "00", ATC, un, DATA, arqc, arc=arc)
        assert arpc == pyemv.ac.generate_arpc_1(icc_mk, arqc, arc)
        other_un = bytes(4)
        assert client.verify_arqc(16, issuer_mc["ac"], pan, "00", ATC, other_un, DATA, arqc) is None
