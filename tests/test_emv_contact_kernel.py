"""The firmware's EMV contact kernel (firmware/emv) against the virtual cards
of host_sim.cards, through their transmit().

Every expected TVR/TSI below is derived by hand from EMV 4.3 Book 3 Annex C5
(TVR) and C6 (TSI) and written as bits, with the rule that sets each one.
pyemv recomputes each ARQC/TC from the TEST issuer master keys; the ARPCs and
script MACs the "host" sends are pyemv's too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyemv
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware.emv import capk as capk_mod
from firmware.emv import config as config_mod
from firmware.emv import config_data, oda, tvr
from firmware.emv.contact import cvm, risk, selection
from firmware.emv.contact.kernel import (
    APPROVED,
    DECLINED,
    END_APPLICATION,
    NOT_ACCEPTED,
    ONLINE_REQUEST,
    ContactKernel,
    HostResponse,
)
from firmware.emv.contact.trace import mask_apdu, mask_digits
from host_sim.cards import issuer_master_keys, load_profile
from protocols import apdu, tlv
from tools import gen_emv_capk

VECTORS = Path(__file__).resolve().parent / "vectors"
TODAY = (2026, 11, 22, 10, 30, 0)


def bits(*names: str, table: dict[str, tuple[int, int]] = tvr.TVR_BITS, length: int = 5) -> bytes:
    """The bytes with exactly the named bits set (positions from the table,
    which test_tvr_positions_follow_annex_c5 checks against the book)."""
    out = bytearray(length)
    for name in names:
        index, mask = table[name]
        out[index] |= mask
    return bytes(out)


def tsi(*names: str) -> bytes:
    return bits(*names, table=tvr.TSI_BITS, length=2)


ODA_CVM_CRM_TRM = (
    "oda_performed",
    "cvm_performed",
    "card_risk_management_performed",
    "terminal_risk_management_performed",
)


class Reader:
    """The card interface the firmware drivers give the kernel."""

    def __init__(self, card: Any, tamper: Any = None) -> None:
        self.card = card
        self.tamper = tamper
        self.log: list[tuple[bytes, bytes]] = []

    def exchange_apdu(self, command: bytes) -> bytes:
        reply: bytes = self.card.transmit(bytes(command))
        if self.tamper is not None:
            reply = self.tamper(bytes(command), reply)
        self.log.append((bytes(command), reply))
        return reply


class Cardholder:
    def __init__(self, pins: tuple[str, ...] = ("1234",), online_pin: bool = True) -> None:
        self.pins = list(pins)
        self.online = online_pin
        self.offered: list[int | None] = []
        self.buffers: list[bytearray] = []
        self.chose: list[list[Any]] = []
        self.confirmed: list[Any] = []

    def choose_application(self, candidates: list[Any]) -> int | None:
        self.chose.append(list(candidates))
        return 0

    def confirm_application(self, candidate: Any) -> bool:
        self.confirmed.append(candidate)
        return True

    def offline_pin(self, tries: int | None) -> bytearray | None:
        self.offered.append(tries)
        if not self.pins:
            return None
        buffer = bytearray(self.pins.pop(0).encode())
        self.buffers.append(buffer)
        return buffer

    def online_pin(self) -> bool:
        return self.online


def rand(byte: int) -> Any:
    """Random source: every byte ``byte``.  The random transaction selection
    number is (2 bytes % 99) + 1: 0x55 → 0x5555 % 99 + 1 = 66; 0x00 → 1."""
    return lambda n: bytes([byte] * n)


def config(**changes: Any) -> config_mod.TerminalConfig:
    data = dict(config_data.TERMINAL_DATA)
    data.update(changes.pop("data", {}))
    aids = [dict(entry) for entry in config_data.AIDS]
    for entry in aids:
        entry.update(changes.pop("aid_" + str(entry["aid"]), {}))
    options = dict(config_data.OPTIONS)
    options.update(changes.pop("options", {}))
    assert not changes
    from firmware.emv import capk_data

    return config_mod.TerminalConfig(data, aids, options, capk_data.TEST_CAPKS)


def card_rng(n: int) -> bytes:
    return bytes((0xA5 + i) & 0xFF for i in range(n))


def run(
    profile: str | Any,
    amount: int = 12500,
    holder: Cardholder | None = None,
    cfg: config_mod.TerminalConfig | None = None,
    random: Any = None,
    tamper: Any = None,
    clock: tuple[int, ...] = TODAY,
    **start: Any,
) -> tuple[ContactKernel, Any, Reader]:
    card = load_profile(profile, rng=card_rng) if isinstance(profile, str) else profile
    card.power_on()
    reader = Reader(card, tamper)
    kernel = ContactKernel(
        reader, cfg or config(), lambda: clock, random or rand(0x55), holder or Cardholder()
    )
    outcome = kernel.start(amount, **start)
    return kernel, outcome, reader


def split_dol(dol: bytes, data: bytes) -> dict[int, bytes]:
    out, pos = {}, 0
    for tag, length in tlv.parse_dol(dol):
        out[tag] = data[pos : pos + length]
        pos += length
    assert pos == len(data)
    return out


def issuer_model(kernel: ContactKernel, issuer: str, cvn: int) -> Any:
    keys = issuer_master_keys(issuer)
    classes = {10: pyemv.cvn.VisaCVN10, 16: pyemv.cvn.MasterCardCVN16}
    values = kernel.store.values
    return classes[cvn](
        keys["ac"],
        keys["smi"],
        keys["smc"],
        values[0x5A].hex().upper().rstrip("F"),
        values.get(0x5F34, b"\x00").hex(),
    )


def check_first_cryptogram(kernel: ContactKernel, issuer: str, cvn: int) -> Any:
    """pyemv recomputes the first GENERATE AC's cryptogram from the CDOL1
    data the kernel actually sent (split by the card's CDOL1)."""
    values = kernel.store.values
    # The CDOL1 data as it went over the wire (the first GENERATE AC).
    first = next(c for c, _r in kernel.link.card.log if c[1] == 0xAE)
    sent = split_dol(values[0x8C], first[5 : 5 + first[4]])
    iad = values[0x9F10]
    model = issuer_model(kernel, issuer, cvn)
    cvr = iad[3:7] if cvn == 10 else iad[2:8]
    expected = model.generate_ac(
        tag_9f02=sent[0x9F02],
        tag_9f03=sent[0x9F03],
        tag_9f1a=sent[0x9F1A],
        tag_95=sent[0x95],
        tag_5f2a=sent[0x5F2A],
        tag_9a=sent[0x9A],
        tag_9c=sent[0x9C],
        tag_9f37=sent[0x9F37],
        tag_82=values[0x82],
        tag_9f36=values[0x9F36],
        cvr=cvr,
    )
    assert expected == values[0x9F26]
    assert sent[0x95] == kernel.outcome.tvr or kernel.outcome.result != ONLINE_REQUEST
    return model


def sent_commands(reader: Reader, ins: int) -> list[bytes]:
    return [c for c, _r in reader.log if c[1] == ins]


# Tables as data -------------------------------------------------------------


def test_tvr_positions_follow_annex_c5() -> None:
    # Book 3 Annex C5, byte by byte, b8..b1 (RFU bits omitted).
    book = [
        ["oda_not_performed", "sda_failed", "icc_data_missing", "exception_file",
         "dda_failed", "cda_failed", "sda_selected"],
        ["different_versions", "expired_application", "not_yet_effective",
         "service_not_allowed", "new_card"],
        ["cvm_not_successful", "unrecognised_cvm", "pin_try_limit_exceeded",
         "pin_pad_missing", "pin_not_entered", "online_pin_entered"],
        ["floor_limit_exceeded", "lower_offline_limit_exceeded",
         "upper_offline_limit_exceeded", "random_selection", "merchant_forced_online"],
        ["default_tdol_used", "issuer_authentication_failed",
         "script_failed_before_final_ac", "script_failed_after_final_ac"],
    ]  # fmt: skip
    for byte, names in enumerate(book):
        for position, name in enumerate(names):
            assert tvr.TVR_BITS[name] == (byte, 0x80 >> position), name
    assert len(tvr.TVR_BITS) == sum(len(n) for n in book)
    tsi_book = ["oda_performed", "cvm_performed", "card_risk_management_performed",
                "issuer_authentication_performed", "terminal_risk_management_performed",
                "script_processing_performed"]  # fmt: skip
    for position, name in enumerate(tsi_book):
        assert tvr.TSI_BITS[name] == (0, 0x80 >> position)
    field = tvr.new_tvr()
    field.set("new_card")
    field.set("issuer_authentication_failed")
    assert field.value() == bytes.fromhex("0008000040")
    field.clear("new_card")
    assert field.names() == ["issuer_authentication_failed"]


def test_generated_capk_data_matches_the_card_pki() -> None:
    assert gen_emv_capk.main(["--check"]) == 0
    keys = json.loads(gen_emv_capk.SOURCE.read_text())["capks"]
    store = config().capks
    assert len(store) == len(keys)
    for entry in keys:
        key = store.find(bytes.fromhex(entry["rid"]), int(entry["index"], 16))
        assert key is not None and key.modulus.hex().upper() == entry["modulus"].upper()
    # Expired on the transaction date: not found.
    assert store.find(bytes.fromhex("A000000003"), 0xF8, bytes.fromhex("310101")) is None


def test_capk_with_a_wrong_check_sum_is_refused() -> None:
    from firmware.emv import capk_data

    rid, index, modulus, exponent, expiry, check = capk_data.TEST_CAPKS[0]
    bad = modulus[:-2] + ("00" if modulus[-2:] != "00" else "01")
    with pytest.raises(capk_mod.CapkError):
        capk_mod.from_table([(rid, index, bad, exponent, expiry, check)])


def test_config_rejects_bad_data() -> None:
    with pytest.raises(config_mod.ConfigError):
        config(aid_A0000000031010={"tac_online": "DC4004F8"})
    with pytest.raises(config_mod.ConfigError):
        config(aid_A0000000031010={"floor_limit": 1.5})
    with pytest.raises(config_mod.ConfigError):
        config(aid_A0000000031010={"random_target": 60, "random_max": 50})
    cfg = config()
    assert cfg.data[0x9F1A] == b"\x04\x00" and cfg.data[0x5F2A] == b"\x04\x00"
    assert cfg.data[0x5F36] == b"\x03"
    assert cfg.aid_for(bytes.fromhex("A000000003101001")) is cfg.aids[0]  # partial
    assert cfg.aid_for(bytes.fromhex("A0000000031011")) is None


# Offline PIN card (Visa-like, CDA) --------------------------------------------


def test_offline_pin_offline_approval_with_cda() -> None:
    holder = Cardholder()
    kernel, outcome, reader = run("contact_offline_pin", holder=holder)
    assert outcome.result == APPROVED and outcome.cryptogram == "TC"
    # TVR: the card's last online ATC is 0 → "new card" (§10.6.3); CDA
    # succeeded; 12.500 JOD < floor limit 100.000, random number 66 > 10 %.
    assert outcome.tvr == bits("new_card")
    assert outcome.tsi == tsi(*ODA_CVM_CRM_TRM)
    # CVM: 41 03 = plaintext PIN if the terminal supports it, successful.
    assert outcome.cvm_results == bytes.fromhex("410302") and outcome.offline_pin
    # CDA asked in the first GENERATE AC (P1 = TC | CDA); the TC recovered
    # from the signature is the one pyemv computes.
    (gen_ac,) = sent_commands(reader, 0xAE)
    assert gen_ac[2] == apdu.TC | apdu.CDA_REQUESTED
    check_first_cryptogram(kernel, "payterm-test-visa", 10)
    # The PIN: one VERIFY with the plaintext block; the buffer was wiped.
    (verify,) = sent_commands(reader, 0x20)
    assert verify == bytes.fromhex("0020008008241234FFFFFFFFFF")
    assert holder.buffers[0] == bytearray(4) and holder.offered == [3]


def test_trace_masks_pan_track2_and_pin() -> None:
    kernel, _outcome, _reader = run("contact_offline_pin")
    text = json.dumps(kernel.trace.to_json_obj())
    assert "4761730000000011" not in text and "7300000000" not in text
    assert "476173******0011" in text
    assert "476173******0011D2812201" in text  # track 2: PAN masked, YYMM + service code kept
    assert "1234FFFF" not in text and "0020008008********" in text
    assert [d for d, _h in kernel.trace.entries[:2]] == [">", "<"]
    assert mask_digits("4761730000000011") == "476173******0011"
    assert mask_apdu(bytes.fromhex("70075A05123456789F9000")) == "70075A05*********F9000"


def test_offline_pin_above_floor_limit_goes_online_and_is_approved() -> None:
    kernel, outcome, reader = run("contact_offline_pin", amount=150000)  # 150 JOD
    # Floor limit 100.000 JOD exceeded → TAC online DC4004F800 byte 4 b8 → ARQC.
    assert outcome.result == ONLINE_REQUEST and outcome.cryptogram == "ARQC"
    assert outcome.tvr == bits("new_card", "floor_limit_exceeded")
    model = check_first_cryptogram(kernel, "payterm-test-visa", 10)
    field55 = tlv.to_dict(tlv.decode(kernel.online_data()))
    assert field55[0x9F26] == kernel.store.values[0x9F26] and field55[0x95] == outcome.tvr
    arpc = model.generate_arpc(tag_9f26=kernel.store.values[0x9F26], arpc_rc=b"00")
    outcome = kernel.complete(HostResponse(b"00", arpc + b"00"))
    assert outcome.result == APPROVED and outcome.cryptogram == "TC"
    # AIP 3900 has no "issuer authentication supported": 91 goes in CDOL2,
    # no EXTERNAL AUTHENTICATE, so TSI b5 stays clear.
    assert not sent_commands(reader, 0x82)
    assert outcome.tvr == bits("new_card", "floor_limit_exceeded")
    assert outcome.tsi == tsi(*ODA_CVM_CRM_TRM)
    second = sent_commands(reader, 0xAE)[1]
    assert second[2] == apdu.TC | apdu.CDA_REQUESTED
    assert split_dol(kernel.store.values[0x8D], second[5:-1])[0x91] == arpc + b"00"


def test_offline_pin_wrong_arpc_is_declined_by_the_card() -> None:
    kernel, outcome, _reader = run("contact_offline_pin", amount=150000)
    assert outcome.result == ONLINE_REQUEST
    check_first_cryptogram(kernel, "payterm-test-visa", 10)
    outcome = kernel.complete(HostResponse(b"00", bytes(8) + b"00"))
    assert outcome.result == DECLINED and outcome.cryptogram == "AAC"


def test_host_decline_asks_for_an_aac() -> None:
    kernel, outcome, reader = run("contact_offline_pin", amount=150000)
    model = issuer_model(kernel, "payterm-test-visa", 10)
    arpc = model.generate_arpc(tag_9f26=kernel.store.values[0x9F26], arpc_rc=b"05")
    outcome = kernel.complete(HostResponse(b"05", arpc + b"05"))
    assert outcome.result == DECLINED
    assert sent_commands(reader, 0xAE)[1][2] == apdu.AAC


def test_unable_to_go_online_uses_the_default_action_codes() -> None:
    kernel, outcome, reader = run("contact_offline_pin", amount=150000)
    outcome = kernel.complete(None)
    # TVR byte 4 b8 (floor limit) is in TAC default DC4000A800 (A8) → AAC, ARC Z3.
    assert outcome.result == DECLINED and kernel.store.values[0x8A] == b"Z3"
    assert sent_commands(reader, 0xAE)[1][2] == apdu.AAC
    # A TAC default without that bit changes nothing: the card's IAC default
    # (9F0D DC4000A800) has it too, and the codes are OR-ed (§10.7).
    cfg = config(aid_A0000000031010={"tac_default": "0000000000"})
    kernel, outcome, reader = run("contact_offline_pin", amount=150000, cfg=cfg)
    assert outcome.result == ONLINE_REQUEST
    outcome = kernel.complete(None)
    assert outcome.result == DECLINED and kernel.store.values[0x8A] == b"Z3"
    # Random selection (number 1) instead of the floor limit: byte 4 b5 is not
    # in DC4000A800 (A8 = b8 b6 b4) → TC with Y3; the card approves a Y3.
    kernel, outcome, reader = run("contact_offline_pin", random=rand(0x00))
    assert outcome.tvr == bits("new_card", "random_selection")
    outcome = kernel.complete(None)
    assert kernel.store.values[0x8A] == b"Y3"
    assert sent_commands(reader, 0xAE)[1][2] == apdu.TC | apdu.CDA_REQUESTED
    assert outcome.result == APPROVED


def test_wrong_pin_until_the_try_limit() -> None:
    holder = Cardholder(pins=("0000", "1111", "2222"))
    kernel, outcome, reader = run("contact_offline_pin", holder=holder)
    verifies = [(c, r) for c, r in reader.log if c[1] == 0x20]
    assert [r[-2:].hex().upper() for _c, r in verifies] == ["63C2", "63C1", "63C0"]
    assert holder.offered == [3, 2, 1]
    assert all(b == bytearray(4) for b in holder.buffers)
    # 41 03 failed with "apply succeeding" → 44 03 (offline enciphered PIN, not
    # offered by this terminal: 9F33 byte 2 b5 clear) fails → 42 03 online PIN,
    # entered: result unknown.  TVR: PIN try limit exceeded, online PIN entered.
    assert outcome.cvm_results == bytes.fromhex("420300") and outcome.online_pin
    assert outcome.tvr == bits("new_card", "pin_try_limit_exceeded", "online_pin_entered")
    # TAC online DC4004F800 has byte 3 b3 (online PIN entered) → ARQC.
    assert outcome.result == ONLINE_REQUEST
    check_first_cryptogram(kernel, "payterm-test-visa", 10)
    # The next transaction: PIN try counter 0 by GET DATA → no VERIFY at all.
    card = reader.card
    holder2 = Cardholder()
    _k2, outcome2, reader2 = run(card, holder=holder2)
    assert not sent_commands(reader2, 0x20) and holder2.offered == []
    assert outcome2.tvr[2] & 0x20


def test_pin_bypass_and_no_pin_pad() -> None:
    holder = Cardholder(pins=(), online_pin=False)
    _k, outcome, _r = run("contact_offline_pin", holder=holder)
    # 41 03 bypassed → 44 03 unsupported → 42 03 bypassed → 1E 03 signature.
    assert outcome.cvm_results == bytes.fromhex("1E0300") and outcome.signature
    assert outcome.tvr == bits("new_card", "pin_not_entered")
    cfg = config(options={"pin_pad": False})
    _k, outcome, _r = run("contact_offline_pin", cfg=cfg)
    assert outcome.tvr == bits("new_card", "pin_pad_missing")
    assert outcome.cvm_results == bytes.fromhex("1E0300")


# Online PIN card (Mastercard-like, SDA, EXTERNAL AUTHENTICATE) -----------------


def _online_pin_tvr(*extra: str) -> bytes:
    # SDA selected (b2), 9F08 0096 ≠ 9F09 0002 (different versions), online
    # PIN entered; floor limit 0 for this AID → exceeded.  No 9F14/9F23 on the
    # card → no velocity checking → no "new card".
    return bits(
        "sda_selected", "different_versions", "online_pin_entered", "floor_limit_exceeded", *extra
    )


def test_online_pin_card_requests_online_pin_and_is_approved() -> None:
    kernel, outcome, reader = run("contact_online_pin")
    assert outcome.result == ONLINE_REQUEST and outcome.online_pin
    assert outcome.cvm_results == bytes.fromhex("420300")
    assert outcome.tvr == _online_pin_tvr()
    assert outcome.tsi == tsi(*ODA_CVM_CRM_TRM)
    assert kernel.store.values.get(0x9F45) is not None  # DAC from the SDA
    model = check_first_cryptogram(kernel, "payterm-test-mc", 16)
    arpc = model.generate_arpc(tag_9f26=kernel.store.values[0x9F26], arpc_rc=b"00")
    outcome = kernel.complete(HostResponse(b"00", arpc + b"00"))
    assert sent_commands(reader, 0x82) == [apdu.external_authenticate(arpc + b"00")]
    assert outcome.result == APPROVED
    assert outcome.tsi == tsi(*ODA_CVM_CRM_TRM, "issuer_authentication_performed")


def test_online_pin_card_bad_arpc() -> None:
    kernel, outcome, _reader = run("contact_online_pin")
    check_first_cryptogram(kernel, "payterm-test-mc", 16)
    outcome = kernel.complete(HostResponse(b"00", bytes(8) + b"00"))
    assert outcome.tvr == _online_pin_tvr("issuer_authentication_failed")
    assert outcome.result == DECLINED


def test_sda_failure_on_a_changed_record() -> None:
    def tamper(command: bytes, reply: bytes) -> bytes:
        if command[1] == 0xB2 and command[2] == 1 and command[3] == (2 << 3) | 4:
            return reply.replace(bytes.fromhex("9F440103"), bytes.fromhex("9F440102"))
        return reply

    _k, outcome, _r = run("contact_online_pin", tamper=tamper)
    assert outcome.tvr == _online_pin_tvr("sda_failed")
    assert outcome.tsi == tsi(*ODA_CVM_CRM_TRM)


# ODA on the offline PIN card: DDA, CDA failures ---------------------------------

NO_CDA = {"9F33": "E0E8C0"}  # SDA and DDA only


def test_dda_when_the_terminal_has_no_cda() -> None:
    kernel, outcome, reader = run("contact_offline_pin", cfg=config(data=NO_CDA))
    (internal,) = sent_commands(reader, 0x88)
    # DDOL 9F3704 from the card: the unpredictable number.
    assert internal[5:9] == kernel.store.values[0x9F37]
    assert outcome.tvr == bits("new_card") and outcome.result == APPROVED
    assert len(kernel.store.values[0x9F4C]) == 8
    assert sent_commands(reader, 0xAE)[0][2] == apdu.TC  # no CDA bit


def test_dda_failure_on_a_bad_signature() -> None:
    def tamper(command: bytes, reply: bytes) -> bytes:
        if command[1] == 0x88 and len(reply) > 10:
            return reply[:10] + bytes((reply[10] ^ 1,)) + reply[11:]
        return reply

    kernel, outcome, _r = run("contact_offline_pin", cfg=config(data=NO_CDA), tamper=tamper)
    # DDA failed (byte 1 b4) is in TAC online DC → ARQC.
    assert outcome.tvr == bits("dda_failed", "new_card")
    assert outcome.result == ONLINE_REQUEST
    check_first_cryptogram(kernel, "payterm-test-visa", 10)


def test_cda_failure_before_generate_ac() -> None:
    def tamper(command: bytes, reply: bytes) -> bytes:
        if command[1] == 0xB2 and command[2] == 1 and command[3] == (1 << 3) | 4:
            return reply.replace(b"CONTACT OFFLINE PIN", b"CONTACT OFFLINE PIM")
        return reply

    kernel, outcome, reader = run("contact_offline_pin", tamper=tamper)
    assert outcome.tvr == bits("cda_failed", "new_card")
    # No CDA requested once it failed; CDA failed is in TAC online → ARQC.
    assert sent_commands(reader, 0xAE)[0][2] == apdu.ARQC
    assert outcome.result == ONLINE_REQUEST
    check_first_cryptogram(kernel, "payterm-test-visa", 10)


def test_cda_signature_failure_on_the_tc_declines() -> None:
    def tamper(command: bytes, reply: bytes) -> bytes:
        at = reply.find(bytes.fromhex("9F4B8180"))
        if command[1] == 0xAE and at > 0:
            return reply[: at + 10] + bytes((reply[at + 10] ^ 0x01,)) + reply[at + 11 :]
        return reply

    _k, outcome, _r = run("contact_offline_pin", tamper=tamper)
    assert outcome.result == DECLINED and outcome.reason == "CDA failed on the TC"
    assert outcome.tvr == bits("cda_failed", "new_card")


def test_no_capk_for_the_index() -> None:
    from firmware.emv import capk_data

    rows = [r for r in capk_data.TEST_CAPKS if r[0] != "A000000003"]
    cfg = config_mod.TerminalConfig(
        config_data.TERMINAL_DATA, config_data.AIDS, config_data.OPTIONS, rows
    )
    _k, outcome, _r = run("contact_offline_pin", cfg=cfg)
    # CAPK missing: CDA failed, not "ICC data missing" (Book 3 §10.3).
    assert outcome.tvr == bits("cda_failed", "new_card")


# Restrictions, TRM, TAA ---------------------------------------------------------


def test_expired_card_is_declined() -> None:
    kernel, outcome, reader = run("expired")
    # No ODA in AIP 1800 → ODA not performed; 5F24 231231 < 261122 → expired;
    # new card.  TAC online DC… has byte 1 b8 → ARQC; the card's CRM declines
    # on "expired application" (its decline mask 0040000000).
    assert outcome.tvr == bits("oda_not_performed", "expired_application", "new_card")
    assert outcome.tsi == tsi("cvm_performed", "card_risk_management_performed",
                              "terminal_risk_management_performed")  # fmt: skip
    assert outcome.result == DECLINED and outcome.reason == "card declined offline"
    assert sent_commands(reader, 0xAE)[0][2] == apdu.ARQC
    check_first_cryptogram(kernel, "payterm-test-visa", 10)  # the AAC
    # With "expired application" in the TAC denial, the terminal asks for the AAC.
    cfg = config(aid_A0000000031010={"tac_denial": "0050000000"})
    _k, outcome, reader = run("expired", cfg=cfg)
    assert sent_commands(reader, 0xAE)[0][2] == apdu.AAC
    assert outcome.result == DECLINED and outcome.reason == "terminal declined offline"


def test_blocked_application_is_not_selected() -> None:
    _k, outcome, reader = run("blocked")
    assert outcome.result == NOT_ACCEPTED
    selects = [(c, r) for c, r in reader.log if c[1] == 0xA4]
    assert selects[-1][1][-2:] == b"\x62\x83"
    assert not sent_commands(reader, 0xA8)


def test_service_not_allowed_and_version_rules() -> None:
    # Cash at an attended terminal: AUC FF00 allows domestic cash → no bit; an
    # international card (5F28 ≠ 9F1A): 9F1A set to 0826 in the terminal.
    cfg = config(data={"9F1A": "0826"})
    _k, outcome, _r = run("contact_offline_pin", cfg=cfg, transaction_type=0x09)
    # AUC byte 2 = 00: no cashback at all → service not allowed.
    assert outcome.tvr[1] & 0x10
    cfg = config(aid_A0000000031010={"app_version": "0097"})
    _k, outcome, _r = run("contact_offline_pin", cfg=cfg)
    assert outcome.tvr == bits("different_versions", "new_card")


def test_random_selection_sends_online() -> None:
    kernel, outcome, _r = run("contact_offline_pin", random=rand(0x00))
    # Random number 1 ≤ target 10 % (amount below the 20.000 threshold).
    assert outcome.tvr == bits("new_card", "random_selection")
    assert outcome.result == ONLINE_REQUEST
    check_first_cryptogram(kernel, "payterm-test-visa", 10)


def test_random_selection_probability_rule() -> None:
    # Book 3 §10.6.2 worked by hand: floor 100000, threshold 20000, target 10,
    # max 50.  Amount 60000 is halfway: percentage 10 + 40 × 40000/80000 = 30.
    sel = risk.randomly_selected
    assert sel(60000, 100000, 20000, 10, 50, 30) and not sel(60000, 100000, 20000, 10, 50, 31)
    assert sel(19999, 100000, 20000, 10, 50, 10) and not sel(19999, 100000, 20000, 10, 50, 11)
    assert sel(99999, 100000, 20000, 10, 50, 49) and not sel(99999, 100000, 20000, 10, 50, 50)
    assert not sel(100000, 100000, 20000, 10, 50, 1)  # at the floor limit: not random


def test_velocity_lower_consecutive_offline_limit() -> None:
    card = load_profile("contact_offline_pin", rng=card_rng)
    tvrs = []
    for _ in range(4):
        kernel, outcome, _r = run(card)
        tvrs.append(outcome.tvr)
        check_first_cryptogram(kernel, "payterm-test-visa", 10)
    # ATC − last online ATC = 1, 2, 3 ≤ 9F14 = 3; the 4th is 4 > 3 → lower
    # limit exceeded (byte 4 b7), in TAC online → ARQC.
    assert tvrs[:3] == [bits("new_card")] * 3
    assert tvrs[3] == bits("new_card", "lower_offline_limit_exceeded")
    assert outcome.result == ONLINE_REQUEST


def test_action_codes() -> None:
    aid = config().aids[0]  # TACs: denial 0010000000, online DC4004F800, default DC4000A800

    class Store:
        def __init__(self, values: dict[int, bytes]) -> None:
            self.values = values

    field = tvr.new_tvr()
    field.set("new_card")  # in no action code
    assert risk.action_analysis(Store({}), field, aid, True) == apdu.ARQC  # absent IAC online = FF
    iacs = {0x9F0E: bytes(5), 0x9F0F: bytes(5), 0x9F0D: bytes(5)}
    assert risk.action_analysis(Store(iacs), field, aid, True) == apdu.TC
    assert risk.action_analysis(Store({}), field, aid, False) == apdu.AAC  # IAC default FF
    field.set("service_not_allowed")  # TAC denial
    assert risk.action_analysis(Store(iacs), field, aid, True) == apdu.AAC
    field = tvr.new_tvr()
    field.set("merchant_forced_online")
    denial = dict(iacs)
    denial[0x9F0E] = bytes.fromhex("0000000800")  # IAC denial with "merchant forced online"
    assert risk.action_analysis(Store(denial), field, aid, True) == apdu.AAC
    assert risk.action_analysis(Store(iacs), field, aid, True) == apdu.ARQC


def test_merchant_forced_online() -> None:
    kernel, outcome, _r = run("contact_offline_pin", force_online=True)
    assert outcome.tvr == bits("new_card", "merchant_forced_online")
    assert outcome.result == ONLINE_REQUEST
    check_first_cryptogram(kernel, "payterm-test-visa", 10)


# Issuer scripts ----------------------------------------------------------------


def test_issuer_scripts_before_and_after() -> None:
    kernel, outcome, reader = run("contact_offline_pin", amount=150000)
    model = check_first_cryptogram(kernel, "payterm-test-visa", 10)
    arqc, atc = kernel.store.values[0x9F26], kernel.store.values[0x9F36]
    header = bytes.fromhex("84DA9F1409")
    put = header + b"\x07" + model.generate_command_mac(header, arqc, atc, b"\x07")
    bad = header + b"\x09" + bytes(8)
    before = tlv.TLV(0x71, children=[tlv.TLV(0x9F18, b"\x00\x00\x00\x01"), tlv.TLV(0x86, put)])
    after = tlv.TLV(0x72, children=[tlv.TLV(0x9F18, b"\x00\x00\x00\x02"), tlv.TLV(0x86, bad)])
    arpc = model.generate_arpc(tag_9f26=arqc, arpc_rc=b"00")
    outcome = kernel.complete(HostResponse(b"00", arpc + b"00", tlv.encode([before, after])))
    assert outcome.result == APPROVED
    # Script 1 (71) processed successfully; script 2 (72) failed at command 1.
    assert outcome.script_results == bytes.fromhex("20000000011100000002")
    assert kernel.store.values[0x9F5B] == outcome.script_results
    assert outcome.tvr == bits("new_card", "floor_limit_exceeded", "script_failed_after_final_ac")
    assert outcome.tsi == tsi(*ODA_CVM_CRM_TRM, "script_processing_performed")
    order = [c[1] for c, _r in reader.log]
    assert order.index(0xDA) < len(order) - 1 - order[::-1].index(0xAE)  # 71 before the 2nd AC
    assert reader.card.transmit(apdu.get_data(0x9F14)) == bytes.fromhex("9F140107") + b"\x90\x00"


def test_malformed_script_data() -> None:
    kernel, outcome, _reader = run("contact_offline_pin", amount=150000)
    model = issuer_model(kernel, "payterm-test-visa", 10)
    arpc = model.generate_arpc(tag_9f26=kernel.store.values[0x9F26], arpc_rc=b"00")
    outcome = kernel.complete(HostResponse(b"00", arpc + b"00", b"\x71\x05\x86\x01"))
    assert outcome.tvr[4] & 0x20 and outcome.script_results[:1] == b"\x10"


# Selection ---------------------------------------------------------------------


def test_aid_list_fallback_without_pse() -> None:
    def tamper(command: bytes, reply: bytes) -> bytes:
        if command[1] == 0xA4 and b"1PAY.SYS.DDF01" in command:
            return b"\x6a\x82"
        return reply

    _k, outcome, reader = run("contact_offline_pin", tamper=tamper)
    assert outcome.result == APPROVED
    selects = sent_commands(reader, 0xA4)
    # PSE, then each configured AID (Visa found; P2=02 next occurrence), then
    # the final SELECT.
    assert selects[1] == apdu.select_by_name(bytes.fromhex("A0000000031010"))
    assert apdu.select_by_name(bytes.fromhex("A0000000031010"), next_occurrence=True) in selects


def test_card_blocked_ends_the_session() -> None:
    _k, outcome, _r = run(
        "contact_offline_pin", tamper=lambda c, r: b"\x6a\x81" if c[1] == 0xA4 else r
    )
    assert outcome.result == END_APPLICATION


def test_candidate_order_and_confirmation() -> None:
    aid = config().aids[0]
    c1 = selection.Candidate(b"A1", b"", 0x02, b"", aid)
    c2 = selection.Candidate(b"A2", b"", 0x81, b"", aid)  # priority 1, confirmation required
    c3 = selection.Candidate(b"A3", b"", None, b"", aid)
    ordered = sorted([c3, c1, c2], key=lambda c: c.rank)
    assert ordered == [c2, c1, c3]
    no_confirm = config(options={"cardholder_confirmation": False})
    # Without cardholder confirmation: the best application not needing it.
    assert selection.choose(ordered, no_confirm, None) is c1
    assert selection.choose([c2], no_confirm, None) is None
    holder = Cardholder()
    assert selection.choose([c2], config(), holder) is c2 and holder.confirmed == [c2]
    assert selection.choose(ordered, config(), holder) is c2 and holder.chose == [ordered]


def test_card_removed_mid_transaction() -> None:
    def tamper(command: bytes, reply: bytes) -> bytes:
        if command[1] == 0xAE:
            raise OSError("card removed")
        return reply

    _k, outcome, _r = run("contact_offline_pin", tamper=tamper)
    assert outcome.result == END_APPLICATION and "card removed" in outcome.reason


def test_amounts_are_integers() -> None:
    card = load_profile("contact_offline_pin", rng=card_rng)
    kernel = ContactKernel(Reader(card), config(), lambda: TODAY, rand(0x55), Cardholder())
    with pytest.raises(ValueError):
        kernel.start(12.5)  # type: ignore[arg-type]
    kernel.start(1000)
    with pytest.raises(ValueError):
        kernel.start(1000)  # one kernel per transaction


def test_cvm_list_conditions() -> None:
    caps = bytes.fromhex("E0E8C8")
    ctx: dict[str, object] = {
        "terminal_type": 0x22,
        "transaction_type": 0x00,
        "caps": caps,
        "amount": 5000,
        "x": 10000,
        "y": 2000,
        "same_currency": True,
    }
    assert cvm.condition_met(0x06, 0x1F, ctx) and not cvm.condition_met(0x07, 0x1F, ctx)
    assert cvm.condition_met(0x09, 0x1F, ctx) and not cvm.condition_met(0x08, 0x1F, ctx)
    assert cvm.condition_met(0x03, cvm.PLAINTEXT_PIN, ctx)
    assert not cvm.condition_met(0x03, cvm.ENCIPHERED_PIN, ctx)
    assert cvm.condition_met(0x02, 0x1F, ctx) and not cvm.condition_met(0x05, 0x1F, ctx)
    assert cvm.condition_met(0x0A, 0x1F, ctx) is None
    ctx["same_currency"] = False
    assert not cvm.condition_met(0x06, 0x1F, ctx)
    cmd = cvm.pin_block_command(bytearray(b"12345"))
    assert bytes(cmd) == bytes.fromhex("00200080082512345FFFFFFFFF")


def test_oda_static_data_rules() -> None:
    record = bytes.fromhex("70035A0112")
    assert oda.static_data([(1, record)], b"\x82", b"\x39\x00") == bytes.fromhex("5A01123900")
    assert oda.static_data([(11, record)], None, b"") == record
    with pytest.raises(oda.OdaError):
        oda.static_data([(1, record)], b"\x82\x5a", b"\x39\x00")
    with pytest.raises(oda.OdaError):
        oda.static_data([(2, bytes.fromhex("71035A0112"))], None, b"")


# The vector the MicroPython test replays -------------------------------------


def _visa_online_host(kernel: ContactKernel) -> HostResponse:
    """The issuer's answer: ARC 00, ARPC (method 1) and a PUT DATA script in 71."""
    model = issuer_model(kernel, "payterm-test-visa", 10)
    arqc, atc = kernel.store.values[0x9F26], kernel.store.values[0x9F36]
    header = bytes.fromhex("84DA9F1409")
    put = header + b"\x07" + model.generate_command_mac(header, arqc, atc, b"\x07")
    script = tlv.TLV(0x71, children=[tlv.TLV(0x9F18, b"\x00\x00\x00\x01"), tlv.TLV(0x86, put)])
    arpc = model.generate_arpc(tag_9f26=arqc, arpc_rc=b"00")
    return HostResponse(b"00", arpc + b"00", tlv.encode([script]))


def _mc_online_host(kernel: ContactKernel) -> HostResponse:
    model = issuer_model(kernel, "payterm-test-mc", 16)
    arpc = model.generate_arpc(tag_9f26=kernel.store.values[0x9F26], arpc_rc=b"00")
    return HostResponse(b"00", arpc + b"00")


# name: (profile, amount, host answer or None for an offline flow, what it
# shows, terminal data changed from config_data.TERMINAL_DATA)
FLOWS: dict[str, tuple[str, int, Any, str, dict[str, str]]] = {
    "offline_pin": ("contact_offline_pin", 12500, None, "offline PIN, CDA, TC offline", {}),
    "offline_enciphered_pin": (
        "contact_offline_pin",
        12500,
        None,
        "offline enciphered PIN (RSA under the ICC key), CDA, TC offline",
        {"9F33": "E078C8"},
    ),
    "online_arpc_script": (
        "contact_offline_pin",
        150000,
        _visa_online_host,
        "offline PIN, CDA, above the floor limit: ARQC, ARPC in CDOL2, script 71, TC with CDA",
        {},
    ),
    "online_pin_sda": (
        "contact_online_pin",
        12500,
        _mc_online_host,
        "SDA, online PIN, ARQC, EXTERNAL AUTHENTICATE, TC",
        {},
    ),
}


def record_vector(name: str) -> dict[str, Any]:
    profile, amount, host_fn, notes, data = FLOWS[name]
    kernel, outcome, reader = run(profile, amount=amount, cfg=config(data=data))
    host = None
    if host_fn is not None:
        assert outcome.result == ONLINE_REQUEST
        host = host_fn(kernel)
        outcome = kernel.complete(host)
    return {
        "source": "recorded from the CPython run of firmware/emv/contact against "
        f"host_sim.cards {profile} (card rng 0xA5+i, terminal random 0x55, clock "
        "2026-11-22 10:30:00, PIN 1234; ARPCs and script MACs by pyemv from the "
        "TEST issuer keys); regenerate with python tests/test_emv_contact_kernel.py",
        "flow": notes,
        "terminal_data": data,
        "clock": list(TODAY),
        "random_byte": 0x55,
        "amount": amount,
        "pin": "1234",
        "host": None
        if host is None
        else {
            "arc": host.arc.hex().upper(),
            "auth_data": (host.auth_data or b"").hex().upper(),
            "scripts": host.scripts.hex().upper(),
        },
        "exchanges": [[c.hex().upper(), r.hex().upper()] for c, r in reader.log],
        "outcome": {
            "result": outcome.result,
            "cryptogram": outcome.cryptogram,
            "tvr": outcome.tvr.hex().upper(),
            "tsi": outcome.tsi.hex().upper(),
            "cvm_results": outcome.cvm_results.hex().upper(),
            "script_results": outcome.script_results.hex().upper(),
        },
        "trace": kernel.trace.to_json_obj()["apdus"],
    }


def vector_path(name: str) -> Path:
    return VECTORS / f"emv_contact_trace_{name}.json"


VECTOR = vector_path("offline_pin")


@pytest.mark.parametrize("name", sorted(FLOWS))
def test_replay_vector_is_current(name: str) -> None:
    # The exchanges hold the VERIFY with the test PIN 1234 of a TEST card: the
    # scripted card needs them; the kernel's own trace masks it.
    assert json.loads(vector_path(name).read_text()) == record_vector(name)


def test_tc_hash_from_the_default_tdol() -> None:
    kernel, _outcome, _reader = run("contact_offline_pin")
    kernel.tvr.clear("default_tdol_used")
    kernel._tc_hash()
    values = kernel.store.values
    # Default TDOL of the Visa AID: 9F02 06, 5F2A 02, 9A 03, 9C 01, 95 05, 9F37 04.
    assert kernel.tvr.is_set("default_tdol_used")
    data = values[0x9F02] + values[0x5F2A] + values[0x9A] + values[0x9C]
    data += kernel.tvr.value() + values[0x9F37]
    import hashlib

    assert values[0x98] == hashlib.sha1(data).digest()


def test_cda_failure_on_an_arqc_completes_with_an_aac() -> None:
    def tamper(command: bytes, reply: bytes) -> bytes:
        at = reply.find(bytes.fromhex("9F4B8180"))
        if command[1] == 0xAE and command[2] & 0xC0 == apdu.ARQC and at > 0:
            return reply[: at + 10] + bytes((reply[at + 10] ^ 0x01,)) + reply[at + 11 :]
        return reply

    _k, outcome, reader = run("contact_offline_pin", amount=150000, tamper=tamper)
    assert outcome.result == DECLINED and outcome.reason == "CDA failed"
    assert outcome.tvr == bits("cda_failed", "new_card", "floor_limit_exceeded")
    assert [c[2] for c in sent_commands(reader, 0xAE)] == [apdu.ARQC | apdu.CDA_REQUESTED, apdu.AAC]


RESULTS = (APPROVED, DECLINED, ONLINE_REQUEST, NOT_ACCEPTED, END_APPLICATION)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    index=st.integers(min_value=0, max_value=40),
    mutation=st.one_of(
        st.binary(max_size=40),
        st.tuples(st.integers(min_value=0, max_value=300), st.integers(min_value=1, max_value=255)),
        st.integers(min_value=0, max_value=300),
    ),
)
def test_any_broken_card_answer_ends_in_an_outcome(index: int, mutation: Any) -> None:
    """One response of the recorded offline-PIN transaction replaced,
    corrupted or truncated: the kernel always ends with an outcome and never
    raises (Book 3: terminate the transaction)."""
    exchanges = json.loads(VECTOR.read_text())["exchanges"]
    replies = [bytes.fromhex(r) for _c, r in exchanges]

    class Replay:
        def __init__(self) -> None:
            self.pos = 0

        def exchange_apdu(self, command: bytes) -> bytes:
            if self.pos >= len(replies):
                return b"\x6d\x00"
            reply = replies[self.pos]
            if self.pos == index:
                if isinstance(mutation, bytes):
                    reply = mutation
                elif isinstance(mutation, tuple) and reply:
                    at = mutation[0] % len(reply)
                    reply = reply[:at] + bytes((reply[at] ^ mutation[1],)) + reply[at + 1 :]
                else:
                    reply = reply[: mutation % (len(reply) + 1)]
            self.pos += 1
            return reply

    kernel = ContactKernel(Replay(), config(), lambda: TODAY, rand(0x55), Cardholder())
    outcome = kernel.start(12500)
    assert outcome.result in RESULTS
    if outcome.result == ONLINE_REQUEST:
        assert kernel.complete(None).result in RESULTS


