"""The fiscal record codec: canonical round trips, every byte of the layout
accounted for, and arbitrary input rejected only with DecodeError."""

from __future__ import annotations

import contextlib
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import fiscal_payload as fp
from protocols import fiscal_qr
from protocols import fiscal_record as fr
from protocols.errors import DecodeError, EncodeError

rates = st.lists(
    st.tuples(st.integers(0, 10000), st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1)),
    max_size=16,
    unique_by=lambda t: t[0],
)
records = st.builds(
    lambda t, dev, seq, time, prev, rs, payload, sc, sig, gt, amount: fr.Record(
        t, dev, seq, time, prev, fr.Counters(rs), payload, sc, sig, gt, fr.VERSION, amount
    ),
    st.integers(1, 10),
    st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=32
    ),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1),
    st.binary(min_size=32, max_size=32),
    rates,
    st.binary(max_size=300),
    st.integers(0, 2**32 - 1),
    st.binary(max_size=80),
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**64 - 1),
)


@settings(max_examples=300)
@given(records)
def test_round_trip_is_canonical(rec: fr.Record) -> None:
    raw = rec.encode()
    back = fr.decode(raw)
    assert back.encode() == raw
    assert back.digest() == hashlib.sha256(raw[: back.header_len]).digest()
    assert (back.seq, back.time, back.device_id, back.payload) == (
        rec.seq,
        rec.time,
        rec.device_id,
        rec.payload,
    )
    qr = fiscal_qr.encode(rec)
    q, header = fiscal_qr.decode(qr)
    assert header == raw[: back.header_len]
    assert (q.signature, q.sig_counter, q.payload_hash) == (
        rec.signature,
        rec.sig_counter,
        hashlib.sha256(rec.payload).digest(),
    )


def test_layout_byte_by_byte() -> None:
    rec = fr.Record(
        fr.SALE, "AB", 7, 0x01020304, b"\x11" * 32, fr.Counters([(1600, 390, 5)]), b"xy", 9, b"S"
    )
    raw = rec.encode()
    ph = hashlib.sha256(b"xy").digest()
    want = (
        b"FR\x01\x01\x02AB"
        + b"\x00\x00\x00\x07\x01\x02\x03\x04"
        + b"\x11" * 32
        + b"\x01\x06\x40"
        + (390).to_bytes(8, "big")
        + (5).to_bytes(8, "big")
        + (390).to_bytes(8, "big")
        + (0).to_bytes(8, "big")
        + b"\x00\x02"
        + ph
        + b"xy"
        + b"\x00\x00\x00\x09\x01S"
    )
    assert raw == want
    assert rec.digest() == hashlib.sha256(want[: len(want) - 2 - 6]).digest()


@settings(max_examples=1000)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_only_decode_error(data: bytes) -> None:
    for fn in (
        fr.decode,
        fr.decode_signed_header,
        fp.decode_receipt,
        fp.decode_report,
        fp.decode_event,
    ):
        with contextlib.suppress(DecodeError):
            fn(data)


@settings(max_examples=300)
@given(records, st.data())
def test_mutations_are_rejected_or_change_the_hash(rec: fr.Record, d: st.DataObject) -> None:
    raw = bytearray(rec.encode())
    i = d.draw(st.integers(0, len(raw) - 1))
    raw[i] ^= d.draw(st.integers(1, 255))
    try:
        back = fr.decode(bytes(raw))
    except DecodeError:
        return
    assert back.encode() == bytes(raw)  # still canonical: a different record


@given(st.text(max_size=60))
def test_qr_text_only_decode_error(text: str) -> None:
    with contextlib.suppress(DecodeError):
        fiscal_qr.decode("PTF1:" + text)


def test_truncation_at_every_length_names_a_field() -> None:
    rec = fr.Record(
        fr.REFUND, "DEV1", 1, 2, fr.ZERO_HASH, fr.Counters([(0, 1, 2)]), b"p", 3, b"s" * 64
    )
    raw = rec.encode()
    for n in range(len(raw)):
        with pytest.raises(DecodeError) as e:
            fr.decode(raw[:n])
        assert e.value.field is not None
    with pytest.raises(DecodeError, match="trailing"):
        fr.decode(raw + b"\x00")


def test_encoder_refuses_bad_values() -> None:
    ok = dict(
        rtype=fr.SALE, device_id="D", seq=1, time=1, prev_hash=fr.ZERO_HASH, counters=fr.Counters()
    )
    for bad in (
        {"rtype": 0},
        {"device_id": ""},
        {"device_id": "a b"},
        {"seq": -1},
        {"seq": 2**32},
        {"prev_hash": b"\x00"},
        {"counters": fr.Counters([(10001, 0, 0)])},
    ):
        args = dict(ok)
        args.update(bad)
        with pytest.raises(EncodeError):
            fr.Record(**args).encode()  # type: ignore[arg-type]


def test_payload_round_trips_and_rounding() -> None:
    rc = fp.Receipt(
        [(1600, 1500, 333, fp.line_amount(1500, 333), "تفاح"), (0, 1000, 5, 5, "x")], 2, 9
    )
    assert rc.check() is None
    back = fp.decode_receipt(fp.encode_receipt(rc))
    assert back.lines == rc.lines and back.method == 2 and back.ref_seq == 9
    assert fp.line_amount(1500, 333) == 500  # 499.5 rounds half up
    assert back.totals() == [(0, 5), (1600, 500)]
    rp = fp.Report(3, 100, 5, 9, 5, b"\x22" * 32, [(0, 1, 2), (1600, 3, 4)])
    assert fp.decode_report(fp.encode_report(rp)) == rp
    ev = fp.decode_event(fp.encode_event(fp.Event(7, 8, "boot")))
    assert (ev.code, ev.ref_seq, ev.text) == (7, 8, "boot")
    with pytest.raises(DecodeError):
        fp.decode_event(b"\x00\x01\x00\x00\x00\x00\x02\xff\xfe")
