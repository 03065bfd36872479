"""Virtual EMV cards driven through Book 3 flows by an independent test
terminal (tests/cards_terminal.py): pyemv verifies every cryptogram, the
``cryptography`` package and a Book 2 recovery written in the test verify
every certificate and signature."""

from __future__ import annotations

import datetime
import hashlib
from pathlib import Path

import pytest
from cards_terminal import Terminal, load
from hypothesis import given
from hypothesis import strategies as st

from host_sim.cards import load_profile, profile_names
from protocols import apdu, tlv

ARQC, TC, AAC, CDA = 0x80, 0x40, 0x00, 0x10
ISSUER = {
    "contact_offline_pin": ("payterm-test-visa", 10),
    "expired": ("payterm-test-visa", 10),
    "blocked": ("payterm-test-visa", 10),
    "contact_online_pin": ("payterm-test-mc", 16),
    "mastercard_cda": ("payterm-test-mc", 16),
    "visa_qvsdc": ("payterm-test-visa", 18),
}
CONTACTLESS = {"mastercard_cda", "visa_qvsdc"}


def start(name: str) -> tuple[Terminal, bytes]:
    card = load_profile(name)
    card.power_on()
    term = Terminal(card)
    aid = term.select_app(name in CONTACTLESS)
    return term, aid


def atc_of(term: Terminal) -> int:
    data = term.ok(apdu.get_data(0x9F36))
    assert data[:3] == b"\x9f\x36\x02"
    return int.from_bytes(data[3:], "big")


def check_ac(term: Terminal, name: str, response: dict[int, bytes], data: dict[int, bytes]) -> None:
    issuer, cvn = ISSUER[name]
    expected = term.expected_ac(issuer, cvn, response[0x9F36], response[0x9F10], data)
    assert response[0x9F26] == expected, "pyemv does not agree with the card's cryptogram"


def test_every_profile_is_covered() -> None:
    assert set(profile_names()) == set(ISSUER)


@pytest.mark.parametrize("name", sorted(ISSUER))
def test_atr_check_byte(name: str) -> None:
    atr = load_profile(name).power_on()
    assert atr[0] == 0x3B
    check = 0
    for byte in atr[1:]:
        check ^= byte
    assert check == 0, "TCK must make the XOR of T0..TCK zero"


# Contact, offline PIN, DDA/CDA, ARPC method 1 in CDOL2 --------------------


def test_contact_offline_pin_online_flow() -> None:
    name = "contact_offline_pin"
    term, aid = start(name)
    assert term.select_sw == 0x9000
    assert atc_of(term) == 0
    term.gpo()
    assert atc_of(term) == 1
    term.read_records()
    # DDA with the terminal's unpredictable number as DDOL data.
    icc = term.icc_key(aid)
    un = bytes.fromhex("CAFEBABE")
    sdad = tlv.decode(term.ok(apdu.internal_authenticate(un)))
    assert sdad[0].tag == 0x80
    dyn = term.dynamic_data(icc, sdad[0].value, un)
    assert dyn[0] == 8 and len(dyn) == 9
    # Offline plaintext PIN.
    assert term.send(apdu.verify(apdu.plaintext_pin_block("1234")))[1] == 0x9000
    # Amount over the offline limit: the card asks to go online.
    big = {0x9F02: bytes.fromhex("000000100000")}
    first, _cdol1, sw = term.generate_ac(TC, 0x8C, big)
    assert sw == 0x9000 and first[0x9F27][0] & 0xC0 == ARQC
    data = dict(term.store)
    data.update(big)
    check_ac(term, name, first, data)
    iad = first[0x9F10]
    assert iad[2] == 0x0A and iad[4] & 0x30 == 0x20  # CVN 10, CVR: ARQC in 1st GEN AC
    assert iad[4] & 0x04  # offline PIN performed
    # The issuer answers with ARPC method 1 (pyemv), the card checks it in 2nd GEN AC.
    model = term.cvn(*ISSUER[name][:1], 10)
    arpc = model.generate_arpc(tag_9f26=first[0x9F26], arpc_rc=b"00")
    second, _cdol2, sw = term.generate_ac(
        TC, 0x8D, {0x91: arpc + b"00", 0x8A: b"00", 0x9F02: big[0x9F02]}
    )
    assert sw == 0x9000 and second[0x9F27][0] & 0xC0 == TC
    check_ac(term, name, second, data)
    assert second[0x9F10][4] & 0xC0 == 0x40  # CVR: TC in 2nd GEN AC
    assert term.ok(apdu.get_data(0x9F13))[3:] == b"\x00\x01"  # last online ATC
    # A second transaction: ATC goes on.
    term2 = Terminal(term.card)
    term.card.power_on()
    term2.select_app(False)
    term2.gpo()
    assert atc_of(term2) == 2


