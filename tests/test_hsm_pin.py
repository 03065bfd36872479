"""PIN commands over TCP: CA, CC, CI and G0 (TDES and AES DUKPT), EA/DA
(IBM 3624 offset), EC/DC (Visa PVV), and their errors.  Expected values come
from psec, from the published X9.24 vectors and from the terminal-side AES
DUKPT originator — never from the server's own code path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psec.des
import psec.pin
import psec.pinblock
import pytest
from hsm_support import RunningHsm, lmk_block, running_hsm, tdes_key

from hsm_sim.client import HsmClient, HsmError, req_translate
from hsm_sim.crypto.aes import AesBlock
from protocols.crypto import aes_dukpt

VECTORS = Path(__file__).parent / "vectors"
PAN = "4012345678909"
ACCOUNT12 = PAN[:-1][-12:]
PIN = "1234"
TPK = tdes_key(21)
ZPK = tdes_key(22)
ZPK2 = tdes_key(23)
ZPK_AES = bytes(range(0x40, 0x50))


@pytest.fixture(scope="module")
def hsm() -> Iterator[RunningHsm]:
    with running_hsm() as running:
        yield running


@pytest.fixture
def client(hsm: RunningHsm) -> Iterator[HsmClient]:
    with HsmClient(hsm.host, hsm.port) as c:
        yield c


def _iso0(key: bytes, pin: str = PIN, pan: str = PAN) -> bytes:
    return psec.des.encrypt_tdes_ecb(key, psec.pinblock.encode_pinblock_iso_0(pin, pan))


def _pin_of_iso0(key: bytes, block: bytes, pan: str = PAN) -> str:
    return psec.pinblock.decode_pinblock_iso_0(psec.des.decrypt_tdes_ecb(key, block), pan)


def test_ca_translates_tpk_to_zpk_format_0(client: HsmClient) -> None:
    result = client.translate_pin_tpk(
        lmk_block("P0", TPK, mode="D"), lmk_block("P0", ZPK, mode="E"), _iso0(TPK), 0, 0, ACCOUNT12
    )
    assert result.pin_length == 4
    assert result.format_code == "01"
    assert _pin_of_iso0(ZPK, result.pin_block) == PIN


def test_ca_to_format_3_and_to_aes_format_4(client: HsmClient) -> None:
    tpk = lmk_block("P0", TPK)
    out3 = client.translate_pin_tpk(tpk, lmk_block("P0", ZPK), _iso0(TPK, "987654"), 0, 3, PAN)
    clear = psec.des.decrypt_tdes_ecb(ZPK, out3.pin_block)
    assert psec.pinblock.decode_pinblock_iso_3(clear, PAN) == "987654"
    out4 = client.translate_pin_tpk(tpk, lmk_block("P0", ZPK_AES, "A"), _iso0(TPK), 0, 4, PAN)
    assert out4.format_code == "48"
    assert len(out4.pin_block) == 16
    assert psec.pinblock.decipher_pinblock_iso_4(ZPK_AES, out4.pin_block, PAN) == PIN


def test_cc_translates_zpk_to_zpk_including_aes_format_4(client: HsmClient) -> None:
    out = client.translate_pin_zpk(
        lmk_block("P0", ZPK), lmk_block("P0", ZPK2), _iso0(ZPK, "55555"), 0, 0, ACCOUNT12
    )
    assert _pin_of_iso0(ZPK2, out.pin_block) == "55555"
    block4 = psec.pinblock.encipher_pinblock_iso_4(ZPK_AES, "24680", PAN)
    back = client.translate_pin_zpk(
        lmk_block("P0", ZPK_AES, "A"), lmk_block("P0", ZPK), block4, 4, 0, PAN
    )
    assert back.pin_length == 5
    assert _pin_of_iso0(ZPK, back.pin_block) == "24680"


def test_pin_translation_errors(client: HsmClient) -> None:
    tpk, zpk = lmk_block("P0", TPK), lmk_block("P0", ZPK)

    def code(fields: str, command: str = "CA") -> str:
        return client.exchange(command, fields)[0]

    good = _iso0(TPK)
    assert code(req_translate(tpk, zpk, good, 0, 1, ACCOUNT12)) == "23"  # PAN-bound -> format 1
    assert code(f"{tpk}{zpk}12{good.hex().upper()}9901{ACCOUNT12}") == "23"  # format 99
    assert code(req_translate(tpk, zpk, bytes(8), 0, 0, ACCOUNT12)) == "20"  # garbage block
    assert code(req_translate(tpk, zpk, good, 0, 0, "12345")) == "22"  # short account
    assert code(req_translate(tpk, zpk, good, 0, 4, ACCOUNT12)) == "A7"  # format 4, TDES ZPK
    assert code(req_translate(tpk, zpk, good, 0, 0, ACCOUNT12, max_pin=4)) == "00"
    six = _iso0(TPK, "123456")
    assert code(req_translate(tpk, zpk, six, 0, 0, ACCOUNT12, max_pin=4)) == "24"
    pvk = lmk_block("V1", TPK)
    assert code(req_translate(pvk, zpk, good, 0, 0, ACCOUNT12)) == "A6"  # PVK is not a TPK
    enc_only = lmk_block("P0", TPK, mode="E")
    assert code(req_translate(enc_only, zpk, good, 0, 0, ACCOUNT12)) == "A8"
    assert code(req_translate(tpk, lmk_block("P0", bytes(16)), good, 0, 0, ACCOUNT12)) == "11"
    assert code(req_translate(lmk_block("P0", bytes(16)), zpk, good, 0, 0, ACCOUNT12)) == "10"


def test_ci_tdes_dukpt_published_vectors(client: HsmClient) -> None:
    vectors = json.loads((VECTORS / "dukpt_tdes_x9_24_1.json").read_text())
    bdk = lmk_block("B0", bytes.fromhex(vectors["bdk"]), mode="X")
    zpk = lmk_block("P0", ZPK)
    for entry in vectors["sequence"][:6]:
        ksn = bytes.fromhex(entry["ksn"])
        block = bytes.fromhex(entry["encrypted_pin_block"])
        out = client.translate_pin_dukpt(bdk, zpk, ksn, block, 0, ACCOUNT12)
        assert _pin_of_iso0(ZPK, out.pin_block) == PIN
        g0 = client.translate_pin_dukpt_g0(bdk, zpk, ksn, 0, block, 0, ACCOUNT12)
        assert _pin_of_iso0(ZPK, g0.pin_block) == PIN


def test_ci_aes_dukpt_published_pin_key_and_terminal_originator(client: HsmClient) -> None:
    bdk_value = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")
    ksn = bytes.fromhex("123456789012345600000001")
    published_pin_key = bytes.fromhex("AF8CB133A78F8DC2D1359F18527593FB")  # X9.24-3 Annex B
    bdk = lmk_block("B0", bdk_value, "A", "X")
    zpk = lmk_block("P0", ZPK_AES, "A")
    block = psec.pinblock.encipher_pinblock_iso_4(published_pin_key, "4321", PAN)
    out = client.translate_pin_dukpt(bdk, zpk, ksn, block, 4, PAN)
    assert psec.pinblock.decipher_pinblock_iso_4(ZPK_AES, out.pin_block, PAN) == "4321"
    # a terminal (the firmware's originating side) running several transactions
    ikid = ksn[:8]
    ik = aes_dukpt.initial_key(AesBlock, bdk_value, ikid)
    terminal = aes_dukpt.Originator(AesBlock, ik, ikid)
    for pin in ("0000", "123456", "987654321012"):
        key = terminal.working_key(aes_dukpt.USAGE_PIN_ENCRYPTION)
        block = psec.pinblock.encipher_pinblock_iso_4(key, pin, PAN)
        out = client.translate_pin_dukpt(bdk, lmk_block("P0", ZPK), terminal.ksn(), block, 0, PAN)
        assert _pin_of_iso0(ZPK, out.pin_block) == pin
        terminal.advance()


def test_dukpt_errors(client: HsmClient) -> None:
    bdk = lmk_block("B0", bytes.fromhex("0123456789ABCDEFFEDCBA9876543210"), mode="X")
    zpk = lmk_block("P0", ZPK)
    ksn0 = bytes.fromhex("FFFF9876543210E00000")  # counter 0: no transaction key
    with pytest.raises(HsmError) as info:
        client.translate_pin_dukpt(bdk, zpk, ksn0, bytes(8), 0, ACCOUNT12)
    assert info.value.code == "15"
    with pytest.raises(HsmError) as info:  # a ZPK is not a BDK
        client.translate_pin_dukpt(zpk, zpk, bytes(10), bytes(8), 0, ACCOUNT12)
    assert info.value.code == "A6"
    aes_bdk = lmk_block("B0", bytes(16), "A", "X")
    bad_ksn = bytes.fromhex("1234567890123456FFFFFFFF")  # 32 one-bits: never used
    with pytest.raises(HsmError) as info:
        client.translate_pin_dukpt(aes_bdk, zpk, bad_ksn, bytes(16), 0, PAN)
    assert info.value.code == "15"


def test_ibm_offset_verification(client: HsmClient) -> None:
    pvk_value = tdes_key(30)
    pan = "5432109876543210"
    account = pan[:-1][-12:]
    data = "1234567" + account[-5:]  # what 1234567NNNNN expands to
    table = "0123456789012345"
    pin = "7291"
    offset = psec.pin.generate_ibm3624_offset(pvk_value, table, pin, data, 0, 12, "F")
    pvk = lmk_block("V1", pvk_value)
    for interchange, key in ((True, ZPK), (False, TPK)):
        block = _iso0(key, pin, pan)
        pin_key = lmk_block("P0", key)
        assert client.verify_pin_ibm(
            pin_key, pvk, block, 0, account, offset, "1234567NNNNN", table, interchange
        )
        wrong = _iso0(key, "7292", pan)
        assert not client.verify_pin_ibm(
            pin_key, pvk, wrong, 0, account, offset, "1234567NNNNN", table, interchange
        )
    with pytest.raises(HsmError) as info:  # a PVV key is not an IBM PVK
        client.verify_pin_ibm(
            lmk_block("P0", ZPK), lmk_block("V2", pvk_value), _iso0(ZPK, pin, pan), 0,
            account, offset, data, table,
        )  # fmt: skip
    assert info.value.code == "A6"


def test_visa_pvv_verification(client: HsmClient) -> None:
    pvk_value = tdes_key(31)
    pan = "4761739001010010"
    account = pan[:-1][-12:]
    pvv = psec.pin.generate_visa_pvv(pvk_value, "1", "4096", pan)
    pvk = lmk_block("V2", pvk_value)
    for interchange, key in ((True, ZPK), (False, TPK)):
        pin_key = lmk_block("P0", key)
        block = _iso0(key, "4096", pan)
        assert client.verify_pin_pvv(pin_key, pvk, block, 0, account, "1", pvv, interchange)
        other = str((int(pvv) + 1) % 10000).zfill(4)
        assert not client.verify_pin_pvv(pin_key, pvk, block, 0, account, "1", other, interchange)