if __name__ == "__main__":
    for flow in sorted(FLOWS):
        vector_path(flow).write_text(json.dumps(record_vector(flow), indent=1) + "\n")
        print(f"wrote {vector_path(flow)}")


def test_offline_only_terminal_uses_the_default_codes() -> None:
    # Terminal type 23: attended, offline only.  Floor limit exceeded is in TAC
    # default DC4000A800 → AAC at once, no ARQC.
    _k, outcome, reader = run("contact_offline_pin", amount=150000, cfg=config(data={"9F35": "23"}))
    assert outcome.tvr == bits("new_card", "floor_limit_exceeded")
    assert sent_commands(reader, 0xAE)[0][2] == apdu.AAC and outcome.result == DECLINED
    _k, outcome, reader = run("contact_offline_pin", cfg=config(data={"9F35": "23"}))
    assert outcome.result == APPROVED


def test_oda_certificate_checks() -> None:
    """Book 2 §5.3/§6.4 checks on the card's real certificates: each one,
    broken alone, makes the recovery fail."""
    kernel, _outcome, _r = run("contact_offline_pin")
    values = dict(kernel.store.values)
    key = config().capks.find(bytes.fromhex("A000000003"), values[0x8F][0])
    assert key is not None
    ca = oda.PublicKey(key.modulus, key.exponent)
    static = oda.static_data(kernel.records, values.get(0x9F4A), values[0x82])
    today = kernel.today
    issuer = oda.issuer_public_key(ca, values, today)
    oda.icc_public_key(issuer, values, static, today)
    # Recovered issuer certificate fields (Book 2 Table 13).
    block = oda.recover(ca, values[0x90])
    expiry_mm, expiry_yy = block[6], block[7]
    after = bytes((expiry_yy + (1 if expiry_yy & 0x0F < 9 else 7), expiry_mm, 0x01))
    with pytest.raises(oda.OdaError, match="issuer certificate expired"):
        oda.issuer_public_key(ca, values, after)
    with pytest.raises(oda.OdaError, match="revoked"):
        oda.issuer_public_key(ca, values, today, lambda serial: serial == block[8:11])
    other_pan = dict(values)
    other_pan[0x5A] = bytes.fromhex("5413330000000019")
    with pytest.raises(oda.OdaError, match="issuer identifier"):
        oda.issuer_public_key(ca, other_pan, today)
    with pytest.raises(oda.OdaError, match="hash"):
        oda.icc_public_key(issuer, values, static + b"\x00", today)
    icc_block = oda.recover(issuer, values[0x9F46])
    icc_after = bytes((icc_block[13] + (1 if icc_block[13] & 0x0F < 9 else 7), icc_block[12], 1))
    with pytest.raises(oda.OdaError, match="ICC certificate expired"):
        oda.icc_public_key(issuer, values, static, icc_after)
    missing = dict(values)
    del missing[0x9F32]
    with pytest.raises(oda.OdaError) as error:
        oda.issuer_public_key(ca, missing, today)
    assert error.value.missing
    with pytest.raises(oda.OdaError, match="length"):
        oda.recover(ca, values[0x90][1:])


