"""EMV key derivation, cryptograms, ARPC and secure messaging: pyemv's
HSM-checked published values, and agreement with pyemv on random inputs."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hsm_sim.crypto import emv_ac, emv_kd, emv_sm
from hsm_sim.crypto._cardutil import tdes_ecb

pytestmark = pytest.mark.filterwarnings("ignore:TripleDES has been moved")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pyemv.ac
    import pyemv.cvn
    import pyemv.kd
    import pyemv.sm

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "emv_pyemv_hsm.json").read_text()
)
H = bytes.fromhex


def kcv(key: bytes, n: int) -> str:
    return tdes_ecb(key, bytes(8))[:n].hex().upper()


def check_kcv(key: bytes, expected: str) -> None:
    assert kcv(key, len(expected) // 2) == expected


# --- published values -------------------------------------------------------


@pytest.mark.parametrize("vec", VECTORS["derivation"], ids=lambda v: v["from"])
def test_derivation_ac_and_arpc_vectors(vec: dict[str, Any]) -> None:
    icc_mk = emv_kd.derive_icc_mk(H(vec["imk"]), vec["pan"], vec["psn"], vec["option"])
    if "icc_mk_kcv" in vec:
        check_kcv(icc_mk, vec["icc_mk_kcv"])
    sk = emv_kd.derive_common_sk(icc_mk, H(vec["r"]))
    check_kcv(sk, vec["sk_kcv"])
    ac = emv_ac.generate_ac(sk, H(vec["data"]), vec["padding"])
    assert ac.hex().upper() == vec["ac"]
    assert emv_ac.verify_ac(sk, H(vec["data"]), ac, vec["padding"])
    if "arpc1_icc_mk" in vec:
        arpc = emv_ac.arpc_method_1(icc_mk, ac, H(vec["arpc1_icc_mk"]["arc"]))
        assert arpc.hex().upper() == vec["arpc1_icc_mk"]["arpc"]
    if "arpc1_sk" in vec:
        arpc = emv_ac.arpc_method_1(sk, ac, H(vec["arpc1_sk"]["arc"]))
        assert arpc.hex().upper() == vec["arpc1_sk"]["arpc"]
    if "arpc2" in vec:
        m2 = vec["arpc2"]
        arpc = emv_ac.arpc_method_2(sk, ac, H(m2["csu"]), H(m2["prop"]))
        assert arpc.hex().upper() == m2["arpc"]


@pytest.mark.parametrize("vec", VECTORS["cvn"], ids=lambda v: f"cvn{v['cvn']}")
def test_visa_cvn_vectors(vec: dict[str, Any]) -> None:
    cvn, pan, psn = vec["cvn"], vec["pan"], vec["psn"]
    tags = {t: H(v) for t, v in vec["tags"].items()}
    atc = tags["9F36"]
    data = emv_ac.visa_ac_data(cvn, tags)
    out = emv_ac.generate_arqc(H(vec["imk_ac"]), pan, psn, atc, data, cvn)
    check_kcv(out["icc_mk"], vec["icc_mk_ac_kcv"])
    check_kcv(out["session_key"], vec["session_key_kcv"])
    assert out["arqc"].hex().upper() == vec["arqc"]

    resp = vec["arpc"]
    arpc = emv_ac.verify_arqc_and_respond(
        H(vec["imk_ac"]),
        pan,
        psn,
        atc,
        data,
        out["arqc"],
        cvn,
        arc=H(resp.get("arc", "3030")),
        csu=H(resp.get("csu", "00000000")),
        prop_data=H(resp.get("prop", "")),
    )
    assert arpc is not None and arpc.hex().upper() == resp["arpc"]
    assert emv_ac.profile(cvn)["arpc_method"] == resp["method"]

    option = emv_ac.profile(cvn)["option"]
    mk_smi = emv_kd.derive_icc_mk(H(vec["imk_smi"]), pan, psn, option)
    mk_smc = emv_kd.derive_icc_mk(H(vec["imk_smc"]), pan, psn, option)
    check_kcv(mk_smi, vec["icc_mk_smi_kcv"])
    check_kcv(mk_smc, vec["icc_mk_smc_kcv"])
    sm = vec["sm"]
    sk_smi = emv_kd.visa_sm_session_key(mk_smi, atc)
    check_kcv(sk_smi, sm["smi_kcv"])
    check_kcv(emv_kd.visa_sm_session_key(mk_smc, atc), sm["smc_kcv"])
    mac_data = emv_sm.visa_mac_data(H(sm["unblock_header"]), atc, out["arqc"])
    assert emv_sm.command_mac(sk_smi, mac_data).hex().upper() == sm["unblock_mac"]
    cmd = emv_sm.visa_pin_change_command(
        out["icc_mk"], mk_smi, mk_smc, atc, out["arqc"], sm["new_pin"]
    )
    assert cmd.hex().upper() == sm["pin_change"]
    cmd = emv_sm.visa_pin_change_command(
        out["icc_mk"], mk_smi, mk_smc, atc, out["arqc"], sm["new_pin"], "8888"
    )
    assert cmd.hex().upper() == sm["pin_change_current_8888"]


@pytest.mark.parametrize("vec", VECTORS["mastercard_skd"], ids=lambda v: v["sk_kcv"])
def test_mastercard_skd_vector(vec: dict[str, Any]) -> None:
    icc_mk = emv_kd.derive_icc_mk_a(H(vec["imk"]), vec["pan"], vec["psn"])
    check_kcv(icc_mk, vec["icc_mk_kcv"])
    sk = emv_kd.mastercard_session_key(icc_mk, H(vec["atc"]), H(vec["un"]))
    check_kcv(sk, vec["sk_kcv"])
    data = b"".join(H(vec["tags"][t]) for t in vec["data_order"])
    ac = emv_ac.generate_ac(sk, data, emv_ac.PADDING_EMV)
    assert ac.hex().upper() == vec["ac"]
    assert emv_ac.arpc_method_1(sk, ac, H(vec["arc"])).hex().upper() == vec["arpc"]


@pytest.mark.parametrize("vec", VECTORS["secure_messaging"], ids=lambda v: v["from"])
def test_secure_messaging_vectors(vec: dict[str, Any]) -> None:
    pan, psn = vec["pan"], vec["psn"]
    mk_smi = emv_kd.derive_icc_mk_a(H(vec["imk_smi"]), pan, psn)
    if "icc_mk_smi_kcv" in vec:
        check_kcv(mk_smi, vec["icc_mk_smi_kcv"])
    if "mac_data" in vec:  # MAC-only vector
        sk_smi = emv_kd.derive_common_sk(mk_smi, H(vec["r"]))
        check_kcv(sk_smi, vec["sk_smi_kcv"])
        assert emv_sm.command_mac(sk_smi, H(vec["mac_data"])).hex().upper() == vec["mac"]
        return
    mk_smc = emv_kd.derive_icc_mk_a(H(vec["imk_smc"]), pan, psn)
    if vec["kd"] == "visa":
        sk_smc = emv_kd.visa_sm_session_key(mk_smc, H(vec["atc"]))
        sk_smi = emv_kd.visa_sm_session_key(mk_smi, H(vec["atc"]))
        icc_mk_ac = emv_kd.derive_icc_mk_a(H(vec["imk_ac"]), pan, psn)
        check_kcv(icc_mk_ac, vec["icc_mk_ac_kcv"])
        block = emv_sm.vis_pin_block(icc_mk_ac, vec["pin"], vec.get("current_pin"))
    else:
        sk_smc = emv_kd.derive_common_sk(mk_smc, H(vec["r"]))
        sk_smi = emv_kd.derive_common_sk(mk_smi, H(vec["r"]))
        block = emv_sm.iso_format2_pin_block(vec["pin"])
    check_kcv(sk_smc, vec["sk_smc_kcv"])
    check_kcv(sk_smi, vec["sk_smi_kcv"])
    assert block.hex().upper() == vec["pin_block"]
    enciphered = emv_sm.encrypt_data(sk_smc, block, vec["mode"])
    assert enciphered.hex().upper() == vec["enciphered"]
    assert emv_sm.decrypt_data(sk_smc, enciphered, vec["mode"]) == block
    mac = emv_sm.command_mac(sk_smi, H(vec["header"]) + enciphered)
    assert mac.hex().upper() == vec["mac"]


# --- agreement with pyemv on random inputs ----------------------------------

keys16 = st.binary(min_size=16, max_size=16)
pans = st.text("0123456789", min_size=12, max_size=19)
psns = st.text("0123456789", min_size=2, max_size=2)
atcs = st.binary(min_size=2, max_size=2)


@given(imk=keys16, pan=pans, psn=psns, r=st.binary(min_size=8, max_size=8), atc=atcs)
def test_key_derivation_agrees_with_pyemv(
    imk: bytes, pan: str, psn: str, r: bytes, atc: bytes
) -> None:
    mk_a = emv_kd.derive_icc_mk_a(imk, pan, psn)
    assert mk_a == pyemv.kd.derive_icc_mk_a(imk, pan, psn)
    mk_b = emv_kd.derive_icc_mk_b(imk, pan, psn)
    assert mk_b == pyemv.kd.derive_icc_mk_b(imk, pan, psn)
    assert emv_kd.derive_common_sk(mk_a, r) == pyemv.kd.derive_common_sk(mk_a, r)
    assert emv_kd.visa_sm_session_key(mk_b, atc) == pyemv.kd.derive_visa_sm_sk(mk_b, atc)


@given(
    key=keys16,
    data=st.binary(min_size=1, max_size=64),
    arc=st.binary(min_size=2, max_size=2),
    csu=st.binary(min_size=4, max_size=4),
    prop=st.binary(max_size=8),
)
def test_ac_and_arpc_agree_with_pyemv(
    key: bytes, data: bytes, arc: bytes, csu: bytes, prop: bytes
) -> None:
    emv = emv_ac.generate_ac(key, data, emv_ac.PADDING_EMV)
    assert emv == pyemv.ac.generate_ac(key, data, pyemv.ac.PaddingType.EMV)
    visa = emv_ac.generate_ac(key, data, emv_ac.PADDING_VISA)
    assert visa == pyemv.ac.generate_ac(key, data, pyemv.ac.PaddingType.VISA)
    assert emv_ac.arpc_method_1(key, emv, arc) == pyemv.ac.generate_arpc_1(key, emv, arc)
    assert emv_ac.arpc_method_2(key, emv, csu, prop) == pyemv.ac.generate_arpc_2(
        key, emv, csu, prop
    )


MODES = {
    "emv": pyemv.sm.EncryptionType.EMV,
    "mastercard": pyemv.sm.EncryptionType.MASTERCARD,
    "visa": pyemv.sm.EncryptionType.VISA,
}


@given(
    key=keys16,
    data=st.binary(min_size=1, max_size=40),
    mode=st.sampled_from(sorted(MODES)),
    length=st.integers(4, 8),
)
def test_secure_messaging_agrees_with_pyemv(
    key: bytes, data: bytes, mode: str, length: int
) -> None:
    enciphered = emv_sm.encrypt_data(key, data, mode)
    assert enciphered == pyemv.sm.encrypt_command_data(key, data, MODES[mode])
    assert emv_sm.decrypt_data(key, enciphered, mode, len(data)) == data
    if mode != "mastercard":
        assert emv_sm.decrypt_data(key, enciphered, mode) == data
    mac = emv_sm.command_mac(key, data, length)
    assert mac == pyemv.sm.generate_command_mac(key, data, length)


@given(
    key=keys16,
    pin=st.text("0123456789", min_size=4, max_size=12),
    current=st.none() | st.text("0123456789", min_size=4, max_size=12),
)
def test_vis_pin_block_agrees_with_pyemv(key: bytes, pin: str, current: str | None) -> None:
    assert emv_sm.vis_pin_block(key, pin, current) == pyemv.sm.format_vis_pin_block(
        key, pin, current
    )


TAG_ORDER = [t for t, _ in emv_ac.VISA_AC_TAGS]
tag_values = st.fixed_dictionaries(
    {t: st.binary(min_size=n, max_size=n) for t, n in emv_ac.VISA_AC_TAGS}
)


def _pyemv_tags(tags: dict[str, bytes]) -> dict[str, bytes]:
    return {"tag_" + t.lower(): tags[t] for t in TAG_ORDER}


@given(
    imk=keys16,
    pan=pans,
    psn=psns,
    tags=tag_values,
    cvr=st.binary(min_size=4, max_size=4),
    iad_tail=st.binary(max_size=25),
    csu=st.binary(min_size=4, max_size=4),
    cvn=st.sampled_from([10, 18, 22]),
)
def test_visa_cvns_agree_with_pyemv(
    imk: bytes,
    pan: str,
    psn: str,
    tags: dict[str, bytes],
    cvr: bytes,
    iad_tail: bytes,
    csu: bytes,
    cvn: int,
) -> None:
    iad = bytes([6, 1, cvn]) + cvr + iad_tail
    atc = tags["9F36"]
    data = emv_ac.visa_ac_data(cvn, {**tags, "9F10": iad})
    out = emv_ac.generate_arqc(imk, pan, psn, atc, data, cvn)
    card = getattr(pyemv.cvn, f"VisaCVN{cvn}")(imk, imk, imk, pan, psn)
    if cvn == 10:
        expected = card.generate_ac(**_pyemv_tags(tags), cvr=cvr)
        arpc = card.generate_arpc(expected, b"00")
    else:
        expected = card.generate_ac(**_pyemv_tags(tags), tag_9f10=iad)
        arpc = card.generate_arpc(expected, atc, csu)
    assert out["arqc"] == expected
    assert out["icc_mk"] == card.icc_mk_ac
    got = emv_ac.verify_arqc_and_respond(imk, pan, psn, atc, data, expected, cvn, csu=csu)
    assert got == arpc


@given(
    imk=keys16,
    pan=pans,
    psn=psns,
    tags=tag_values,
    cvr=st.binary(min_size=6, max_size=6),
    counters=st.binary(min_size=8, max_size=8),
    arc=st.binary(min_size=2, max_size=2),
    cvn=st.sampled_from([16, 17, 20, 21]),
)
def test_mastercard_cvns_agree_with_pyemv(
    imk: bytes,
    pan: str,
    psn: str,
    tags: dict[str, bytes],
    cvr: bytes,
    counters: bytes,
    arc: bytes,
    cvn: int,
) -> None:
    extra = {"cvr": cvr} if cvn in (16, 20) else {"cvr": cvr, "counters": counters}
    data = b"".join(tags[t] for t in TAG_ORDER) + b"".join(extra.values())
    atc, un = tags["9F36"], tags["9F37"]
    card = getattr(pyemv.cvn, f"MasterCardCVN{cvn}")(imk, imk, imk, pan, psn)
    expected = card.generate_ac(**_pyemv_tags(tags), **extra)
    out = emv_ac.generate_arqc(imk, pan, psn, atc, data, cvn, un=un)
    assert out["arqc"] == expected
    arpc = (
        card.generate_arpc(expected, arc)
        if cvn in (16, 17)
        else card.generate_arpc(expected, atc, arc)
    )
    got = emv_ac.verify_arqc_and_respond(imk, pan, psn, atc, data, expected, cvn, arc=arc, un=un)
    assert got == arpc


# --- behaviour ---------------------------------------------------------------


def test_wrong_arqc_gets_no_arpc() -> None:
    vec = VECTORS["cvn"][1]
    tags = {t: H(v) for t, v in vec["tags"].items()}
    data = emv_ac.visa_ac_data(18, tags)
    imk, atc = H(vec["imk_ac"]), tags["9F36"]
    good = H(vec["arqc"])
    bad = bytes([good[0] ^ 1]) + good[1:]
    assert emv_ac.verify_arqc_and_respond(imk, "1234567890123456", "00", atc, data, bad, 18) is None
    tampered = data[:-1] + bytes([data[-1] ^ 0x80])
    session_key = emv_ac.generate_arqc(imk, "1234567890123456", "00", atc, data, 18)["session_key"]
    assert emv_ac.verify_ac(session_key, data, good)
    assert not emv_ac.verify_ac(session_key, tampered, good)


def test_option_b_equals_option_a_up_to_16_digits_and_differs_beyond() -> None:
    imk = H("0123456789ABCDEFFEDCBA9876543210")
    assert emv_kd.derive_icc_mk_b(imk, "1234567890123456", "01") == emv_kd.derive_icc_mk_a(
        imk, "1234567890123456", "01"
    )
    assert emv_kd.derive_icc_mk_b(imk, "12345678901234567", "01") != emv_kd.derive_icc_mk_a(
        imk, "12345678901234567", "01"
    )


def test_derived_keys_have_odd_parity() -> None:
    mk = emv_kd.derive_icc_mk_a(H("0123456789ABCDEFFEDCBA9876543210"), "4111111111111111")
    for key in (
        mk,
        emv_kd.ac_session_key(mk, b"\x00\x01"),
        emv_kd.visa_sm_session_key(mk, b"\x00\x01"),
    ):
        assert all(bin(b).count("1") % 2 == 1 for b in key)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: emv_kd.derive_icc_mk_a(bytes(8), "4111111111111111"), "16-byte"),
        (lambda: emv_kd.derive_icc_mk_a(bytes(16), "41111111111111112222"), "PAN"),
        (lambda: emv_kd.derive_icc_mk_a(bytes(16), "4111111111111111", "1"), "sequence"),
        (lambda: emv_kd.derive_icc_mk(bytes(16), "4111111111111111", "00", "c"), "option"),
        (lambda: emv_kd.derive_common_sk(bytes(16), bytes(7)), "8 bytes"),
        (lambda: emv_kd.ac_session_key(bytes(16), bytes(3)), "ATC"),
        (lambda: emv_kd.mastercard_session_key(bytes(16), bytes(2), bytes(3)), "unpredictable"),
        (lambda: emv_ac.profile(99), "unsupported CVN"),
        (lambda: emv_ac.generate_ac(bytes(16), b"x", 3), "padding"),
        (lambda: emv_ac.arpc_method_1(bytes(16), bytes(8), bytes(3)), "ARC"),
        (lambda: emv_ac.arpc_method_2(bytes(16), bytes(8), bytes(3)), "CSU"),
        (lambda: emv_ac.arpc_method_2(bytes(16), bytes(8), bytes(4), bytes(9)), "0 to 8"),
        (
            lambda: emv_ac.ac_keys(bytes(16), "4111111111111111", "00", bytes(2), 16),
            "unpredictable",
        ),
        (lambda: emv_ac.visa_ac_data(10, {}), "9F02"),
        (lambda: emv_ac.visa_ac_data(16, {}), "not a Visa"),
        (lambda: emv_sm.encrypt_data(bytes(16), b"x", "aes"), "mode"),
        (lambda: emv_sm.command_mac(bytes(16), b"x", 3), "4 to 8"),
        (lambda: emv_sm.vis_pin_block(bytes(16), "123"), "PIN"),
        (lambda: emv_sm.decrypt_data(bytes(16), bytes(7)), "multiple of 8"),
    ],
)
def test_bad_input_is_a_value_error(call: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_mastercard_mode_aligned_data_ending_like_padding_needs_the_length() -> None:
    key = H("0123456789ABCDEFFEDCBA9876543210")
    data = b"\x11" * 6 + b"\x80\x00"  # aligned: sent unpadded
    enciphered = emv_sm.encrypt_data(key, data, "mastercard")
    assert len(enciphered) == 8
    assert emv_sm.decrypt_data(key, enciphered, "mastercard", length=8) == data
    assert emv_sm.decrypt_data(key, enciphered, "mastercard") == data[:6]  # the ambiguity
    with pytest.raises(ValueError, match="padding"):
        emv_sm.decrypt_data(key, emv_sm.encrypt_data(key, data, "emv"), "emv", length=7)