def test_contact_offline_pin_bad_arpc_declines() -> None:
    term, _aid = start("contact_offline_pin")
    term.gpo()
    term.read_records()
    first, _c, _sw = term.generate_ac(ARQC, 0x8C)
    assert first[0x9F27][0] & 0xC0 == ARQC
    bad = bytes(8) + b"00"
    second, _c2, sw = term.generate_ac(TC, 0x8D, {0x91: bad, 0x8A: b"00"})
    assert sw == 0x9000 and second[0x9F27][0] & 0xC0 == AAC
    assert second[0x9F10][4] & 0x08  # CVR: issuer authentication failed
    data = dict(term.store)
    check_ac(term, "contact_offline_pin", second, data)


def test_contact_offline_approval_with_cda() -> None:
    name = "contact_offline_pin"
    term, aid = start(name)
    term.gpo()
    term.read_records()
    icc = term.icc_key(aid)
    first, cdol1, sw = term.generate_ac(TC | CDA, 0x8C)
    assert sw == 0x9000 and first[0x9F27][0] & 0xC0 == TC
    dyn = term.dynamic_data(icc, first[0x9F4B], term.store[0x9F37])
    ldn = dyn[0]
    cid, ac, tdhc = dyn[1 + ldn : 2 + ldn], dyn[2 + ldn : 10 + ldn], dyn[10 + ldn : 30 + ldn]
    assert cid == first[0x9F27]
    shown = [n for n in tlv.decode(first[-1])[0].children or [] if n.tag != 0x9F4B]
    assert tdhc == hashlib.sha1(term.pdol_data + cdol1 + tlv.encode(shown)).digest()
    first[0x9F26] = ac
    check_ac(term, name, first, term.store)
    # The card is done: another GENERATE AC is refused.
    assert term.generate_ac(TC, 0x8D)[2] == 0x6985


def test_offline_pin_counter_blocks() -> None:
    term, _aid = start("contact_offline_pin")
    term.gpo()
    wrong = apdu.verify(apdu.plaintext_pin_block("9999"))
    assert [term.send(wrong)[1] for _ in range(3)] == [0x63C2, 0x63C1, 0x63C0]
    assert term.send(wrong)[1] == 0x6983
    assert term.send(apdu.verify(apdu.plaintext_pin_block("1234")))[1] == 0x6983
    assert term.ok(apdu.get_data(0x9F17)) == b"\x9f\x17\x01\x00"
    # A correct PIN before the limit resets the counter.
    term2, _ = start("contact_offline_pin")
    assert term2.send(wrong)[1] == 0x63C2
    assert term2.send(apdu.verify(apdu.plaintext_pin_block("1234")))[1] == 0x9000
    assert term2.ok(apdu.get_data(0x9F17)) == b"\x9f\x17\x01\x03"


def test_enciphered_offline_pin() -> None:
    term, aid = start("contact_offline_pin")
    term.gpo()
    term.read_records()
    icc = term.icc_key(aid).public_numbers()
    size = (icc.n.bit_length() + 7) // 8

    def encipher(pin: str, challenge: bytes) -> bytes:
        block = b"\x7f" + apdu.plaintext_pin_block(pin) + challenge
        block += bytes(range(size - len(block)))
        # Book 2 7.1: RSA with the ICC public key over 7F || PIN block || UN || pad.
        value = pow(int.from_bytes(block, "big"), icc.e, icc.n)
        return value.to_bytes(size, "big")

    challenge = term.ok(apdu.get_challenge())
    assert len(challenge) == 8
    assert term.send(apdu.verify(encipher("1234", challenge), enciphered=True))[1] == 0x9000
    # A challenge is good once; a stale one fails the verification.
    assert term.send(apdu.verify(encipher("1234", challenge), enciphered=True))[1] == 0x6985
    fresh = term.ok(apdu.get_challenge())
    assert term.send(apdu.verify(encipher("1234", challenge), enciphered=True))[1] == 0x63C2
    fresh = term.ok(apdu.get_challenge())
    assert term.send(apdu.verify(encipher("4321", fresh), enciphered=True))[1] == 0x63C1