def test_t0_card_with_get_response() -> None:
    card = load_profile("contact_offline_pin", rng=card_rng)
    card.t0 = True
    _k, outcome, reader = run(card)
    assert outcome.result == APPROVED and outcome.tvr == bits("new_card")
    assert sent_commands(reader, 0xC0)  # 61xx answered by GET RESPONSE


def test_two_applications_in_the_directory_and_a_failed_final_select() -> None:
    entries = [
        tlv.TLV(0x61, children=[tlv.TLV(0x4F, bytes.fromhex("A0000000031010")),
                                tlv.TLV(0x50, b"VISA"), tlv.TLV(0x87, b"\x02")]),
        tlv.TLV(0x61, children=[tlv.TLV(0x4F, bytes.fromhex("A0000000041010")),
                                tlv.TLV(0x50, b"MASTERCARD"), tlv.TLV(0x87, b"\x01")]),
        tlv.TLV(0x61, children=[tlv.TLV(0x4F, bytes.fromhex("A0000009999999")),
                                tlv.TLV(0x87, b"\x03")]),
    ]  # fmt: skip
    directory = tlv.encode([tlv.TLV(0x70, children=entries)]) + b"\x90\x00"

    seen = []

    def tamper(command: bytes, reply: bytes) -> bytes:
        # The PSE's directory SFI is 1, like the application's first record:
        # only the READ RECORD before any application SELECT is the directory.
        seen.append(command[1])
        if command[:4] == bytes.fromhex("00B2010C") and seen.count(0xA4) == 1:
            return directory
        return reply

    holder = Cardholder()
    kernel, outcome, _reader = run("contact_offline_pin", holder=holder, tamper=tamper)
    # The unknown AID is not a candidate; priority 1 (Mastercard) first.  The
    # cardholder picks it, its final SELECT fails (6A82 on this card), it is
    # removed, and the only one left (Visa, no confirmation bit) is selected.
    assert [c.label for c in holder.chose[0]] == [b"MASTERCARD", b"VISA"]
    assert outcome.result == APPROVED and outcome.aid == bytes.fromhex("A0000000031010")
    assert any("removed A0000000041010" in note for note in kernel.trace.notes)


