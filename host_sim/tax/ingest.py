"""Record upload: idempotency, verification through the fiscal verifier
(``tools.fiscal_verify``), storage and the alerts an upload raises.

The backend keeps no second verifier.  For each upload it lays the device's
stored records and the new ones out as an export without header and trailer
(``"PTFX" | 1 | 0x0000 | frames``) and runs ``fiscal_verify.Verifier`` over
it: chain, gap-free sequence, time order, counters and turnover continuity
across uploads, signature-counter order, each X/Z report's range, totals and
RFC 6962 root.  ECDSA signatures are checked only for the new records (the
stored ones were checked when they came).  New records are accepted up to the
first one the verifier names; that one and everything after it are refused.
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


def classify(reason: str) -> str:
    """The alert kind of a verifier failure (its reasons are documented in
    docs/fiscal.md and tools/fiscal_verify.py)."""
    if reason.startswith("sequence "):
        return COUNTER_GAP
    if "previous-record hash" in reason:
        return CHAIN_BREAK
    if "signature counter" in reason:
        return SIG_ROLLBACK
    if "signature does not verify" in reason or "is not signed" in reason:
        return BAD_SIGNATURE
    if "Merkle root" in reason:
        return MERKLE
    if reason.startswith("device "):
        return FOREIGN
    for word in ("counters", "grand total", "totals", "do not add up", "amount"):
        if word in reason:
            return TOTALS
    if reason.startswith("time "):
        return CLOCK
    if "report" in reason:
        return REPORT
    return INVALID


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


def _verify(dev: Device, old: list[bytes], new: list[bytes]) -> fv.Problem | None:
    """The first problem at or after the first new record, or None."""
    v = fv.Verifier(_export(old + new))
    structural: fv.Problem | None = None
    try:
        v.run(require_trailer=False)
    except fv.Invalid as e:
        structural = e.problem
    limit = structural.index if structural is not None else None
    items = [it for it in v.sig_items if it[0] >= len(old) and (limit is None or it[0] < limit)]
    key = serialization.load_der_public_key(dev.public_key)
    pub_der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    bad = fv._check_sigs((pub_der, dev.slot, items))
    if bad is not None:
        s, pos = v.sig_meta[bad]
        return fv.Problem(bad, s, pos, "signature does not verify with the device key")
    return structural


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
    stored = store.records(dev.device_id)
    last = stored[-1].seq if stored else 0
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
    if new_raws:
        problem = _verify(dev, [r.raw for r in stored], new_raws)
        first_bad = len(new_raws) if problem is None else max(0, problem.index - len(stored))
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
                o.alert = classify(problem.reason)
                if problem.index < len(stored):  # the database was edited behind us
                    o.reason = f"the stored journal no longer verifies: {problem}"
                    o.alert = STORE_DAMAGED
                aid = store.raise_alert(dev.device_id, o.alert, rec.seq, problem.reason, now)
                if aid is not None:
                    out.alerts.append(aid)
            else:
                o.reason = f"not verified: after the refused seq {new_recs[first_bad].seq}"
        store.store_records(dev.device_id, accepted, now)
        out.alerts.extend(_z_alerts(store, dev, stored, accepted, now))
    rows = stored + accepted
    if rows:
        out.last_seq = rows[-1].seq
        out.last_hash = rows[-1].hash.hex()
    return out


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
    stored: list[StoredRecord],
    accepted: list[StoredRecord],
    now: int,
) -> list[int]:
    """A receipt dated more than ``z_limit_s`` after its period began: the
    journal should have refused it (missing Z report)."""
    out: list[int] = []
    start = period_start(stored)
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
    and an open period older than the Z limit with receipts in it."""
    raised: list[int] = []
    for dev in store.devices():
        recs = store.records(dev.device_id)
        last_seq = recs[-1].seq if recs else 0
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
    key = serialization.load_der_public_key(dev.public_key)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    verdict = fv.verify(data, key, jobs=1, require_trailer=True, slot=dev.slot)
    raws = split_export(data)
    result = ingest(store, dev, raws, now) if raws else UploadResult(dev.device_id)
    p = verdict.problem
    if p is not None and not any(r.status == "rejected" for r in result.results):
        # the records are fine but the export is not (header, trailer)
        kind = classify(p.reason) if p.index >= 0 else EXPORT
        seq = p.seq if p.seq is not None else verdict.last_seq
        aid = store.raise_alert(dev.device_id, kind, seq, f"export: {p}", now)
        if aid is not None:
            result.alerts.append(aid)
    return result, verdict
