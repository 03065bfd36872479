"""Verify a fiscal journal export on the host (docs/fiscal.md, "Verifying").

Checks, record by record: frame and encoding, device ID, gap-free sequence,
previous-record hash chain, time order, turnover counters (each record's
counters = the previous ones moved by its own lines; grand total; line
arithmetic; record amount), the secure element's ECDSA P-256 signature over
the record digest and its strictly rising signature counter, every X/Z
report's sequence range, totals and RFC 6962 Merkle root, and the signed
export trailer (so an export cut short is detected).  The first bad record
is named with its sequence number, byte offset and the reason.

Signatures are checked after the sequential pass, in parallel processes
(``jobs``); the first failure reported is still the earliest in the export.
Each failure has a stable ``Problem.code`` (``PROBLEM_CODES``).

The pass is resumable: ``Result.state`` (a ``VerifierState``, JSON-able) is
where it stopped, and ``Verifier(more, start=state)`` / ``verify(more, key,
start=state)`` go on over a continuation export with the same verdict,
record numbers and offsets as one pass (docs/fiscal.md, "Resuming").

Usage: ``python -m tools.fiscal_verify EXPORT --pubkey KEY.pem [--jobs N] [--json]``
exit 0 valid, 1 invalid, 2 unreadable input.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NoReturn

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from protocols import fiscal_payload as fp
from protocols import fiscal_record as fr
from protocols import merkle
from protocols.errors import DecodeError
from protocols.se_app import signed_message

EXPORT_MAGIC = b"PTFX"
HEADER_MAGIC = b"PTFJ"
TRAILER_MAGIC = b"PTFE"
UNSIGNED_OK = (fr.SIGNER_FAILURE,)
RECEIPT_TYPES = (fr.SALE, fr.REFUND, fr.TRAINING)


# Problem.code values (docs/fiscal.md, "Verifying"): stable identifiers for
# programs; the reason text is for people and may change.
PROBLEM_CODES = (
    "not_export",
    "export_version",
    "header_damaged",
    "frame_cut",
    "frame_check",
    "decode_error",
    "device_mismatch",
    "seq_gap",
    "chain_break",
    "time_backwards",
    "payload_error",
    "receipt_lines_mismatch",
    "amount_mismatch",
    "counter_mismatch",
    "grand_total_mismatch",
    "unsigned_with_counter",
    "not_signed",
    "counter_rollback",
    "report_payload",
    "report_number",
    "report_period_start",
    "report_range",
    "merkle_root_mismatch",
    "totals_mismatch",
    "bad_signature",
    "trailer_missing",
    "trailer_format",
    "trailer_device",
    "trailer_records_missing",
    "trailer_counter",
    "trailer_bad_signature",
)


@dataclass
class Problem:
    index: int  # 0-based record number in the export (-1: the export itself)
    seq: int | None
    offset: int
    reason: str
    code: str = "invalid"  # stable identifier of the failure kind (PROBLEM_CODES)

    def __str__(self) -> str:
        who = "export" if self.index < 0 else f"record #{self.index + 1}"
        if self.seq is not None:
            who += f" (seq {self.seq})"
        return f"{who} at offset {self.offset}: {self.reason}"


@dataclass
class Result:
    records: int = 0
    device_id: str | None = None
    last_seq: int = 0
    z_reports: int = 0
    x_reports: int = 0
    signatures_checked: int = 0
    trailer: bool = False
    problem: Problem | None = None
    types: dict[str, int] = field(default_factory=dict)
    # where the sequential pass stopped: after the last record that passed
    # (before the failing one); ``Verifier(..., start=result.state)`` goes on
    state: VerifierState | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def as_dict(self) -> dict[str, object]:
        return {
            "valid": self.ok,
            "records": self.records,
            "device_id": self.device_id,
            "last_seq": self.last_seq,
            "z_reports": self.z_reports,
            "x_reports": self.x_reports,
            "signatures_checked": self.signatures_checked,
            "signed_trailer": self.trailer,
            "types": self.types,
            "first_failure": None
            if self.problem is None
            else {
                "record": self.problem.index + 1,
                "seq": self.problem.seq,
                "offset": self.problem.offset,
                "reason": self.problem.reason,
                "code": self.problem.code,
                "message": str(self.problem),
            },
        }


class Invalid(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def load_public_key(data: bytes) -> ec.EllipticCurvePublicKey:
    """PEM or DER SubjectPublicKeyInfo, or an uncompressed P-256 point (65
    bytes, or its hex)."""
    key: object
    text = data.strip()
    if text.startswith(b"-----BEGIN"):
        key = serialization.load_pem_public_key(text)
    elif len(text) in (65, 130):
        raw = bytes.fromhex(text.decode()) if len(text) == 130 else text
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    else:
        key = serialization.load_der_public_key(text)
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError("not an ECDSA P-256 public key")
    return key


def der_signature(sig: bytes) -> bytes:
    """A record signature as DER: the secure element's raw ``r | s`` (64
    bytes) is converted, anything else is taken as DER already."""
    if len(sig) == 64:
        return encode_dss_signature(
            int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
        )
    return sig


SigItem = tuple[int, bytes, int, bytes]  # index, digest, counter, signature


def check_signatures(args: tuple[bytes, int, list[SigItem]]) -> int | None:
    """Index of the first item whose signature does not verify, or None.

    ``args`` is (DER SubjectPublicKeyInfo, SE slot, items); items come from
    ``Verifier.sig_items``.  The secure element signs ``"PTSE-SIG1" | slot |
    counter | digest`` (protocols.se_app.signed_message) with ECDSA P-256 /
    SHA-256, so the record's signature counter is covered by its signature."""
    pub_der, slot, items = args
    key = serialization.load_der_public_key(pub_der)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    algo = ec.ECDSA(hashes.SHA256())
    for idx, digest, counter, sig in items:
        try:
            key.verify(der_signature(sig), signed_message(digest, counter, slot), algo)
        except (InvalidSignature, ValueError):
            return idx
    return None


