"""The fiscal record: canonical binary encoding shared by terminal and host.

Layout (docs/fiscal.md, "Record"), all integers unsigned big-endian::

    magic "FR" | version u8 (=1) | type u8 | dev_len u8 | device_id
    | seq u32 | time u32 | prev_hash 32
    | n_rates u8 | n_rates x (rate_bp u16 | sales u64 | refunds u64)
    | grand_total u64 | amount u64 | payload_len u16 | payload_hash 32
    ---- signed header ends: digest = SHA-256(header), what the SE signs
    | payload | sig_counter u32 | sig_len u8 | signature

The payload is bound to the signature through its SHA-256 in the signed
header, so a receipt's QR code can carry the signed header and signature
without the receipt lines and still be verified offline.

The encoding is a bijection: ``encode(decode(b)) == b`` for every accepted
``b`` (no optional fields, no alternative forms, rates strictly ascending),
so a record's hash (SHA-256 of all its bytes) identifies it.
"""

import hashlib

from protocols.errors import DecodeError, EncodeError
from protocols.fiscal_reader import Reader, put_uint

MAGIC = b"FR"
VERSION = 1

SALE = 1
REFUND = 2
VOID = 3
TRAINING = 4
X_REPORT = 5
Z_REPORT = 6
POWER_ON = 7
CONFIG_CHANGE = 8
TAMPER = 9
SIGNER_FAILURE = 10

TYPES = (
    (SALE, "sale"),
    (REFUND, "refund"),
    (VOID, "void"),
    (TRAINING, "training"),
    (X_REPORT, "x_report"),
    (Z_REPORT, "z_report"),
    (POWER_ON, "power_on"),
    (CONFIG_CHANGE, "config_change"),
    (TAMPER, "tamper"),
    (SIGNER_FAILURE, "signer_failure"),
)

MAX_DEVICE_ID = 32
MAX_RATES = 16
MAX_PAYLOAD = 4096
MAX_RATE_BP = 10000
MAX_SIGNATURE = 80
HASH_LEN = 32
ZERO_HASH = b"\x00" * 32


def type_name(t: int) -> str:
    for value, name in TYPES:
        if value == t:
            return name
    return "unknown(%d)" % t


def _known(t: int) -> bool:
    return SALE <= t <= SIGNER_FAILURE


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


class Counters:
    """Lifetime turnover: per tax rate (basis points) sales and refunds, in
    minor units; ``grand_total`` is the sum of sales over all rates."""

    def __init__(self, rates: "list[tuple[int, int, int]] | None" = None) -> None:
        # list of (rate_bp, sales, refunds), kept sorted by rate_bp
        self.rates: list[tuple[int, int, int]] = sorted(rates) if rates else []

    def copy(self) -> "Counters":
        return Counters(list(self.rates))

    def get(self, rate_bp: int) -> "tuple[int, int]":
        for r, s, f in self.rates:
            if r == rate_bp:
                return s, f
        return 0, 0

    def add(self, rate_bp: int, sales: int, refunds: int) -> None:
        out = []
        found = False
        for r, s, f in self.rates:
            if r == rate_bp:
                out.append((r, s + sales, f + refunds))
                found = True
            else:
                out.append((r, s, f))
        if not found:
            out.append((rate_bp, sales, refunds))
            out.sort()
        self.rates = out

    def grand_total(self) -> int:
        t = 0
        for _r, s, _f in self.rates:
            t += s
        return t

    def minus(self, base: "Counters") -> "Counters":
        """Movement since ``base`` (rates that did not move are left out)."""
        out = Counters()
        for r, s, f in self.rates:
            bs, bf = base.get(r)
            if s != bs or f != bf:
                out.add(r, s - bs, f - bf)
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Counters) and self.rates == other.rates

    def __repr__(self) -> str:
        return "Counters(%r)" % (self.rates,)