def test_issuer_scripts() -> None:
    name = "contact_offline_pin"
    term, _aid = start(name)
    term.gpo()
    term.read_records()
    first, _c, _sw = term.generate_ac(ARQC, 0x8C)
    arqc, atc = first[0x9F26], first[0x9F36]
    model = term.cvn("payterm-test-visa", 10)
    # PIN change (pyemv builds the enciphered VIS PIN block and the MAC).
    command = model.generate_pin_change_command(pin="5678", tag_9f26=arqc, tag_9f36=atc)
    assert term.send(command)[1] == 0x9000
    # PUT DATA of the lower consecutive offline limit.
    header = bytes.fromhex("84DA9F1409")
    mac = model.generate_command_mac(header, arqc, atc, b"\x07")
    assert term.send(header + b"\x07" + mac)[1] == 0x9000
    assert term.ok(apdu.get_data(0x9F14)) == b"\x9f\x14\x01\x07"
    # A wrong MAC is refused and changes nothing.
    assert term.send(header + b"\x09" + mac)[1] == 0x6988
    assert term.ok(apdu.get_data(0x9F14)) == b"\x9f\x14\x01\x07"
    # APPLICATION BLOCK.
    block = bytes.fromhex("841E000008")
    assert term.send(block + model.generate_command_mac(block, arqc, atc))[1] == 0x9000
    second, _c2, _sw2 = term.generate_ac(TC, 0x8D, {0x8A: b"00"})
    assert second[0x9F27][0] & 0xC0 == AAC
    assert second[0x9F10][6] >> 4 == 4  # four script commands counted in the CVR
    term.card.power_on()
    assert term.send(apdu.select_by_name(bytes.fromhex("A0000000031010")))[1] == 0x6283
    assert term.send(apdu.get_processing_options(bytes(3)))[1] == 0x6985
    # The new PIN works (VERIFY after SELECT of the blocked application).
    assert term.send(apdu.verify(apdu.plaintext_pin_block("5678")))[1] == 0x9000


def test_scripts_need_an_arqc() -> None:
    term, _aid = start("contact_offline_pin")
    term.gpo()
    block = bytes.fromhex("841E000008") + bytes(8)
    assert term.send(block)[1] == 0x6985


# Contact, online PIN, SDA, EXTERNAL AUTHENTICATE --------------------------


def test_contact_online_pin_flow() -> None:
    name = "contact_online_pin"
    term, aid = start(name)
    _data, sw = term.gpo()
    assert sw == 0x9000 and term.pdol_data == b""
    term.read_records()
    dac = term.sda(aid)
    assert len(dac) == 2
    cvm = term.store[0x8E]
    assert cvm[8] & 0x3F == 0x02  # first rule: online enciphered PIN
    first, _c, _sw = term.generate_ac(TC, 0x8C)  # the card always goes online
    assert first[0x9F27][0] & 0xC0 == ARQC
    check_ac(term, name, first, term.store)
    model = term.cvn("payterm-test-mc", 16)
    arpc = model.generate_arpc(tag_9f26=first[0x9F26], arpc_rc=b"00")
    assert term.send(apdu.external_authenticate(arpc + b"00"))[1] == 0x9000
    assert term.send(apdu.external_authenticate(arpc + b"00"))[1] == 0x6985
    second, _c2, _sw2 = term.generate_ac(TC, 0x8D, {0x8A: b"00"})
    assert second[0x9F27][0] & 0xC0 == TC
    check_ac(term, name, second, term.store)


