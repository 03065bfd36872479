"""The QR content every fiscal receipt carries (docs/fiscal.md, "Receipt QR").

    "PTF1:" + BASE32(signed header | sig_counter u32 | sig_len u8 | signature)

BASE32 is RFC 4648's alphabet without padding: every character is in the QR
alphanumeric set, so the symbol uses alphanumeric mode (5.5 bits a
character).  The signed header holds device ID, sequence, time, the record's
amount, the turnover counters, the previous record hash and the payload's
SHA-256; an inspector checks the ECDSA signature against the device's public
key without the journal.
"""

from protocols.errors import DecodeError
from protocols.fiscal_record import Record, decode_signed_header, encode_signed_header

PREFIX = "PTF1:"
_ALPHA = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def b32encode(data: bytes) -> str:
    out = []
    acc = 0
    bits = 0
    for b in data:
        acc = (acc << 8) | b
        bits += 8
        while bits >= 5:
            bits -= 5
            out.append(_ALPHA[(acc >> bits) & 31])
    if bits:
        out.append(_ALPHA[(acc << (5 - bits)) & 31])
    return "".join(out)


def b32decode(text: str) -> bytes:
    out = bytearray()
    acc = 0
    bits = 0
    for i, ch in enumerate(text):
        v = _ALPHA.find(ch)
        if v < 0:
            raise DecodeError("not base32: %r" % ch, offset=i, field="qr")
        acc = ((acc << 5) | v) & 0xFFF
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
    if bits >= 5 or (acc & ((1 << bits) - 1)):
        raise DecodeError("non-canonical base32 tail", offset=len(text), field="qr")
    return bytes(out)


def encode(rec: Record) -> str:
    return PREFIX + b32encode(encode_signed_header(rec))


def decode(text: str) -> "tuple[Record, bytes]":
    """The record (without payload) and the signed header bytes."""
    if not isinstance(text, str) or not text.startswith(PREFIX):
        raise DecodeError("not a payterm fiscal QR (PTF1:)", offset=0, field="qr")
    return decode_signed_header(b32decode(text[len(PREFIX) :]))