def test_application_not_yet_effective_and_date_windows() -> None:
    # 5F25 = 200101: on 2019-06-01 the application is not yet effective (and
    # the card's IAC online DC4004F800 does not hold byte 2 b6, TAC online
    # neither: TVR 0028000000 still approves offline).
    _k, outcome, _r = run("contact_offline_pin", clock=(2019, 6, 1, 9, 0, 0))
    assert outcome.tvr == bits("not_yet_effective", "new_card")
    # 5F24 = 281231: the last day is still valid, the next day is expired.
    _k, outcome, _r = run("contact_offline_pin", clock=(2028, 12, 31, 23, 59, 59))
    assert outcome.tvr == bits("new_card")
    kernel, outcome, _r = run("contact_offline_pin", clock=(2029, 1, 1, 0, 0, 0))
    # The ICC certificate (MMYY 1228) expired with the application: CDA fails
    # too (Book 2 §6.4 step 8), and the card's CRM declines the expired card.
    assert outcome.tvr == bits("cda_failed", "expired_application", "new_card")
    assert kernel.trace.notes[0] == "ODA cda failed: ICC certificate expired"
    assert outcome.result == DECLINED


ENCIPHERED_ONLY = {
    "9F33": "E078C8"
}  # byte 2: online PIN, signature, offline enciphered PIN, no CVM