def test_contact_online_pin_issuer_auth_failure() -> None:
    term, _aid = start("contact_online_pin")
    term.gpo()
    term.read_records()
    first, _c, _sw = term.generate_ac(ARQC, 0x8C)
    assert first[0x9F27][0] & 0xC0 == ARQC
    assert term.send(apdu.external_authenticate(bytes(8) + b"00"))[1] == 0x6300
    second, _c2, _sw2 = term.generate_ac(TC, 0x8D, {0x8A: b"00"})
    assert second[0x9F27][0] & 0xC0 == AAC
    # Issuer authentication required: without it the card declines too.
    term2, _ = start("contact_online_pin")
    term2.gpo()
    term2.read_records()
    term2.generate_ac(ARQC, 0x8C)
    second2, _c3, _sw3 = term2.generate_ac(TC, 0x8D, {0x8A: b"00"})
    assert second2[0x9F27][0] & 0xC0 == AAC


def test_sda_detects_a_changed_record() -> None:
    term, aid = start("contact_online_pin")
    term.gpo()
    term.read_records()
    sfi, value = term.records[0]
    term.records[0] = (sfi, value[:-1] + bytes((value[-1] ^ 1,)))
    with pytest.raises(AssertionError, match="hash mismatch"):
        term.sda(aid)


# Contactless -----------------------------------------------------------------


def test_mastercard_cda_online_and_offline() -> None:
    name = "mastercard_cda"
    term, aid = start(name)
    assert aid == bytes.fromhex("A0000000041010")
    data, sw = term.gpo()
    assert data[0] == 0x77
    term.read_records()
    icc = term.icc_key(aid)
    first, cdol1, sw = term.generate_ac(ARQC | CDA, 0x8C)
    assert sw == 0x9000 and first[0x9F27][0] & 0xC0 == ARQC and 0x9F26 not in first
    dyn = term.dynamic_data(icc, first[0x9F4B], term.store[0x9F37])
    ldn = dyn[0]
    assert dyn[1 + ldn : 2 + ldn] == first[0x9F27]
    shown = [n for n in tlv.decode(first[-1])[0].children or [] if n.tag != 0x9F4B]
    assert (
        dyn[10 + ldn : 30 + ldn]
        == hashlib.sha1(term.pdol_data + cdol1 + tlv.encode(shown)).digest()
    )
    first[0x9F26] = dyn[2 + ldn : 10 + ldn]
    check_ac(term, name, first, term.store)
    assert first[0x9F10][3] & 0x10  # CVR: CDA in the first GENERATE AC
    # Offline: a fresh tap under the limit, TC with CDA.
    term2, _ = start(name)
    term2.gpo()
    term2.read_records()
    tc, _c, _sw = term2.generate_ac(TC | CDA, 0x8C)
    assert tc[0x9F27][0] & 0xC0 == TC
    dyn2 = term2.dynamic_data(term2.icc_key(aid), tc[0x9F4B], term2.store[0x9F37])
    tc[0x9F26] = dyn2[2 + dyn2[0] : 10 + dyn2[0]]
    check_ac(term2, name, tc, term2.store)


def test_cda_signature_does_not_verify_with_another_un() -> None:
    term, aid = start("mastercard_cda")
    term.gpo()
    term.read_records()
    first, _c, _sw = term.generate_ac(ARQC | CDA, 0x8C)
    with pytest.raises(AssertionError, match="hash mismatch"):
        term.dynamic_data(term.icc_key(aid), first[0x9F4B], bytes(4))


def test_visa_qvsdc_offline_fdda() -> None:
    name = "visa_qvsdc"
    term, aid = start(name)
    data, sw = term.gpo()
    assert sw == 0x9000
    response = tlv.to_dict(tlv.decode(data))
    assert response[0x9F27][0] & 0xC0 == TC
    term.read_records()
    check_ac(term, name, response, term.store)
    assert response[0x9F10][2] == 0x12  # CVN 18
    icc = term.icc_key(aid)
    related = response[0x9F69]
    assert related[0] == 0x01 and related[5:7] == response[0x9F6C]
    terminal = term.store[0x9F37] + term.store[0x9F02] + term.store[0x5F2A] + related
    dyn = term.dynamic_data(icc, response[0x9F4B], terminal)
    assert dyn[0] == 8
    # qVSDC: the transaction ended in GPO.
    assert term.generate_ac(TC, 0x8C if 0x8C in term.store else 0x9F38)[2] == 0x6985


