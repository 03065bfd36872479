"""Payloads of fiscal records (docs/fiscal.md, "Payloads"), pure.

- sale, refund, training: receipt lines, payment method, referenced sequence
- x_report, z_report: the period's report (Merkle root, sequence range, totals)
- void, power_on, config_change, tamper, signer_failure: an event
"""

from protocols.errors import DecodeError, EncodeError
from protocols.fiscal_reader import Reader, get_text, put_text, put_uint

MAX_LINES = 100
MAX_NAME = 48
MAX_TEXT = 200
METHODS = ((0, "cash"), (1, "card"), (2, "instant"), (3, "other"))


def line_amount(qty_milli: int, unit_price: int) -> int:
    """Line total in minor units: quantity (thousandths) x unit price,
    rounded half up."""
    return (qty_milli * unit_price + 500) // 1000


class Receipt:
    """lines: list of (rate_bp, qty_milli, unit_price, amount, name)."""

    def __init__(
        self, lines: "list[tuple[int, int, int, int, str]]", method: int = 0, ref_seq: int = 0
    ) -> None:
        self.lines = lines
        self.method = method
        self.ref_seq = ref_seq

    def totals(self) -> "list[tuple[int, int]]":
        """Sum of line amounts per tax rate, ascending by rate."""
        acc: dict[int, int] = {}
        for rate, _q, _p, amount, _n in self.lines:
            acc[rate] = acc.get(rate, 0) + amount
        return sorted(acc.items())

    def total(self) -> int:
        t = 0
        for _r, a in self.totals():
            t += a
        return t

    def check(self) -> "str | None":
        """Why the lines do not add up, or None."""
        for i, (_rate, q, p, amount, _n) in enumerate(self.lines):
            if amount != line_amount(q, p):
                return "line %d amount %d != %d x %d / 1000" % (i, amount, q, p)
        return None


def encode_receipt(rc: Receipt) -> bytes:
    if not 1 <= len(rc.lines) <= MAX_LINES:
        raise EncodeError("1..%d lines" % MAX_LINES, field="lines")
    parts = [bytes([len(rc.lines)])]
    for rate, q, p, amount, name in rc.lines:
        if rate > 10000:
            raise EncodeError("rate above 10000 bp", field="rate_bp")
        parts.append(put_uint(rate, 2, "rate_bp"))
        parts.append(put_uint(q, 4, "qty_milli"))
        parts.append(put_uint(p, 8, "unit_price"))
        parts.append(put_uint(amount, 8, "amount"))
        parts.append(put_text(name, MAX_NAME, "name"))
    if rc.method not in (0, 1, 2, 3):
        raise EncodeError("unknown method", field="method")
    parts.append(bytes([rc.method]))
    parts.append(put_uint(rc.ref_seq, 4, "ref_seq"))
    return b"".join(parts)


def decode_receipt(data: bytes) -> Receipt:
    r = Reader(data)
    n = r.uint(1, "lines")
    if not 1 <= n <= MAX_LINES:
        raise DecodeError("%d lines" % n, offset=0, field="lines")
    lines = []
    for _i in range(n):
        at = r.pos
        rate = r.uint(2, "rate_bp")
        if rate > 10000:
            raise DecodeError("rate above 10000 bp", offset=at, field="rate_bp")
        q = r.uint(4, "qty_milli")
        p = r.uint(8, "unit_price")
        a = r.uint(8, "amount")
        name = get_text(r, "name")
        if len(name.encode("utf-8")) > MAX_NAME:
            raise DecodeError("name too long", offset=at, field="name")
        lines.append((rate, q, p, a, name))
    method = r.uint(1, "method")
    if method > 3:
        raise DecodeError("unknown method %d" % method, offset=r.pos - 1, field="method")
    ref = r.uint(4, "ref_seq")
    r.done("receipt")
    return Receipt(lines, method, ref)


class Report:
    """X or Z report: the period since the previous Z report."""

    def __init__(
        self,
        z_number: int,
        period_start: int,
        first_seq: int,
        last_seq: int,
        count: int,
        root: bytes,
        totals: "list[tuple[int, int, int]]",
    ) -> None:
        self.z_number = z_number
        self.period_start = period_start
        self.first_seq = first_seq
        self.last_seq = last_seq
        self.count = count
        self.root = root
        self.totals = totals  # (rate_bp, sales, refunds) for the period

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Report) and encode_report(self) == encode_report(other)


def encode_report(rp: Report) -> bytes:
    if len(rp.root) != 32:
        raise EncodeError("root must be 32 bytes", field="root")
    parts = [
        put_uint(rp.z_number, 4, "z_number"),
        put_uint(rp.period_start, 4, "period_start"),
        put_uint(rp.first_seq, 4, "first_seq"),
        put_uint(rp.last_seq, 4, "last_seq"),
        put_uint(rp.count, 4, "count"),
        rp.root,
        bytes([len(rp.totals)]),
    ]
    last = -1
    for rate, s, f in rp.totals:
        if rate <= last or rate > 10000:
            raise EncodeError("rates must ascend", field="totals")
        last = rate
        parts.append(put_uint(rate, 2, "rate_bp"))
        parts.append(put_uint(s, 8, "sales"))
        parts.append(put_uint(f, 8, "refunds"))
    return b"".join(parts)


def decode_report(data: bytes) -> Report:
    r = Reader(data)
    z = r.uint(4, "z_number")
    start = r.uint(4, "period_start")
    first = r.uint(4, "first_seq")
    last_seq = r.uint(4, "last_seq")
    count = r.uint(4, "count")
    root = r.take(32, "root")
    n = r.uint(1, "n_rates")
    if n > 16:
        raise DecodeError("%d rates" % n, offset=r.pos - 1, field="n_rates")
    totals = []
    last = -1
    for _i in range(n):
        at = r.pos
        rate = r.uint(2, "rate_bp")
        if rate <= last or rate > 10000:
            raise DecodeError("rates must ascend", offset=at, field="rate_bp")
        last = rate
        totals.append((rate, r.uint(8, "sales"), r.uint(8, "refunds")))
    r.done("report")
    return Report(z, start, first, last_seq, count, root, totals)


class Event:
    def __init__(self, code: int = 0, ref_seq: int = 0, text: str = "") -> None:
        self.code = code
        self.ref_seq = ref_seq
        self.text = text


def encode_event(ev: Event) -> bytes:
    return (
        put_uint(ev.code, 2, "code")
        + put_uint(ev.ref_seq, 4, "ref_seq")
        + put_text(ev.text, MAX_TEXT, "text")
    )


def decode_event(data: bytes) -> Event:
    r = Reader(data)
    code = r.uint(2, "code")
    ref = r.uint(4, "ref_seq")
    text = get_text(r, "text")
    r.done("event")
    return Event(code, ref, text)