class Record:
    def __init__(
        self,
        rtype: int,
        device_id: str,
        seq: int,
        time: int,
        prev_hash: bytes,
        counters: "Counters",
        payload: bytes = b"",
        sig_counter: int = 0,
        signature: bytes = b"",
        grand_total: "int | None" = None,
        version: int = VERSION,
        amount: int = 0,
    ) -> None:
        self.version = version
        self.rtype = rtype
        self.device_id = device_id
        self.seq = seq
        self.time = time
        self.prev_hash = prev_hash
        self.counters = counters
        self.grand_total = counters.grand_total() if grand_total is None else grand_total
        self.payload = payload
        self.amount = amount
        self.sig_counter = sig_counter
        self.signature = signature
        self.header_len = 0
        self.payload_len = len(payload)
        self.payload_hash = b""

    def header(self) -> bytes:
        """The signed header (payload only by its hash)."""
        return encode_body(self)

    def digest(self) -> bytes:
        """What the secure element signs: SHA-256 of the signed header."""
        return sha256(encode_body(self))

    def encode(self) -> bytes:
        return encode(self)

    def hash(self) -> bytes:
        """The record's identity, chained into the next record."""
        return sha256(encode(self))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Record) and encode(self) == encode(other)

    def __repr__(self) -> str:
        return "Record(%s seq=%d time=%d)" % (type_name(self.rtype), self.seq, self.time)


def encode_body(rec: Record) -> bytes:
    """The signed header of ``rec``."""
    if rec.version != VERSION:
        raise EncodeError("unsupported version %r" % rec.version, field="version")
    if not _known(rec.rtype):
        raise EncodeError("unknown record type %r" % rec.rtype, field="type")
    dev = rec.device_id.encode("utf-8") if isinstance(rec.device_id, str) else b""
    if not 1 <= len(dev) <= MAX_DEVICE_ID:
        raise EncodeError("device id must be 1..32 bytes", field="device_id")
    for b in dev:
        if b < 0x21 or b > 0x7E:
            raise EncodeError("device id must be printable ASCII", field="device_id")
    if not isinstance(rec.prev_hash, bytes) or len(rec.prev_hash) != HASH_LEN:
        raise EncodeError("previous hash must be 32 bytes", field="prev_hash")
    if len(rec.counters.rates) > MAX_RATES:
        raise EncodeError("more than %d tax rates" % MAX_RATES, field="counters")
    if len(rec.payload) > MAX_PAYLOAD:
        raise EncodeError("payload longer than %d" % MAX_PAYLOAD, field="payload")
    parts = [MAGIC, bytes([rec.version, rec.rtype, len(dev)]), dev]
    parts.append(put_uint(rec.seq, 4, "seq"))
    parts.append(put_uint(rec.time, 4, "time"))
    parts.append(rec.prev_hash)
    parts.append(bytes([len(rec.counters.rates)]))
    last = -1
    for r, s, f in rec.counters.rates:
        if r <= last or r > MAX_RATE_BP:
            raise EncodeError("tax rates must ascend within 0..10000 bp", field="counters")
        last = r
        parts.append(put_uint(r, 2, "rate_bp"))
        parts.append(put_uint(s, 8, "sales"))
        parts.append(put_uint(f, 8, "refunds"))
    parts.append(put_uint(rec.grand_total, 8, "grand_total"))
    parts.append(put_uint(rec.amount, 8, "amount"))
    parts.append(put_uint(len(rec.payload), 2, "payload_len"))
    parts.append(sha256(bytes(rec.payload)))
    return b"".join(parts)


def encode(rec: Record) -> bytes:
    if len(rec.signature) > MAX_SIGNATURE:
        raise EncodeError("signature longer than %d" % MAX_SIGNATURE, field="signature")
    return (
        encode_body(rec)
        + bytes(rec.payload)
        + put_uint(rec.sig_counter, 4, "sig_counter")
        + bytes([len(rec.signature)])
        + bytes(rec.signature)
    )


