"""protocols.se_frame: round trips, CRC against binascii.crc_hqx (an
independent CRC-16/CCITT-FALSE), and fuzzing (only DecodeError escapes)."""

from __future__ import annotations

import binascii

from hypothesis import given
from hypothesis import strategies as st

from protocols import se_frame
from protocols.errors import DecodeError


@given(st.integers(0, 255), st.binary(max_size=se_frame.MAX_PAYLOAD))
def test_round_trip_and_reference_crc(first: int, payload: bytes) -> None:
    raw = se_frame.encode_request(first, payload)
    crc = binascii.crc_hqx(raw[:-2], 0xFFFF)
    assert raw[-2:] == bytes((crc >> 8, crc & 0xFF))
    assert se_frame.decode(raw) == (first, payload)
    assert se_frame.frame_length(raw[:3]) == len(raw)
    assert se_frame.check_body(raw[:3], raw[3:]) == payload


@given(st.binary(max_size=64))
def test_arbitrary_bytes_raise_only_decode_error(data: bytes) -> None:
    try:
        first, payload = se_frame.decode(data)
    except DecodeError:
        return
    assert se_frame.encode_request(first, payload) == data


def test_names_from_the_tables() -> None:
    assert se_frame.status_name(se_frame.ST_BUSY) == "BUSY"
    assert se_frame.status_name(0xEE) == "STATUS_EE"
    assert se_frame.command_name(se_frame.CMD_RESEND) == "RESEND"
