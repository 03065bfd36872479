"""DUKPT: TDES (X9.24-1:2009) and AES (X9.24-3-2017), host and terminal side."""

from __future__ import annotations

import contextlib
import itertools
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hsm_sim.crypto import des, dukpt_aes, dukpt_tdes
from hsm_sim.crypto.aes import AesBlock
from protocols.crypto import aes_dukpt as core

VECTORS = Path(__file__).parent / "vectors"
TDES = json.loads((VECTORS / "dukpt_tdes_x9_24_1.json").read_text())
AES = json.loads((VECTORS / "dukpt_aes_x9_24_3.json").read_text())
IKID = bytes.fromhex(AES["initial_key_id"])
BDK128 = bytes.fromhex(AES["aes128"]["bdk"])
BDK256 = bytes.fromhex(AES["aes256"]["bdk"])


def _h(b: bytes) -> str:
    return b.hex().upper()


# --- TDES --------------------------------------------------------------------


def test_tdes_initial_key() -> None:
    bdk = bytes.fromhex(TDES["bdk"])
    ik = dukpt_tdes.initial_key(bdk, bytes.fromhex(TDES["initial_ksn"]))
    assert _h(ik) == TDES["initial_key"]


@pytest.mark.parametrize("case", TDES["sequence"], ids=lambda c: c["ksn"])
def test_tdes_current_keys_and_pin_blocks(case: dict[str, str]) -> None:
    bdk = bytes.fromhex(TDES["bdk"])
    ksn = bytes.fromhex(case["ksn"])
    ik = dukpt_tdes.initial_key(bdk, ksn)
    cur = dukpt_tdes.current_key(ik, ksn)
    assert _h(cur) == case["current_key"]
    pin_key = dukpt_tdes.working_keys(bdk, ksn)["pin"]
    clear = bytes.fromhex(TDES["clear_pin_block"])
    assert _h(des.encrypt_ecb(pin_key, clear)) == case["encrypted_pin_block"]


@pytest.mark.parametrize("case", TDES["data_and_mac"]["cases"], ids=lambda c: c["ksn"])
def test_tdes_data_keys_with_one_way_function(case: dict[str, str]) -> None:
    data = TDES["data_and_mac"]["data_ascii"].encode()
    data += bytes(-len(data) % 8)
    keys = dukpt_tdes.working_keys(bytes.fromhex(TDES["bdk"]), bytes.fromhex(case["ksn"]))
    assert _h(des.encrypt_cbc(keys["data"], data)) == case["data_request"]
    assert _h(des.encrypt_cbc(keys["data_response"], data)) == case["data_response"]


def test_tdes_errors() -> None:
    bdk = bytes.fromhex(TDES["bdk"])
    with pytest.raises(ValueError, match="10 bytes"):
        dukpt_tdes.initial_key(bdk, bytes(8))
    with pytest.raises(ValueError, match="16 bytes"):
        dukpt_tdes.initial_key(bdk[:8], bytes(10))
    with pytest.raises(ValueError, match="counter is 0"):
        dukpt_tdes.working_keys(bdk, bytes.fromhex(TDES["initial_ksn"]))
    with pytest.raises(ValueError):
        dukpt_tdes.variant_key(bdk, "nope")


@given(st.binary(min_size=7, max_size=7), st.integers(1, 0x1FFFFF))
def test_tdes_initial_key_ignores_counter(prefix: bytes, counter: int) -> None:
    bdk = bytes.fromhex(TDES["bdk"])
    ksn = (int.from_bytes(prefix + bytes(3), "big") | counter).to_bytes(10, "big")
    assert dukpt_tdes.initial_key(bdk, ksn) == dukpt_tdes.initial_key(
        bdk, dukpt_tdes.initial_ksn(ksn)
    )
    assert dukpt_tdes.counter_of(ksn) == counter


# --- AES: host side ------------------------------------------------------------


def test_aes_initial_keys() -> None:
    assert _h(dukpt_aes.initial_key(BDK128, IKID)) == AES["aes128"]["initial_key"]
    assert _h(dukpt_aes.initial_key(BDK256, IKID)) == AES["aes256"]["initial_key"]
    # A whole KSN works as well as the initial key ID.
    assert _h(dukpt_aes.initial_key(BDK128, IKID + b"\0\0\0\7")) == AES["aes128"]["initial_key"]


@pytest.mark.parametrize("case", AES["aes128"]["derivation_keys"], ids=lambda c: c["counter"])
def test_aes_derivation_keys(case: dict[str, str]) -> None:
    ik = dukpt_aes.initial_key(BDK128, IKID)
    key = core.intermediate_key(AesBlock, ik, IKID, int(case["counter"], 16))
    assert _h(key) == case["key"]