def test_offline_enciphered_pin() -> None:
    holder = Cardholder()
    kernel, outcome, reader = run(
        "contact_offline_pin", holder=holder, cfg=config(data=ENCIPHERED_ONLY)
    )
    # 41 03: the terminal has no plaintext PIN → condition not met, skipped;
    # 44 03: GET CHALLENGE, VERIFY P2 88 under the ICC public key: successful.
    assert outcome.cvm_results == bytes.fromhex("440302") and outcome.offline_pin
    assert outcome.tvr == bits("new_card") and outcome.result == APPROVED
    assert len(sent_commands(reader, 0x84)) == 1
    (verify,) = sent_commands(reader, 0x20)
    assert verify[:4] == bytes.fromhex("00200088") and verify[4] == len(verify) - 5 == 128
    assert holder.buffers[0] == bytearray(4)
    assert "0020008880" + "*" * 8 in kernel.trace.to_json()


def test_offline_enciphered_pin_wrong_then_right() -> None:
    holder = Cardholder(pins=("9999", "1234"))
    _k, outcome, reader = run(
        "contact_offline_pin", holder=holder, cfg=config(data=ENCIPHERED_ONLY)
    )
    verifies = [(c, r) for c, r in reader.log if c[1] == 0x20]
    assert [r[-2:].hex().upper() for _c, r in verifies] == ["63C2", "9000"]
    assert len(sent_commands(reader, 0x84)) == 2  # a fresh challenge per attempt
    assert outcome.cvm_results == bytes.fromhex("440302") and holder.offered == [3, 2]


def test_offline_enciphered_pin_without_a_key_fails_the_cvm() -> None:
    # ICC certificate 9F46 broken on the wire: CDA fails, and the PIN key cannot
    # be recovered either → 44 03 fails (no VERIFY, no GET CHALLENGE) → 42 03.
    def tamper(command: bytes, reply: bytes) -> bytes:
        at = reply.find(bytes.fromhex("9F4681"))
        if command[1] == 0xB2 and at >= 0:
            return reply[: at + 10] + bytes((reply[at + 10] ^ 1,)) + reply[at + 11 :]
        return reply

    _k, outcome, reader = run(
        "contact_offline_pin", cfg=config(data=ENCIPHERED_ONLY), tamper=tamper
    )
    assert not sent_commands(reader, 0x84) and not sent_commands(reader, 0x20)
    assert outcome.cvm_results == bytes.fromhex("420300")
    assert outcome.tvr == bits("cda_failed", "new_card", "online_pin_entered")