def test_visa_qvsdc_online_and_cvm() -> None:
    name = "visa_qvsdc"
    term, _aid = start(name)
    # Online cryptogram required, CVM required, reader supports online PIN.
    term.store[0x9F66] = bytes.fromhex("34C00000")
    data, _sw = term.gpo()
    response = tlv.to_dict(tlv.decode(data))
    assert response[0x9F27][0] & 0xC0 == ARQC
    assert response[0x9F6C][0] & 0x80  # online PIN required
    assert 0x9F4B not in response  # no ODA for online in this TTQ
    term.read_records()
    check_ac(term, name, response, term.store)
    model = term.cvn("payterm-test-visa", 18)
    assert len(model.generate_arpc(response[0x9F26], response[0x9F36], bytes(4))) == 4
    # A reader without qVSDC gets 6985.
    term2, _ = start(name)
    term2.store[0x9F66] = bytes.fromhex("10000000")
    assert term2.gpo()[1] == 0x6985


# Expired and blocked -----------------------------------------------------------


def test_expired_card() -> None:
    term, _aid = start("expired")
    term.gpo()
    term.read_records()
    expiry = term.store[0x5F24].hex()
    date = datetime.date(2000 + int(expiry[:2]), int(expiry[2:4]), int(expiry[4:]))
    assert date < datetime.date.today()
    # The terminal sets "expired application" (TVR byte 2 bit 7); the card declines.
    first, _c, _sw = term.generate_ac(ARQC, 0x8C, {0x95: bytes.fromhex("0040000000")})
    assert first[0x9F27][0] & 0xC0 == AAC
    check_ac(term, "expired", first, {**term.store, 0x95: bytes.fromhex("0040000000")})


def test_blocked_card() -> None:
    card = load_profile("blocked")
    card.power_on()
    term = Terminal(card)
    term.select_app(False)
    assert term.select_sw == 0x6283
    assert term.store[0x50] == b"VISA CREDIT"  # the FCI still comes back
    assert term.gpo()[1] == 0x6985


# Malformed commands ------------------------------------------------------------

MALFORMED = [
    ("00A4", 0x6700),  # shorter than a header
    ("00A4040000", 0x6700),  # SELECT with Le only: no name
    ("00A4040C", 0x6A86),  # SELECT with P2 0C
    ("00A4010007A0000000031010", 0x6A86),  # SELECT by file identifier
    ("00A4040007A000000099999900", 0x6A82),  # unknown AID
    ("90A4040007A000000003101000", 0x6E00),  # unknown class
    ("80A4040007A000000003101000", 0x6E00),  # SELECT under the proprietary class
    ("00FF000000", 0x6D00),  # unknown instruction
    ("80A8000002830000", 0x6985),  # GPO before SELECT
    ("00B2010C00", 0x6986),  # READ RECORD before SELECT
    ("80AE800000", 0x6985),  # GENERATE AC before GPO
    ("002000800412341234", 0x6985),  # VERIFY before SELECT
    ("0084000100", 0x6A86),  # GET CHALLENGE with P2 01
    ("00820000020000", 0x6700),  # EXTERNAL AUTHENTICATE with 2 bytes
    ("00C0000000", 0x6985),  # GET RESPONSE with nothing pending
]


@pytest.mark.parametrize(("command", "sw"), MALFORMED)
def test_malformed_commands(command: str, sw: int) -> None:
    card = load_profile("contact_offline_pin")
    card.power_on()
    reply = card.transmit(bytes.fromhex(command))
    assert reply[-2:] == sw.to_bytes(2, "big")
    # The card keeps working.
    term = Terminal(card)
    term.select_app(False)
    assert term.gpo()[1] == 0x9000


MALFORMED_SELECTED = [
    ("80A8000003830100", 0x6700),  # PDOL data of the wrong length
    ("80A80000057F0100", 0x6700),  # Lc 5 with 3 data bytes
    ("80A80000028100", 0x6A80),  # not a command template 83
    ("80A8010002830000", 0x6A86),  # GPO with P1 01
    ("00B2000C00", 0x6A86),  # record 0
    ("00B2010800", 0x6A86),  # P2 without 100 in its low bits
    ("00B2091400", 0x6A83),  # record 9 of SFI 2
    ("00B2017400", 0x6A82),  # SFI 14 does not exist
    ("80CA9F7F00", 0x6A88),  # GET DATA of an unknown tag
    ("002000810812FFFFFFFFFFFFFF", 0x6A86),  # VERIFY P2 81
    ("0020008004241234FF", 0x6700),  # plaintext PIN block of 4 bytes
    ("002000800834123FFFFFFFFFFF", 0x6A80),  # not a format 2 block
    ("0088000000", 0x6700),  # INTERNAL AUTHENTICATE without data
    ("80AEC00000", 0x6A86),  # GENERATE AC asking for RFU cryptogram type
]