# the former private names, kept for callers outside the repository
_der = der_signature
_check_sigs = check_signatures


class _Period:
    def __init__(self, start_time: int, first_seq: int, base: fr.Counters, z_number: int) -> None:
        self.start_time = start_time
        self.first_seq = first_seq
        self.base = base
        self.z_number = z_number
        self.frontier = merkle.Frontier()


@dataclass
class VerifierState:
    """Everything the sequential checks carry from one record to the next,
    so that a pass can stop and go on later: ``Verifier(more, start=state)``
    over a continuation export (``"PTFX" | 1 | 0x0000 | frames``, or one with
    the trailer) gives the same verdict, record numbers and byte offsets as
    one pass over the whole export.  ``to_json``/``from_json`` persist it."""

    records: int = 0  # records passed so far (the next record's index)
    offset: int = -1  # byte offset of the next frame in the whole export (-1: not started)
    device_id: str | None = None
    seq: int = 0
    prev_hash: bytes = fr.ZERO_HASH
    last_time: int = 0
    sig_counter: int = 0
    counters: list[tuple[int, int, int]] = field(default_factory=list)
    # the open X/Z period
    period_start: int = -1  # -1: unknown (no journal header, no Z yet)
    period_first_seq: int = 1
    period_base: list[tuple[int, int, int]] = field(default_factory=list)
    z_number: int = 1
    frontier_size: int = 0
    frontier: list[bytes] = field(default_factory=list)
    # running totals of the Result
    z_reports: int = 0
    x_reports: int = 0
    signatures_checked: int = 0
    types: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "version": 1,
            "records": self.records,
            "offset": self.offset,
            "device_id": self.device_id,
            "seq": self.seq,
            "prev_hash": self.prev_hash.hex(),
            "last_time": self.last_time,
            "sig_counter": self.sig_counter,
            "counters": [list(t) for t in self.counters],
            "period_start": self.period_start,
            "period_first_seq": self.period_first_seq,
            "period_base": [list(t) for t in self.period_base],
            "z_number": self.z_number,
            "frontier_size": self.frontier_size,
            "frontier": [h.hex() for h in self.frontier],
            "z_reports": self.z_reports,
            "x_reports": self.x_reports,
            "signatures_checked": self.signatures_checked,
            "types": dict(sorted(self.types.items())),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VerifierState:
        if d.get("version") != 1:
            raise ValueError(f"unknown verifier state version {d.get('version')!r}")

        def rates(v: Any) -> list[tuple[int, int, int]]:
            return [(int(a), int(b), int(c)) for a, b, c in v]

        st = cls(
            records=int(d["records"]),
            offset=int(d["offset"]),
            device_id=None if d["device_id"] is None else str(d["device_id"]),
            seq=int(d["seq"]),
            prev_hash=bytes.fromhex(d["prev_hash"]),
            last_time=int(d["last_time"]),
            sig_counter=int(d["sig_counter"]),
            counters=rates(d["counters"]),
            period_start=int(d["period_start"]),
            period_first_seq=int(d["period_first_seq"]),
            period_base=rates(d["period_base"]),
            z_number=int(d["z_number"]),
            frontier_size=int(d["frontier_size"]),
            frontier=[bytes.fromhex(h) for h in d["frontier"]],
            z_reports=int(d["z_reports"]),
            x_reports=int(d["x_reports"]),
            signatures_checked=int(d["signatures_checked"]),
            types={str(k): int(v) for k, v in d["types"].items()},
        )
        if len(st.prev_hash) != 32 or len(st.frontier) != bin(st.frontier_size).count("1"):
            raise ValueError("inconsistent verifier state")
        return st

    @classmethod
    def from_json(cls, text: str) -> VerifierState:
        d = json.loads(text)
        if not isinstance(d, dict):
            raise ValueError("verifier state is not a JSON object")
        return cls.from_dict(d)

    def _period(self) -> _Period:
        p = _Period(
            self.period_start,
            self.period_first_seq,
            fr.Counters(list(self.period_base)),
            self.z_number,
        )
        p.frontier.size = self.frontier_size
        p.frontier._stack = list(self.frontier)
        return p


