"""protocols.atr against published card ATRs (tests/vectors/atr_cards.json, from
pcsc-tools' smartcard_list.txt, fields worked out by hand from ISO 7816-3),
against pyscard's ATR parser over every fully written ATR of smartcard_list.txt
(when pcsc-tools is installed), and under fuzzing."""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
import smartcard.ATR
from hypothesis import given
from hypothesis import strategies as st

from protocols import atr
from protocols.errors import DecodeError

VECTORS = json.loads((Path(__file__).parent / "vectors" / "atr_cards.json").read_text())["atrs"]
SMARTCARD_LIST = Path("/usr/share/pcsc/smartcard_list.txt")


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["atr"][:16])
def test_published_atrs_decode_to_the_hand_worked_fields(vector: dict[str, Any]) -> None:
    raw = bytes.fromhex(vector["atr"])
    a = atr.decode(raw)
    assert a.raw == raw
    got = a.to_dict()
    for key, want in vector.items():
        if key in ("atr", "card"):
            continue
        if key == "protocols":
            assert a.protocols == want
        elif key == "default_protocol":
            assert a.default_protocol == want
        elif key in ("clock_stop", "classes"):
            assert getattr(a, key) == want
        else:
            assert got[key] == want, key
    # every prefix: the length is known exactly once the interface bytes are in
    for n in range(1, len(raw) + 1):
        length = atr.expected_length(raw[:n])
        assert length is None or length == len(raw)
    assert atr.expected_length(raw) == len(raw)


def test_interface_bytes_of_a_t0_t1_t15_atr() -> None:
    # "Bank card" of smartcard_list.txt: TA1 96, TC1 00, TD1 80 (T=0), TD2 B1
    # (T=1), TA3 FE, TB3 45, TD3 1F (T=15), TA4 83.
    a = atr.decode(bytes.fromhex("3BDB960080B1FE451F830031C064BE1B0100019000FB"))
    assert [g[0] for g in a.groups] == [1, 2, 3, 4]
    assert [g[1] for g in a.groups] == [None, 0, 1, 15]
    assert (a.ta(1), a.tb(1), a.tc(1), a.td(1)) == (0x96, None, 0x00, 0x80)
    assert (a.ta(3), a.tb(3), a.td(3), a.ta(4)) == (0xFE, 0x45, 0x1F, 0x83)
    assert a.specific_mode is None and a.wi == atr.DEFAULT_WI


def test_specific_mode_wi_and_crc() -> None:
    # Built by hand: T0 = F0 (TA1 TB1 TC1 TD1, K 0), TA1 11, TB1 00, TC1 02,
    # TD1 F0 (TA2..TD2, T=0), TA2 81 (T=1, unable to change), TB2 00, TC2 20
    # (WI 32), TD2 21 (TB3, T=1), TB3 52, then TCK.
    body = bytes.fromhex("F0110002F0810020 2152".replace(" ", ""))
    tck = 0
    for b in body:
        tck ^= b
    a = atr.decode(b"\x3b" + body + bytes([tck]))
    assert a.specific_mode == (1, False, False)
    assert a.default_protocol == 1
    assert a.wi == 0x20
    assert (a.bwi, a.cwi, a.extra_guard_time) == (5, 2, 2)
    # TC of the first T=1 group, b1 = 1: CRC
    body = bytes.fromhex("80 81 41 01".replace(" ", ""))
    x = 0
    for b in body:
        x ^= b
    assert atr.decode(b"\x3b" + body + bytes([x])).edc == "CRC"


def test_inverse_convention_as_a_direct_uart_sees_it() -> None:
    # ISO 7816-3 §8.1: TS of the inverse convention is 3F; a receiver decoding
    # in direct convention reads it as 03.
    assert atr.inverse_byte(0x03) == 0x3F
    assert atr.inverse_byte(0x00) == 0xFF and atr.inverse_byte(0x80) == 0xFE
    assert all(atr.inverse_byte(atr.inverse_byte(b)) == b for b in range(256))
    logical = bytes.fromhex("3F65250024096B9000")
    as_seen = bytes(atr.inverse_byte(b) for b in logical)
    assert as_seen[0] == 0x03
    a = atr.decode(as_seen)
    assert a.convention == "inverse" and a.raw == logical
    assert atr.expected_length(as_seen[:3]) is None
    assert atr.expected_length(as_seen[:4]) == len(logical)