@pytest.mark.parametrize("case", AES["aes128"]["working_keys"], ids=lambda c: c["counter"])
def test_aes128_working_keys(case: dict[str, str]) -> None:
    keys = dukpt_aes.working_keys(BDK128, IKID + bytes.fromhex(case["counter"]))
    assert _h(keys["pin"]) == case["pin_encryption"]
    assert _h(keys["mac"]) == case["mac_generation"]
    assert _h(keys["data"]) == case["data_encrypt"]


def test_aes128_every_usage_counter_1() -> None:
    want = AES["aes128"]["all_usages_counter_1"]
    ksn = IKID + b"\0\0\0\1"
    for name, usage in core.USAGES:
        assert _h(dukpt_aes.working_key(BDK128, ksn, usage)) == want[name], name
    keys = dukpt_aes.working_keys(BDK128, ksn)
    assert _h(keys["mac_verify"]) == want["mac_verification"]
    assert _h(keys["data_decrypt"]) == want["data_decrypt"]
    assert _h(keys["data_both"]) == want["data_both"]
    assert _h(keys["key_encryption"]) == want["key_encryption"]


def test_aes256_working_keys() -> None:
    ksn = IKID + b"\0\0\0\1"
    w256 = AES["aes256"]["working_keys_aes256_counter_1"]
    keys = dukpt_aes.working_keys(BDK256, ksn)
    assert (_h(keys["pin"]), _h(keys["mac"]), _h(keys["data"])) == (
        w256["pin_encryption"],
        w256["mac_generation"],
        w256["data_encrypt"],
    )
    w128 = AES["aes256"]["working_keys_aes128_counter_1"]
    keys128 = dukpt_aes.working_keys(BDK256, ksn, core.KEY_AES128)
    assert _h(keys128["pin"]) == w128["pin_encryption"]
    assert _h(keys128["data"]) == w128["data_encrypt"]


def test_aes_derivation_data_layout() -> None:
    # X9.24-3-2017 6.3.2: version, block counter, usage, algorithm, bits, IKID.
    d = core.derivation_data(core.USAGE_KEY_DERIVATION_INITIAL, core.KEY_AES128, IKID, 0)
    assert _h(bytes(d)) == "01018001000200801234567890123456"
    d = core.derivation_data(core.USAGE_PIN_ENCRYPTION, core.KEY_AES256, IKID, 0x1FFFE)
    assert _h(bytes(d)) == "010110000004010090123456" + "0001FFFE"


def test_aes_errors() -> None:
    with pytest.raises(core.DukptError, match="12 bytes"):
        dukpt_aes.working_keys(BDK128, bytes(10))
    with pytest.raises(core.DukptError, match=r"1\.\.FFFFFFFF"):
        dukpt_aes.working_keys(BDK128, IKID + bytes(4))
    with pytest.raises(core.DukptError, match="cannot derive"):
        dukpt_aes.working_keys(BDK128, IKID + b"\0\0\0\1", core.KEY_AES256)
    with pytest.raises(core.DukptError, match="16, 24 or 32"):
        dukpt_aes.initial_key(bytes(20), IKID)
    with pytest.raises(core.DukptError, match="8 bytes"):
        dukpt_aes.initial_key(BDK128, bytes(5))
    with pytest.raises(core.DukptError):
        core.working_key_from(AesBlock, BDK128, IKID, 1, core.USAGE_KEY_DERIVATION_INITIAL, 2)
    assert isinstance(core.DukptError("x"), ValueError)


# --- AES: transaction-originating side -----------------------------------------


def test_originator_follows_published_ksn_sequence() -> None:
    ik = dukpt_aes.initial_key(BDK128, IKID)
    o = dukpt_aes.originator(ik, IKID)
    derivation = {c["counter"]: c["key"] for c in AES["aes128"]["derivation_keys"]}
    for want in AES["aes128"]["ksn_sequence_first"]:
        assert _h(o.ksn()) == want
        assert _h(o._current()) == derivation[want[16:]]
        o.advance()


def test_originator_agrees_with_host_for_4096_transactions() -> None:
    ik = dukpt_aes.initial_key(BDK128, IKID)
    o = dukpt_aes.originator(ik, IKID)
    for _ in range(4096):
        ksn = o.ksn()
        pin = o.working_key(core.USAGE_PIN_ENCRYPTION)
        assert pin == core.working_key(AesBlock, ik, ksn, core.USAGE_PIN_ENCRYPTION)
        # The originator never needs more registers than counter bits.
        assert o.registers_in_use() <= core.NUM_REGISTERS
        o.advance()
    assert o.counter == 4097