class Verifier:
    def __init__(
        self,
        data: bytes,
        sink: Callable[[list[SigItem]], None] | None = None,
        chunk: int = 20000,
        start: VerifierState | None = None,
    ) -> None:
        self.data = data
        self.start = start
        self.result = Result()
        self.sig_items: list[SigItem] = []
        self.sink = sink  # takes full chunks of signature work while the pass runs
        self.chunk = chunk
        self.sig_meta: dict[int, tuple[int, int]] = {}
        self.shift = 0  # added to offsets in this data to give offsets in the whole export
        if start is not None:
            r = self.result
            r.records, r.device_id, r.last_seq = start.records, start.device_id, start.seq
            r.z_reports, r.x_reports = start.z_reports, start.x_reports
            r.signatures_checked = start.signatures_checked
            r.types = dict(start.types)

    @property
    def state(self) -> VerifierState | None:
        return self.result.state

    def fail(self, index: int, seq: int | None, offset: int, reason: str, code: str) -> NoReturn:
        raise Invalid(Problem(index, seq, offset + self.shift, reason, code))

    def run(self, require_trailer: bool) -> None:
        d = self.data
        if len(d) < 7 or d[:4] != EXPORT_MAGIC:
            self.fail(-1, None, 0, "not a payterm fiscal export (PTFX)", "not_export")
        if d[4] != 1:
            self.fail(-1, None, 4, f"unknown export version {d[4]}", "export_version")
        hl = int.from_bytes(d[5:7], "big")
        header = d[7 : 7 + hl]
        if len(header) != hl:
            self.fail(-1, None, 7, "header cut short", "header_damaged")
        created = self._header(header)
        pos = 7 + hl
        st = self.start
        if st is None:
            prev_hash = fr.ZERO_HASH
            seq = 0
            last_time = 0
            sig_counter = 0
            counters = fr.Counters()
            period = _Period(created if created is not None else -1, 1, fr.Counters(), 1)
            idx = 0
        else:
            if st.offset >= 0:
                self.shift = st.offset - pos
            if st.device_id is not None:
                if self.result.device_id not in (None, st.device_id):
                    self.fail(
                        -1,
                        None,
                        7,
                        f"header of device {self.result.device_id}, journal of {st.device_id}",
                        "device_mismatch",
                    )
                self.result.device_id = st.device_id
            prev_hash = st.prev_hash
            seq = st.seq
            last_time = st.last_time
            sig_counter = st.sig_counter
            counters = fr.Counters(list(st.counters))
            period = st._period()
            idx = st.records
        res = self.result

        def snapshot() -> VerifierState:
            return VerifierState(
                records=idx,
                offset=pos + self.shift,
                device_id=res.device_id,
                seq=seq,
                prev_hash=prev_hash,
                last_time=last_time,
                sig_counter=sig_counter,
                counters=list(counters.rates),
                period_start=period.start_time,
                period_first_seq=period.first_seq,
                period_base=list(period.base.rates),
                z_number=period.z_number,
                frontier_size=period.frontier.size,
                frontier=list(period.frontier._stack),
                z_reports=res.z_reports,
                x_reports=res.x_reports,
                signatures_checked=res.signatures_checked,
                types=dict(res.types),
            )

        try:
            while pos < len(d):
                if len(d) - pos < 2:
                    self.fail(idx, None, pos, "frame length cut short", "frame_cut")
                n = int.from_bytes(d[pos : pos + 2], "big")
                if n == 0:
                    self._trailer(pos + 2, idx, seq, prev_hash, sig_counter)
                    return
                raw = d[pos + 2 : pos + 2 + n]
                check = d[pos + 2 + n : pos + 6 + n]
                if len(raw) != n or len(check) != 4:
                    self.fail(
                        idx,
                        None,
                        pos,
                        f"frame cut short ({len(d) - pos} of {n + 6} bytes)",
                        "frame_cut",
                    )
                h = hashlib.sha256(raw).digest()
                if h[:4] != check:
                    self.fail(
                        idx,
                        None,
                        pos,
                        "frame check does not match (record bytes altered)",
                        "frame_check",
                    )
                try:
                    rec = fr.decode(raw)
                except DecodeError as e:
                    self.fail(idx, None, pos, f"undecodable record: {e}", "decode_error")
                s = rec.seq
                if res.device_id is None:
                    res.device_id = rec.device_id
                if rec.device_id != res.device_id:
                    self.fail(
                        idx,
                        s,
                        pos,
                        f"device {rec.device_id}, export belongs to {res.device_id}",
                        "device_mismatch",
                    )
                if s != seq + 1:
                    self.fail(
                        idx,
                        s,
                        pos,
                        f"sequence {s} after {seq} (gap, deletion, reorder or duplicate)",
                        "seq_gap",
                    )
                if rec.prev_hash != prev_hash:
                    self.fail(
                        idx, s, pos, "previous-record hash does not match the chain", "chain_break"
                    )
                if rec.time < last_time:
                    self.fail(
                        idx,
                        s,
                        pos,
                        f"time {rec.time} before the previous record's {last_time}",
                        "time_backwards",
                    )
                want, why, code = self._expected_counters(rec, counters)
                if why:
                    self.fail(idx, s, pos, why, code)
                if rec.counters != want:
                    self.fail(
                        idx,
                        s,
                        pos,
                        f"turnover counters {rec.counters.rates} != expected {want.rates}",
                        "counter_mismatch",
                    )
                if rec.grand_total != rec.counters.grand_total():
                    self.fail(
                        idx,
                        s,
                        pos,
                        f"grand total {rec.grand_total} != sum of sales"
                        f" {rec.counters.grand_total()}",
                        "grand_total_mismatch",
                    )
                new_sig_counter = sig_counter
                if rec.rtype in UNSIGNED_OK and not rec.signature:
                    if rec.sig_counter != 0:
                        self.fail(
                            idx,
                            s,
                            pos,
                            "unsigned record with a signature counter",
                            "unsigned_with_counter",
                        )
                else:
                    if not rec.signature:
                        self.fail(
                            idx,
                            s,
                            pos,
                            f"{fr.type_name(rec.rtype)} record is not signed",
                            "not_signed",
                        )
                    if rec.sig_counter <= sig_counter:
                        self.fail(
                            idx,
                            s,
                            pos,
                            f"signature counter {rec.sig_counter} not above {sig_counter}"
                            " (rolled back)",
                            "counter_rollback",
                        )
                    new_sig_counter = rec.sig_counter
                    self.sig_items.append((idx, rec.digest(), rec.sig_counter, rec.signature))
                    if self.sink is not None and len(self.sig_items) >= self.chunk:
                        self.sink(self.sig_items)
                        self.sig_items = []
                    self.sig_meta[idx] = (s, pos + self.shift)
                if rec.rtype in (fr.X_REPORT, fr.Z_REPORT):
                    self._report(rec, idx, pos, period, counters, seq)
                if rec.rtype == fr.Z_REPORT:
                    res.z_reports += 1
                    period = _Period(rec.time, s + 1, rec.counters, period.z_number + 1)
                else:
                    if rec.rtype == fr.X_REPORT:
                        res.x_reports += 1
                    period.frontier.append(merkle.leaf_hash(h))
                name = fr.type_name(rec.rtype)
                res.types[name] = res.types.get(name, 0) + 1
                sig_counter = new_sig_counter
                counters = rec.counters
                prev_hash = h
                seq = s
                last_time = rec.time
                idx += 1
                res.records = idx
                res.last_seq = seq
                pos += n + 6
            if require_trailer:
                self.fail(
                    -1,
                    None,
                    pos,
                    "no signed trailer: the export may have been cut short",
                    "trailer_missing",
                )
        finally:
            res.state = snapshot()

    def _header(self, header: bytes) -> int | None:
        if not header:
            return None
        body, seal = header[:-32], header[-32:]
        if len(header) < 32 or hashlib.sha256(body).digest() != seal or body[:4] != HEADER_MAGIC:
            self.fail(-1, None, 7, "journal header damaged", "header_damaged")
        if len(body) < 10 or body[4] != 1:
            self.fail(-1, None, 11, "unknown journal header version", "header_damaged")
        n = body[5] if len(body) > 5 else 0
        dev = body[6 : 6 + n].decode("ascii", "replace")
        self.result.device_id = dev
        return int.from_bytes(body[6 + n : 10 + n], "big")

    def _expected_counters(
        self, rec: fr.Record, counters: fr.Counters
    ) -> tuple[fr.Counters, str, str]:
        want = counters.copy()
        if rec.rtype in RECEIPT_TYPES:
            try:
                rc = fp.decode_receipt(rec.payload)
            except DecodeError as e:
                return want, f"receipt payload: {e}", "payload_error"
            bad = rc.check()
            if bad:
                return want, "receipt lines do not add up: " + bad, "receipt_lines_mismatch"
            if rec.amount != rc.total():
                return want, f"amount {rec.amount} != receipt total {rc.total()}", "amount_mismatch"
            for rate, total in rc.totals():
                if rec.rtype == fr.SALE:
                    want.add(rate, total, 0)
                elif rec.rtype == fr.REFUND:
                    want.add(rate, 0, total)
        else:
            if rec.amount != 0:
                return (
                    want,
                    f"{fr.type_name(rec.rtype)} record with amount {rec.amount}",
                    "amount_mismatch",
                )
            if rec.rtype not in (fr.X_REPORT, fr.Z_REPORT):
                try:
                    fp.decode_event(rec.payload)
                except DecodeError as e:
                    return want, f"event payload: {e}", "payload_error"
        return want, "", ""

    def _report(
        self, rec: fr.Record, idx: int, pos: int, period: _Period, counters: fr.Counters, seq: int
    ) -> None:
        s = rec.seq
        try:
            rp = fp.decode_report(rec.payload)
        except DecodeError as e:
            self.fail(idx, s, pos, f"report payload: {e}", "report_payload")
        kind = "Z" if rec.rtype == fr.Z_REPORT else "X"
        if rp.z_number != period.z_number:
            self.fail(
                idx,
                s,
                pos,
                f"{kind} report number {rp.z_number}, expected {period.z_number}",
                "report_number",
            )
        if period.start_time >= 0 and rp.period_start != period.start_time:
            self.fail(
                idx,
                s,
                pos,
                f"{kind} report period start {rp.period_start} != {period.start_time}",
                "report_period_start",
            )
        if (rp.first_seq, rp.last_seq, rp.count) != (period.first_seq, seq, period.frontier.size):
            self.fail(
                idx,
                s,
                pos,
                f"{kind} report covers {rp.first_seq}..{rp.last_seq} ({rp.count}), "
                f"expected {period.first_seq}..{seq} ({period.frontier.size})",
                "report_range",
            )
        if rp.root != period.frontier.root():
            self.fail(
                idx,
                s,
                pos,
                f"{kind} report Merkle root does not match the period's records",
                "merkle_root_mismatch",
            )
        totals = counters.minus(period.base).rates
        if rp.totals != totals:
            self.fail(
                idx, s, pos, f"{kind} report totals {rp.totals} != {totals}", "totals_mismatch"
            )

    def _trailer(self, pos: int, idx: int, seq: int, last_hash: bytes, sig_counter: int) -> None:
        d = self.data
        try:
            if d[pos : pos + 4] != TRAILER_MAGIC:
                raise DecodeError("bad trailer magic", offset=pos)
            n = d[pos + 4]
            end = pos + 5 + n + 4 + 32 + 4
            body = d[pos:end]
            dev = body[5 : 5 + n].decode("ascii")
            last = int.from_bytes(body[5 + n : 9 + n], "big")
            lh = body[9 + n : 41 + n]
            counter = int.from_bytes(d[end : end + 4], "big")
            slen = d[end + 4]
            sig = d[end + 5 : end + 5 + slen]
            if len(body) != end - pos or len(sig) != slen:
                raise DecodeError("trailer cut short", offset=pos)
            if end + 5 + slen != len(d):
                raise DecodeError("bytes after the trailer", offset=end + 5 + slen)
        except (IndexError, UnicodeError, DecodeError) as e:
            self.fail(-1, None, pos, f"export trailer: {e}", "trailer_format")
        if dev != self.result.device_id and self.result.device_id is not None:
            self.fail(-1, None, pos, f"trailer of device {dev}", "trailer_device")
        if last != seq or lh != last_hash:
            self.fail(
                idx,
                seq + 1,
                pos,
                f"export ends at seq {seq}, its signed trailer says {last}: records missing",
                "trailer_records_missing",
            )
        if counter <= sig_counter:
            self.fail(
                -1,
                None,
                pos,
                f"trailer signature counter {counter} not above {sig_counter}",
                "trailer_counter",
            )
        self.sig_items.append((-2, hashlib.sha256(body).digest(), counter, sig))
        self.result.trailer = True