def _decode_header(r: Reader) -> Record:
    pos = r.pos
    if r.take(2, "magic") != MAGIC:
        raise DecodeError("bad magic", offset=pos, field="magic")
    version = r.uint(1, "version")
    if version != VERSION:
        raise DecodeError("unsupported version %d" % version, offset=r.pos - 1, field="version")
    rtype = r.uint(1, "type")
    if not _known(rtype):
        raise DecodeError("unknown record type %d" % rtype, offset=r.pos - 1, field="type")
    n = r.uint(1, "dev_len")
    if not 1 <= n <= MAX_DEVICE_ID:
        raise DecodeError("device id length %d" % n, offset=r.pos - 1, field="dev_len")
    at = r.pos
    raw = r.take(n, "device_id")
    for b in raw:
        if b < 0x21 or b > 0x7E:
            raise DecodeError("device id not printable ASCII", offset=at, field="device_id")
    seq = r.uint(4, "seq")
    time = r.uint(4, "time")
    prev = r.take(HASH_LEN, "prev_hash")
    nr = r.uint(1, "n_rates")
    if nr > MAX_RATES:
        raise DecodeError("%d tax rates" % nr, offset=r.pos - 1, field="n_rates")
    rates = []
    last = -1
    for _i in range(nr):
        at = r.pos
        rate = r.uint(2, "rate_bp")
        if rate <= last or rate > MAX_RATE_BP:
            raise DecodeError(
                "tax rates must ascend within 0..10000 bp", offset=at, field="rate_bp"
            )
        last = rate
        rates.append((rate, r.uint(8, "sales"), r.uint(8, "refunds")))
    grand = r.uint(8, "grand_total")
    amount = r.uint(8, "amount")
    plen = r.uint(2, "payload_len")
    if plen > MAX_PAYLOAD:
        raise DecodeError("payload length %d" % plen, offset=r.pos - 2, field="payload_len")
    phash = r.take(HASH_LEN, "payload_hash")
    c = Counters()
    c.rates = rates
    rec = Record(rtype, raw.decode(), seq, time, prev, c, b"", 0, b"", grand, version, amount)
    rec.payload_len = plen
    rec.payload_hash = phash
    rec.header_len = r.pos - pos
    return rec


def _decode_signature(r: Reader, rec: Record) -> None:
    rec.sig_counter = r.uint(4, "sig_counter")
    slen = r.uint(1, "sig_len")
    if slen > MAX_SIGNATURE:
        raise DecodeError("signature length %d" % slen, offset=r.pos - 1, field="sig_len")
    rec.signature = r.take(slen, "signature")


def decode_at(data: bytes, pos: int = 0, end: "int | None" = None) -> "tuple[Record, int]":
    """Decode one record starting at ``pos``; returns it and where it ends."""
    r = Reader(data, pos, end)
    rec = _decode_header(r)
    at = r.pos
    payload = r.take(rec.payload_len, "payload")
    if sha256(payload) != rec.payload_hash:
        raise DecodeError("payload does not match its hash", offset=at, field="payload")
    rec.payload = payload
    _decode_signature(r, rec)
    return rec, r.pos


def decode(data: bytes) -> Record:
    """Decode exactly one record (no trailing bytes)."""
    rec, end = decode_at(data, 0)
    if end != len(data):
        raise DecodeError("%d trailing bytes" % (len(data) - end), offset=end, field="record")
    return rec


def encode_signed_header(rec: Record) -> bytes:
    """``header | sig_counter u32 | sig_len u8 | signature``: the record
    without its payload (what a receipt QR carries)."""
    return (
        encode_body(rec)
        + put_uint(rec.sig_counter, 4, "sig_counter")
        + bytes([len(rec.signature)])
        + bytes(rec.signature)
    )


def decode_signed_header(data: bytes) -> "tuple[Record, bytes]":
    """Inverse of ``encode_signed_header``: the record (payload absent,
    ``payload_len``/``payload_hash`` set) and the header bytes signed."""
    r = Reader(data)
    rec = _decode_header(r)
    header = bytes(data[: r.pos])
    _decode_signature(r, rec)
    r.done("signed header")
    return rec, header
