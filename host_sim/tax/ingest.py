"""Record upload: idempotency, verification through the fiscal verifier
(``tools.fiscal_verify``), storage and the alerts an upload raises.

The backend keeps no second verifier, and it does not re-read the journal
it holds.  After each upload it stores the verifier's state
(``fiscal_verify.VerifierState``: last seq, hash, time, signature counter,
turnover counters, the open X/Z period with its Merkle frontier) beside the
records, in the same transaction.  The next upload is laid out as a
continuation export (``"PTFX" | 1 | 0x0000 | frames``) and verified from that
state: chain, gap-free sequence, time order, counters and turnover
continuity across uploads, signature-counter order, each X/Z report's range,
totals and RFC 6962 root, and the ECDSA signatures of the new records.  New
records are accepted up to the first one the verifier names; that one and
everything after it are refused.  Alerts are chosen by ``Problem.code``.

Before verifying, the last stored record is compared with the state (its
seq and hash); a full pass over the stored journal, compared with the
state, is the monitor's job (``check_store``): both raise ``store_damaged``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from protocols import fiscal_record as fr
from protocols.errors import DecodeError
from tools import fiscal_verify as fv

from .store import Device, StoredRecord, TaxStore

RECEIPTS = (fr.SALE, fr.REFUND, fr.TRAINING)

# alert kinds (docs/tax.md, "Alerts")
COUNTER_GAP = "counter_gap"
CHAIN_BREAK = "chain_break"
TOTALS = "totals_mismatch"
MERKLE = "merkle_root_mismatch"
BAD_SIGNATURE = "bad_signature"
SIG_ROLLBACK = "signature_counter_rollback"
CLOCK = "clock_went_back"
REPORT = "report_invalid"
INVALID = "invalid_record"
FOREIGN = "foreign_record"
EXPORT = "export_invalid"
STORE_DAMAGED = "store_damaged"
MISSING_Z = "missing_z_report"
SILENT = "device_silent"


# fiscal_verify.Problem.code -> alert kind; codes not listed are INVALID
KINDS = {
    "seq_gap": COUNTER_GAP,
    "chain_break": CHAIN_BREAK,
    "counter_rollback": SIG_ROLLBACK,
    "unsigned_with_counter": SIG_ROLLBACK,
    "bad_signature": BAD_SIGNATURE,
    "not_signed": BAD_SIGNATURE,
    "merkle_root_mismatch": MERKLE,
    "device_mismatch": FOREIGN,
    "counter_mismatch": TOTALS,
    "grand_total_mismatch": TOTALS,
    "receipt_lines_mismatch": TOTALS,
    "amount_mismatch": TOTALS,
    "totals_mismatch": TOTALS,
    "time_backwards": CLOCK,
    "report_payload": REPORT,
    "report_number": REPORT,
    "report_period_start": REPORT,
    "report_range": REPORT,
}


def classify(code: str) -> str:
    """The alert kind of a verifier failure, by its ``Problem.code``
    (documented in docs/fiscal.md, "Verifying")."""
    return KINDS.get(code, INVALID)


class BadUpload(ValueError):
    """The upload itself is malformed (400): nothing was stored."""

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.index = index


@dataclass
class Outcome:
    seq: int
    hash: str
    status: str  # accepted | already_submitted | rejected
    reason: str | None = None
    alert: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "hash": self.hash,
            "status": self.status,
            "reason": self.reason,
            "alert": self.alert,
        }


@dataclass
class UploadResult:
    device_id: str
    results: list[Outcome] = field(default_factory=list)
    last_seq: int = 0
    last_hash: str = fr.ZERO_HASH.hex()
    alerts: list[int] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    def as_dict(self) -> dict[str, Any]:
        return {
            "device_id": self.device_id,
            "accepted": self.count("accepted"),
            "already_submitted": self.count("already_submitted"),
            "rejected": self.count("rejected"),
            "last_seq": self.last_seq,
            "last_hash": self.last_hash,
            "alerts": self.alerts,
            "results": [r.as_dict() for r in self.results],
        }


def _frame(raw: bytes) -> bytes:
    return len(raw).to_bytes(2, "big") + raw + hashlib.sha256(raw).digest()[:4]


def _export(raws: list[bytes]) -> bytes:
    return fv.EXPORT_MAGIC + b"\x01\x00\x00" + b"".join(_frame(r) for r in raws)


def _key(dev: Device) -> ec.EllipticCurvePublicKey:
    key = serialization.load_der_public_key(dev.public_key)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


def full_pass(store: TaxStore, dev: Device) -> fv.Result:
    """The verifier over every stored record of ``dev`` (signatures too)."""
    raws = [r.raw for r in store.records(dev.device_id)]
    return fv.verify(_export(raws), _key(dev), require_trailer=False, slot=dev.slot)


def _same(a: fv.VerifierState, b: fv.VerifierState) -> bool:
    da, db = a.to_dict(), b.to_dict()
    for d in (da, db):  # counts, not what the records say
        del d["signatures_checked"]
    return da == db


def _start(store: TaxStore, dev: Device) -> tuple[fv.VerifierState, str | None]:
    """The state to verify new records from, and why the stored journal
    cannot be continued (None when it can)."""
    text = store.verifier_state(dev.device_id)
    last = store.last_record(dev.device_id)
    if text is None:
        if last is None:
            return fv.VerifierState(), None
        # records stored before the backend kept a state: one full pass
        res = full_pass(store, dev)
        if res.problem is not None or res.state is None:
            return fv.VerifierState(), f"the stored journal no longer verifies: {res.problem}"
        store.set_verifier_state(dev.device_id, res.state.records, res.state.to_json())
        return res.state, None
    try:
        st = fv.VerifierState.from_json(text)
    except (ValueError, KeyError, TypeError) as e:
        return fv.VerifierState(), f"the stored verifier state is damaged: {e}"
    if st.records == 0 and last is None:
        return st, None
    if (
        last is None
        or last.seq != st.seq
        or last.hash != st.prev_hash
        or hashlib.sha256(last.raw).digest() != st.prev_hash
    ):
        have = "none" if last is None else f"seq {last.seq}"
        return st, (
            f"the stored journal no longer matches the verifier state: last record {have},"
            f" state after seq {st.seq} ({st.prev_hash.hex()[:16]})"
        )
    return st, None


def check_store(store: TaxStore, dev: Device) -> str | None:
    """A full pass over the stored journal, compared with the kept state:
    None when they agree, else what is wrong."""
    res = full_pass(store, dev)
    if res.problem is not None:
        return f"the stored journal no longer verifies: {res.problem}"
    text = store.verifier_state(dev.device_id)
    if text is None or res.state is None:
        return None
    try:
        kept = fv.VerifierState.from_json(text)
    except (ValueError, KeyError, TypeError) as e:
        return f"the stored verifier state is damaged: {e}"
    if not _same(kept, res.state):
        return (
            f"the stored journal (to seq {res.state.seq}) does not match the verifier state"
            f" (to seq {kept.seq})"
        )
    return None


def ingest(store: TaxStore, dev: Device, raws: list[bytes], now: int) -> UploadResult:
    """Verify and store ``raws`` (canonical record encodings, in order)."""
    with store.device_lock(dev.device_id):
        return _ingest(store, dev, raws, now)


def _ingest(store: TaxStore, dev: Device, raws: list[bytes], now: int) -> UploadResult:
    recs: list[fr.Record] = []
    for i, raw in enumerate(raws):
        try:
            recs.append(fr.decode(raw))
        except DecodeError as e:
            raise BadUpload(f"record {i}: {e}", i) from e
    out = UploadResult(dev.device_id)
    start, damaged = _start(store, dev)
    last = start.seq
    known = store.record_hashes(dev.device_id, [r.seq for r in recs if r.seq <= last])
    new_raws: list[bytes] = []
    new_recs: list[fr.Record] = []
    pending: list[Outcome] = []
    slots: list[Outcome] = []
    stop: str | None = None
    for raw, rec in zip(raws, recs, strict=True):
        h = hashlib.sha256(raw).digest()
        o = Outcome(rec.seq, h.hex(), "rejected")
        if stop is not None:
            o.reason = stop
        elif rec.device_id != dev.device_id:
            o.reason = f"record of device {rec.device_id} uploaded for {dev.device_id}"
            o.alert = FOREIGN
        elif rec.seq in known:
            if known[rec.seq] == h:
                o.status = "already_submitted"
            else:
                o.reason = f"seq {rec.seq} differs from the record already submitted"
                o.alert = CHAIN_BREAK
        elif new_recs or rec.seq > last:
            new_raws.append(raw)
            new_recs.append(rec)
            pending.append(o)
            slots.append(o)
            continue
        else:  # seq <= last but not stored: impossible for a gap-free store
            o.reason = f"seq {rec.seq} is not above the last stored {last}"
            o.alert = COUNTER_GAP
        if o.alert is not None:
            stop = f"not verified: after the refused seq {rec.seq}"
            aid = store.raise_alert(dev.device_id, o.alert, rec.seq, o.reason or "", now)
            if aid is not None:
                out.alerts.append(aid)
        slots.append(o)
    out.results = slots
    accepted: list[StoredRecord] = []
    if new_raws and damaged is not None:  # the database was edited behind us
        for i, o in enumerate(pending):
            if i == 0:
                o.reason, o.alert = damaged, STORE_DAMAGED
                aid = store.raise_alert(dev.device_id, STORE_DAMAGED, o.seq, damaged, now)
                if aid is not None:
                    out.alerts.append(aid)
            else:
                o.reason = f"not verified: after the refused seq {pending[0].seq}"
    elif new_raws:
        res = fv.verify(
            _export(new_raws), _key(dev), require_trailer=False, slot=dev.slot, start=start
        )
        problem = res.problem
        first_bad = len(new_raws) if problem is None else problem.index - start.records
        assert res.state is not None and res.state.records == start.records + first_bad
        for i, (raw, rec, o) in enumerate(zip(new_raws, new_recs, pending, strict=True)):
            if i < first_bad:
                o.status = "accepted"
                accepted.append(
                    StoredRecord(
                        rec.seq, rec.rtype, rec.time, rec.amount, bytes.fromhex(o.hash), raw
                    )
                )
            elif i == first_bad and problem is not None:
                o.reason = problem.reason
                o.alert = classify(problem.code)
                aid = store.raise_alert(dev.device_id, o.alert, rec.seq, problem.reason, now)
                if aid is not None:
                    out.alerts.append(aid)
            else:
                o.reason = f"not verified: after the refused seq {new_recs[first_bad].seq}"
        store.store_records(dev.device_id, accepted, now, (res.state.records, res.state.to_json()))
        out.alerts.extend(_z_alerts(store, dev, _open_period(store, dev, start), accepted, now))
    if accepted:
        out.last_seq = accepted[-1].seq
        out.last_hash = accepted[-1].hash.hex()
    elif start.records:
        out.last_seq = start.seq
        out.last_hash = start.prev_hash.hex()
    return out


def _open_period(store: TaxStore, dev: Device, st: fv.VerifierState) -> tuple[int, int] | None:
    """(first seq, start time) of the open Z period before an upload, from
    the verifier state; period 1 starts at the first record the backend
    holds."""
    if st.records == 0:
        return None
    if st.period_start >= 0:
        return st.period_first_seq, st.period_start
    t = store.first_record_time(dev.device_id)
    return None if t is None else (st.period_first_seq, t)


def period_start(records: list[StoredRecord]) -> tuple[int, int] | None:
    """(first seq, start time) of the open Z period, None without records.
    Period 1 starts at the first record the backend holds."""
    start: tuple[int, int] | None = None
    for r in records:
        if start is None:
            start = (r.seq, r.time)
        if r.rtype == fr.Z_REPORT:
            start = (r.seq + 1, r.time)
    return start


def _z_alerts(
    store: TaxStore,
    dev: Device,
    start: tuple[int, int] | None,
    accepted: list[StoredRecord],
    now: int,
) -> list[int]:
    """A receipt dated more than ``z_limit_s`` after its period began: the
    journal should have refused it (missing Z report)."""
    out: list[int] = []
    for r in accepted:
        if start is None:
            start = (r.seq, r.time)
        if r.rtype in RECEIPTS and r.time - start[1] > dev.z_limit_s:
            aid = store.raise_alert(
                dev.device_id,
                MISSING_Z,
                start[0],
                f"receipt seq {r.seq} at {r.time}: no Z report for {r.time - start[1]} s"
                f" (limit {dev.z_limit_s} s)",
                now,
            )
            if aid is not None:
                out.append(aid)
        if r.rtype == fr.Z_REPORT:
            start = (r.seq + 1, r.time)
    return out


def monitor(store: TaxStore, now: int) -> list[int]:
    """Alerts that need no upload: a device silent for longer than allowed,
    an open period older than the Z limit with receipts in it, and a stored
    journal that no longer verifies or no longer matches the verifier state
    uploads continue from (``check_store``)."""
    raised: list[int] = []
    for dev in store.devices():
        recs = store.records(dev.device_id)
        last_seq = recs[-1].seq if recs else 0
        damaged = check_store(store, dev) if recs else None
        if damaged is not None:
            aid = store.raise_alert(dev.device_id, STORE_DAMAGED, last_seq, damaged, now)
            if aid is not None:
                raised.append(aid)
        seen = dev.last_seen if dev.last_seen is not None else dev.registered_at
        if now - seen > dev.silent_limit_s:
            aid = store.raise_alert(
                dev.device_id,
                SILENT,
                last_seq,
                f"no upload for {now - seen} s (limit {dev.silent_limit_s} s)",
                now,
            )
            if aid is not None:
                raised.append(aid)
        start = period_start(recs)
        if start is None:
            continue
        receipts = [r for r in recs if r.seq >= start[0] and r.rtype in RECEIPTS]
        if receipts and now - start[1] > dev.z_limit_s:
            aid = store.raise_alert(
                dev.device_id,
                MISSING_Z,
                start[0],
                f"period from seq {start[0]} open for {now - start[1]} s with"
                f" {len(receipts)} receipts (limit {dev.z_limit_s} s)",
                now,
            )
            if aid is not None:
                raised.append(aid)
    return raised


def split_export(data: bytes) -> list[bytes]:
    """The records of an export (docs/fiscal.md, "Export"), as far as its
    frames are whole; ``BadUpload`` when it is not an export at all."""
    if len(data) < 7 or data[:4] != fv.EXPORT_MAGIC:
        raise BadUpload("not a payterm fiscal export (PTFX)", -1)
    pos = 7 + int.from_bytes(data[5:7], "big")
    out: list[bytes] = []
    while pos + 2 <= len(data):
        n = int.from_bytes(data[pos : pos + 2], "big")
        if n == 0 or pos + 6 + n > len(data):
            break
        out.append(data[pos + 2 : pos + 2 + n])
        pos += n + 6
    return out


def ingest_export(
    store: TaxStore, dev: Device, data: bytes, now: int
) -> tuple[UploadResult, fv.Result]:
    """A whole export: the verifier checks it end to end (header, every
    record, every signature, the signed trailer: nothing cut off), then its
    records go through ``ingest`` (already stored ones are acknowledged, a
    bad one is refused with its alert as for any upload)."""
    verdict = fv.verify(data, _key(dev), jobs=1, require_trailer=True, slot=dev.slot)
    raws = split_export(data)
    result = ingest(store, dev, raws, now) if raws else UploadResult(dev.device_id)
    p = verdict.problem
    if p is not None and not any(r.status == "rejected" for r in result.results):
        # the records are fine but the export is not (header, trailer)
        kind = classify(p.code) if p.index >= 0 else EXPORT
        seq = p.seq if p.seq is not None else verdict.last_seq
        aid = store.raise_alert(dev.device_id, kind, seq, f"export: {p}", now)
        if aid is not None:
            result.alerts.append(aid)
    return result, verdict