def verify(
    data: bytes,
    public_key: ec.EllipticCurvePublicKey,
    jobs: int = 1,
    require_trailer: bool = True,
    slot: int = 0,
    chunk: int = 20000,
    start: VerifierState | None = None,
) -> Result:
    """Verify an export; ``jobs`` > 1 checks signatures in worker processes,
    ``chunk`` at a time, while the sequential pass goes on.

    With ``start`` (a previous ``Result.state``), ``data`` continues the
    journal verified so far (``"PTFX" | 1 | 0x0000 | frames [| trailer]``);
    record numbers, offsets and counts in the result are those of the whole
    export, and ``result.state`` is where the next part starts.  Pass
    ``require_trailer=False`` for every part but the last."""
    pub_der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    ex = ProcessPoolExecutor(jobs) if jobs > 1 else None
    futures: list[Future[int | None]] = []
    sizes: list[int] = []

    def sink(items: list[SigItem]) -> None:
        assert ex is not None
        sizes.append(len(items))
        futures.append(ex.submit(check_signatures, (pub_der, slot, items)))

    v = Verifier(data, sink if ex is not None else None, chunk, start)
    structural: Problem | None = None
    bad: int | None = None
    try:
        try:
            v.run(require_trailer)
        except Invalid as e:
            structural = e.problem
        limit = structural.index if structural is not None and structural.index >= 0 else None
        rest = v.sig_items
        if limit is not None:
            rest = [it for it in rest if 0 <= it[0] < limit]
        checked = sum(sizes) + len(rest)
        if futures:
            for f in futures:
                got = f.result()
                if got is not None:
                    bad = got
                    break
        if bad is None:
            bad = check_signatures((pub_der, slot, rest))
        if bad is not None and bad >= 0 and limit is not None and bad >= limit:
            bad = None
    finally:
        if ex is not None:
            ex.shutdown(cancel_futures=True)
    res = v.result
    res.signatures_checked += checked
    if res.state is not None:
        res.state.signatures_checked = res.signatures_checked
    if bad is not None:
        if bad == -2:
            res.problem = Problem(
                -1,
                None,
                len(data) + v.shift,
                "export trailer signature does not verify",
                "trailer_bad_signature",
            )
        else:
            s, pos = v.sig_meta[bad]
            res.problem = Problem(
                bad, s, pos, "signature does not verify with the device key", "bad_signature"
            )
            # the state before the record whose signature failed
            before = Verifier(data[: pos - v.shift], start=start)
            try:
                before.run(require_trailer=False)
            except Invalid:  # pragma: no cover - the prefix passed the first pass
                raise AssertionError("prefix of a verified export fails") from None
            res.state = before.state
            if res.state is not None:
                res.state.signatures_checked = res.signatures_checked
        return res
    res.problem = structural
    return res