@pytest.mark.parametrize("max_work", [1, 2, 3])
def test_originator_walks_whole_counter_space(max_work: int) -> None:
    # With max_work one-bits allowed, the terminal must visit exactly the
    # counters with 1..max_work one-bits, in increasing order, then stop.
    ik = dukpt_aes.initial_key(BDK128, IKID)
    o = core.Originator(AesBlock, ik, IKID, max_work=max_work)
    seen = []
    while True:
        seen.append(o.counter)
        if len(seen) % 257 == 1:
            ksn = o.ksn()
            want = core.working_key(AesBlock, ik, ksn, core.USAGE_MAC_GENERATION)
            assert o.working_key(core.USAGE_MAC_GENERATION) == want
        try:
            o.advance()
        except core.DukptError:
            break
    expected = sorted(
        sum((1 << i) for i in bits)
        for n in range(1, max_work + 1)
        for bits in itertools.combinations(range(32), n)
    )
    assert seen == expected


@given(st.integers(1, 0xFFFFFFFF))
def test_ksn_validity_rule(counter: int) -> None:
    ksn = core.make_ksn(IKID, counter)
    assert core.split_ksn(ksn) == (IKID, counter)
    assert core.ksn_is_valid(ksn) == (bin(counter).count("1") <= 16)


@given(st.binary(max_size=40), st.binary(max_size=40))
def test_aes_dukpt_bad_input_raises_only_dukpt_error(bdk: bytes, ksn: bytes) -> None:
    with contextlib.suppress(core.DukptError):
        dukpt_aes.working_keys(bdk, ksn)


# --- originator state: save, restore, and the published rollover sequences ------


def _state_at(ik: bytes, counter: int, max_work: int = core.MAX_WORK) -> bytes:
    """The register contents a terminal must hold when about to use
    ``counter``, computed independently from the host-side derivation:
    register p (lowest set bit) holds the counter's own derivation key; a
    higher register k whose bit is clear holds the key for the counter's bits
    above k plus bit k, if that parent had room for another one-bit."""
    low = (counter & -counter).bit_length() - 1
    regs: dict[int, bytes] = {low: core.intermediate_key(AesBlock, ik, IKID, counter)}
    for k in range(low + 1, 32):
        if counter >> k & 1:
            continue
        prefix = counter & ~((1 << (k + 1)) - 1)
        if prefix == 0 or bin(prefix).count("1") < max_work:
            regs[k] = core.intermediate_key(AesBlock, ik, IKID, prefix | 1 << k)
    bitmap = sum(1 << k for k in regs)
    head = bytes([1, core.KEY_AES128, max_work]) + IKID
    keys = b"".join(regs[k] for k in sorted(regs))
    return head + counter.to_bytes(4, "big") + bitmap.to_bytes(4, "big") + keys


def test_originator_state_matches_independent_model() -> None:
    ik = dukpt_aes.initial_key(BDK128, IKID)
    o = dukpt_aes.originator(ik, IKID)
    for _ in range(600):
        assert o.to_state() == _state_at(ik, o.counter)
        o.advance()


def test_originator_state_round_trip() -> None:
    ik = dukpt_aes.initial_key(BDK128, IKID)
    o = dukpt_aes.originator(ik, IKID)
    for _ in range(77):
        o.advance()
    saved = o.to_state()
    restored = core.Originator.from_state(AesBlock, saved)
    for _ in range(300):
        assert restored.ksn() == o.ksn()
        assert restored.working_key(core.USAGE_PIN_ENCRYPTION) == o.working_key(
            core.USAGE_PIN_ENCRYPTION
        )
        restored.advance()
        o.advance()
    for bad in (b"", saved[:-1], b"\x02" + saved[1:], saved[:11] + bytes(4) + saved[15:]):
        with pytest.raises(core.DukptError):
            core.Originator.from_state(AesBlock, bad)


@pytest.mark.parametrize("sequence", ["ksn_sequence_rollover", "ksn_sequence_last"])
def test_originator_skips_counters_with_17_bits(sequence: str) -> None:
    # From the published KSNs around 0x1FFFF (17 one-bits: never used) and
    # the last counters (the device is exhausted after FFFF0000).
    ik = dukpt_aes.initial_key(BDK128, IKID)
    ksns = AES["aes128"][sequence]
    first = int(ksns[0][16:], 16)
    o = core.Originator.from_state(AesBlock, _state_at(ik, first))
    derivation = {c["counter"]: c["key"] for c in AES["aes128"]["derivation_keys"]}
    for want in ksns:
        assert _h(o.ksn()) == want
        assert _h(o._current()) == derivation[want[16:]]
        if want != ksns[-1] or sequence != "ksn_sequence_last":
            o.advance()
    if sequence == "ksn_sequence_last":
        with pytest.raises(core.DukptError, match="exhausted"):
            o.advance()


def test_originator_state_model_whole_space_small_max_work() -> None:
    ik = dukpt_aes.initial_key(BDK128, IKID)
    o = core.Originator(AesBlock, ik, IKID, max_work=2)
    visited = 0
    while True:
        assert o.to_state() == _state_at(ik, o.counter, 2)
        visited += 1
        try:
            o.advance()
        except core.DukptError:
            break
    assert visited == 528