@pytest.mark.parametrize(("command", "sw"), MALFORMED_SELECTED)
def test_malformed_commands_in_a_transaction(command: str, sw: int) -> None:
    card = load_profile("contact_offline_pin")
    card.power_on()
    term = Terminal(card)
    term.select_app(False)
    if command.startswith("80A8") is False:
        assert term.gpo()[1] == 0x9000
    assert card.transmit(bytes.fromhex(command))[-2:] == sw.to_bytes(2, "big")
    assert term.ok(apdu.read_record(1, 1))[0] == 0x70


def test_long_response_uses_get_response() -> None:
    card = load_profile("contact_offline_pin")
    card.power_on()
    term = Terminal(card)
    term.select_app(False)
    term.gpo()
    # Le shorter than the record: 6Cxx tells the right length.
    data, sw = term.send(apdu.Command(0x00, 0xB2, 1, (3 << 3) | 4, le=16).encode())
    assert sw >> 8 == 0x6C and data == b""
    full = term.ok(apdu.Command(0x00, 0xB2, 1, (3 << 3) | 4, le=sw & 0xFF).encode())
    assert len(full) == sw & 0xFF
    assert apdu.exchange(card.transmit, apdu.read_record(1, 3)).data == full


APDU_CLASSES = st.sampled_from([0x00, 0x04, 0x80, 0x84, 0x90, 0xFF])
APDU_INS = st.sampled_from(
    [0xA4, 0xB2, 0xA8, 0xAE, 0xCA, 0x88, 0x84, 0x20, 0x82, 0xC0, 0x1E, 0x18, 0x24, 0xDA, 0x16, 0x00]
)


@given(
    name=st.sampled_from(sorted(ISSUER)),
    prefix=st.integers(0, 4),
    commands=st.lists(
        st.one_of(
            st.binary(max_size=300),
            st.tuples(
                APDU_CLASSES,
                APDU_INS,
                st.integers(0, 255),
                st.integers(0, 255),
                st.binary(max_size=260),
            ).map(
                lambda t: (
                    bytes(t[:4])
                    + (bytes((len(t[4]),)) + t[4] if 0 < len(t[4]) < 256 else b"")
                    + b"\x00"
                )
            ),
        ),
        max_size=8,
    ),
)
def test_fuzz_apdus_always_get_a_status_word(name: str, prefix: int, commands: list[bytes]) -> None:
    card = load_profile(name, rng=lambda n: bytes(n))
    card.power_on()
    term = Terminal(card)
    if prefix >= 1:
        term.select_app(name in CONTACTLESS)
    if prefix >= 2:
        term.gpo()
    if prefix >= 3 and term.afl:
        term.read_records()
    if prefix >= 4 and 0x8C in term.store:
        term.generate_ac(ARQC, 0x8C)  # scripts, EXTERNAL AUTHENTICATE, 2nd AC
    for command in commands:
        reply = card.transmit(command)
        assert len(reply) >= 2
        sw = int.from_bytes(reply[-2:], "big")
        assert sw != 0x6F00, f"internal error on {command.hex()}"
        assert sw >> 8 in (0x90, 0x61, 0x62, 0x63, 0x67, 0x69, 0x6A, 0x6C, 0x6D, 0x6E)
        if sw >> 8 != 0x90 and sw >> 8 != 0x61:
            assert sw == 0x6283 or reply == reply[-2:], "an error carries no data"
    # And then the card still answers a selection.
    card.power_on()
    again = Terminal(card)
    again.select_app(name in CONTACTLESS)
    assert again.select_sw in (0x9000, 0x6283)


def test_capk_and_issuer_keys_are_labelled_test() -> None:
    for name in ("capk_test.json", "issuer_keys.json", "pki.json"):
        assert "TEST" in load(name)["_warning"]