def verify_receipt(
    text: str, public_key: ec.EllipticCurvePublicKey, slot: int = 0
) -> dict[str, object]:
    """Check a receipt's QR content offline (docs/fiscal.md, "Receipt QR").

    Returns the fields an inspector compares with the printed receipt; raises
    ``DecodeError`` for malformed content and ``ValueError`` when the
    signature does not verify with the device key."""
    from protocols import fiscal_qr

    rec, header = fiscal_qr.decode(text)
    if not rec.signature:
        raise ValueError("receipt is not signed")
    digest = hashlib.sha256(header).digest()
    try:
        public_key.verify(
            der_signature(rec.signature),
            signed_message(digest, rec.sig_counter, slot),
            ec.ECDSA(hashes.SHA256()),
        )
    except InvalidSignature:
        raise ValueError("receipt signature does not verify with the device key") from None
    return {
        "device_id": rec.device_id,
        "seq": rec.seq,
        "type": fr.type_name(rec.rtype),
        "time": rec.time,
        "amount": rec.amount,
        "counters": [list(t) for t in rec.counters.rates],
        "grand_total": rec.grand_total,
        "sig_counter": rec.sig_counter,
        "prev_hash": rec.prev_hash.hex(),
        "payload_sha256": rec.payload_hash.hex(),
        "record_digest": digest.hex(),
    }