@pytest.mark.parametrize(
    ("hexatr", "field"),
    [
        ("", "TS"),
        ("3A", "TS"),
        ("3BE600FF8131FE4544492030324D71", "TCK"),  # TCK off by one bit
        ("3BE600FF8131FE4544492030324D", "TCK"),  # TCK missing
        ("3B6500002063CB68", "historical bytes"),  # one historical byte short
        ("3BE600", "TDi"),  # ends inside the interface bytes
    ],
)
def test_malformed_atrs_name_the_place(hexatr: str, field: str) -> None:
    with pytest.raises(DecodeError) as err:
        atr.decode(bytes.fromhex(hexatr))
    assert err.value.field == field


def test_trailing_bytes_and_overlong_atrs_are_refused() -> None:
    with pytest.raises(DecodeError) as err:
        atr.decode(bytes.fromhex("3B6500002063CB680026"))
    assert err.value.offset == 9
    # 15 historical bytes after a chain of TDi with every interface byte: too long
    overlong = b"\x3b\xff" + b"\x11\x00\x00\xf1" * 4 + b"\x11\x00\x00\x01" + bytes(15) + b"\x00"
    with pytest.raises(DecodeError):
        atr.decode(overlong)
    with pytest.raises(DecodeError):
        atr.expected_length(overlong)


def _pyscard_view(raw: bytes) -> tuple[bytes, list[int], bool, bool]:
    p = smartcard.ATR.ATR(list(raw))
    hist = bytes(p.getHistoricalBytes())
    protocols = sorted(int(k[2:]) for k in p.getSupportedProtocols() if k != "T=15") or [0]
    length = 2 + sum(1 for lst in (p.TA, p.TB, p.TC, p.TD) for b in lst if b is not None)
    length += p.K + (1 if p.TCK is not None else 0)
    # ISO 7816-3 §8.2.5: TCK is there unless only T=0 is indicated.
    only_t0 = all(td is None or td & 0x0F == 0 for td in p.TD)
    consistent = (
        len(hist) == p.K
        and length == len(raw)
        and getattr(p, "checksumOK", None) is not False
        and (p.TCK is None) == only_t0
    )
    return hist, protocols, p.TCK is not None, bool(consistent)


@pytest.mark.skipif(not SMARTCARD_LIST.exists(), reason="pcsc-tools' smartcard_list.txt absent")
def test_agrees_with_pyscard_on_every_atr_of_smartcard_list() -> None:
    text = SMARTCARD_LIST.read_text(encoding="utf-8", errors="replace")
    atrs = [ln.strip() for ln in text.splitlines() if re.fullmatch(r"3[BF]( [0-9A-F]{2})+", ln)]
    assert len(atrs) > 3000
    agreed = refused = 0
    for line in atrs:
        raw = bytes.fromhex(line.replace(" ", ""))
        hist, protocols, has_tck, consistent = _pyscard_view(raw)
        try:
            a = atr.decode(raw)
        except DecodeError:
            # Refused only where pyscard's own reading is inconsistent: too few
            # historical bytes, bytes left over, a TCK that does not check, a TCK
            # after an ATR indicating only T=0, or none after one indicating more.
            assert not consistent, line
            refused += 1
            continue
        assert consistent, line
        assert (a.historical, sorted(a.protocols), a.tck is not None) == (
            hist,
            protocols,
            has_tck,
        ), line
        agreed += 1
    assert agreed > 3500 and refused < 150, (agreed, refused)


@given(st.binary(max_size=40))
def test_arbitrary_bytes_raise_only_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        atr.decode(data)
    try:
        n = atr.expected_length(data)
    except DecodeError:
        return
    assert n is None or 2 <= n <= atr.MAX_LENGTH


@given(st.binary(min_size=1, max_size=32))
def test_structured_fuzz_with_a_valid_ts(tail: bytes) -> None:
    try:
        a = atr.decode(b"\x3b" + tail)
    except DecodeError:
        return
    assert a.raw == b"\x3b" + tail
    assert atr.expected_length(a.raw) == len(a.raw)