def test_second_generate_ac_with_cda_hashes_cdol2() -> None:
    name = "contact_offline_pin"
    term, aid = start(name)
    term.gpo()
    term.read_records()
    icc = term.icc_key(aid)
    first, cdol1, _sw = term.generate_ac(ARQC | CDA, 0x8C)
    dyn = term.dynamic_data(icc, first[0x9F4B], term.store[0x9F37])
    arqc = dyn[2 + dyn[0] : 10 + dyn[0]]
    first[0x9F26] = arqc
    check_ac(term, name, first, term.store)
    arpc = term.cvn("payterm-test-visa", 10).generate_arpc(tag_9f26=arqc, arpc_rc=b"00")
    second, cdol2, _sw = term.generate_ac(TC | CDA, 0x8D, {0x91: arpc + b"00", 0x8A: b"00"})
    assert second[0x9F27][0] & 0xC0 == TC
    dyn2 = term.dynamic_data(icc, second[0x9F4B], term.store[0x9F37])
    ldn = dyn2[0]
    shown = [n for n in tlv.decode(second[-1])[0].children or [] if n.tag != 0x9F4B]
    expected = hashlib.sha1(term.pdol_data + cdol1 + cdol2 + tlv.encode(shown)).digest()
    assert dyn2[10 + ldn : 30 + ldn] == expected
    second[0x9F26] = dyn2[2 + ldn : 10 + ldn]
    check_ac(term, name, second, term.store)


def test_counters_persist_in_a_state_file(tmp_path: Path) -> None:
    path = tmp_path / "card.json"
    card = load_profile("contact_offline_pin", state_file=path)
    card.power_on()
    term = Terminal(card)
    term.select_app(False)
    term.gpo()
    assert term.send(apdu.verify(apdu.plaintext_pin_block("0000")))[1] == 0x63C2
    again = load_profile("contact_offline_pin", state_file=path)
    again.power_on()
    term2 = Terminal(again)
    term2.select_app(False)
    term2.gpo()
    assert atc_of(term2) == 2
    assert term2.ok(apdu.get_data(0x9F17)) == b"\x9f\x17\x01\x02"


def test_contactless_cards_fit_the_nfc_field() -> None:
    from host_sim.nfc.virtual_card import VirtualCard, check_card

    for name in sorted(CONTACTLESS):
        card = load_profile(name)
        assert isinstance(card, VirtualCard)
        check_card(card)
        reply = card.process_apdu(apdu.select_by_name(b"2PAY.SYS.DDF01"))
        assert reply[-2:] == b"\x90\x00"


def test_issuer_key_check_values() -> None:
    """The KCVs beside the issuer master keys (what the HSM compares when it
    loads them), recomputed with pycryptodome: TDES of a zero block."""
    from Crypto.Cipher import DES3

    for issuer in load("issuer_keys.json")["issuers"].values():
        for usage in ("ac", "smi", "smc"):
            key = bytes.fromhex(issuer[usage])
            assert all(bin(b).count("1") % 2 for b in key), "odd parity"
            kcv = DES3.new(key, DES3.MODE_ECB).encrypt(bytes(8))[:3]
            assert kcv.hex().upper() == issuer[f"{usage}_kcv"]


def test_mastercard_like_scripts_count_the_arqc() -> None:
    """M/Chip-style secure messaging: R = ARQC + n for the n-th command
    (pyemv's MasterCardCVN16 convention)."""
    term, _aid = start("contact_online_pin")
    term.gpo()
    term.read_records()
    first, _c, _sw = term.generate_ac(ARQC, 0x8C)
    arqc, atc = first[0x9F26], first[0x9F36]
    model = term.cvn("payterm-test-mc", 16)
    block = bytes.fromhex("841E000008")
    assert term.send(block + model.generate_command_mac(block, arqc, atc))[1] == 0x9000

    def plus(n: int) -> bytes:
        return (int.from_bytes(arqc, "big") + n).to_bytes(8, "big")

    unblock = bytes.fromhex("8418000008")
    # Command 1 MACed as if it were command 0: refused (it still counts).
    assert term.send(unblock + model.generate_command_mac(unblock, arqc, atc))[1] == 0x6988
    assert term.send(unblock + model.generate_command_mac(unblock, plus(2), atc))[1] == 0x9000
    pin = model.generate_pin_change_command(pin="2468", tag_9f26=plus(3), tag_9f36=atc)
    assert term.send(pin)[1] == 0x9000
    assert term.card.pin == "2468"
    assert not term.card.blocked


def test_t0_transport_answers_61xx_and_get_response() -> None:
    t1 = load_profile("contact_offline_pin")
    t0 = load_profile("contact_offline_pin")
    t0.t0 = True
    for card in (t1, t0):
        card.power_on()
    select = apdu.select_by_name(bytes.fromhex("A0000000031010"))
    raw = t0.transmit(select)
    assert raw[0] == 0x61 and len(raw) == 2
    fetched = t0.transmit(apdu.get_response(raw[1]))
    assert fetched == t1.transmit(select)
    # Through the reader-side helper, GPO gives the same bytes both ways.
    pdol_data = bytes.fromhex("040022")
    gpo = apdu.get_processing_options(pdol_data)
    assert apdu.exchange(t0.transmit, gpo).data == apdu.exchange(t1.transmit, gpo).data
    # A warning with data under T=0: the warning first, the data on GET RESPONSE.
    blocked = load_profile("blocked")
    blocked.t0 = True
    blocked.power_on()
    assert blocked.transmit(select) == b"\x62\x83"
    fci = blocked.transmit(apdu.get_response(256))
    assert fci[0] == 0x6F and fci[-2:] == b"\x90\x00"


def test_transaction_log() -> None:
    term, _aid = start("contact_offline_pin")
    log_entry = term.store[0x9F4D]  # from the FCI: SFI, number of records
    log_format = term.ok(apdu.get_data(0x9F4F))[3:]
    assert term.send(apdu.read_record(1, log_entry[0]))[1] == 0x6A83  # empty log
    term.gpo()
    term.read_records()
    first, _c, _sw = term.generate_ac(TC, 0x8C)
    assert first[0x9F27][0] & 0xC0 == TC
    record = term.ok(apdu.read_record(1, log_entry[0]))
    values = {}
    pos = 0
    for tag, length in tlv.parse_dol(log_format):
        values[tag] = record[pos : pos + length]
        pos += length
    assert pos == len(record)
    assert values[0x9F02] == term.store[0x9F02]
    assert values[0x9A] == term.store[0x9A]
    assert values[0x9F27] == first[0x9F27] and values[0x9F36] == first[0x9F36]
    assert term.send(apdu.read_record(2, log_entry[0]))[1] == 0x6A83


def test_unfinished_online_transaction_is_remembered() -> None:
    term, _aid = start("contact_offline_pin")
    term.gpo()
    term.read_records()
    first, _c, _sw = term.generate_ac(ARQC, 0x8C)
    assert first[0x9F27][0] & 0xC0 == ARQC
    # The card leaves the reader before the second GENERATE AC.
    term.card.power_on()
    again = Terminal(term.card)
    again.select_app(False)
    again.gpo()
    again.read_records()
    small = {0x9F02: bytes.fromhex("000000000100")}
    second_txn, _c2, _sw2 = again.generate_ac(TC, 0x8C, small)
    assert second_txn[0x9F27][0] & 0xC0 == ARQC  # would be a TC otherwise
    assert second_txn[0x9F10][5] & 0x80  # CVR: last online transaction not completed


def test_arpc_method_2_as_the_card_checks_it() -> None:
    """CVN 18 issuer authentication data (ARPC method 2 + CSU) from pyemv,
    checked by the card-side function with the card's own ICC keys."""
    from host_sim.cards import cryptogram

    card = load_profile("visa_qvsdc")
    term = Terminal(card)
    card.power_on()
    term.select_app(True)
    term.gpo()
    term.read_records()
    model = term.cvn("payterm-test-visa", 18)
    arqc, atc, csu = bytes.fromhex("1122334455667788"), b"\x00\x01", bytes.fromhex("00800000")
    arpc = model.generate_arpc(tag_9f26=arqc, tag_9f36=atc, csu=csu)
    ok, _arc, got_csu = cryptogram.check_arpc(card.keys, 18, atc, arqc, arpc + csu)
    assert ok and got_csu == csu
    assert not cryptogram.check_arpc(card.keys, 18, atc, arqc, bytes(4) + csu)[0]
    assert not cryptogram.check_arpc(card.keys, 18, b"\x00\x02", arqc, arpc + csu)[0]
