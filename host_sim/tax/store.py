"""SQLite storage of the tax backend: devices, records, alerts and the
backend's own hash-chained audit log.

Every method takes the store's lock, so one ``TaxStore`` is shared by the
HTTP worker threads.  Each audit entry carries ``hash = SHA-256(prev_hash |
canonical JSON of (id, time, event, device_id, detail))``; ``verify_audit``
recomputes the chain and names the first entry that does not match."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from dataclasses import dataclass
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    device_id TEXT PRIMARY KEY,
    public_key BLOB NOT NULL,
    slot INTEGER NOT NULL,
    certificate TEXT,
    registered_at INTEGER NOT NULL,
    last_seen INTEGER,
    auth_counter INTEGER NOT NULL DEFAULT 0,
    silent_limit_s INTEGER NOT NULL,
    z_limit_s INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    device_id TEXT NOT NULL REFERENCES devices(device_id),
    seq INTEGER NOT NULL,
    rtype INTEGER NOT NULL,
    time INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    hash BLOB NOT NULL,
    raw BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (device_id, seq)
);
CREATE TABLE IF NOT EXISTS verifier_state (
    device_id TEXT PRIMARY KEY REFERENCES devices(device_id),
    records INTEGER NOT NULL,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    seq INTEGER,
    detail TEXT NOT NULL,
    raised_at INTEGER NOT NULL,
    open INTEGER NOT NULL DEFAULT 1,
    UNIQUE (device_id, kind, seq)
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    time INTEGER NOT NULL,
    event TEXT NOT NULL,
    device_id TEXT,
    detail TEXT NOT NULL,
    prev BLOB NOT NULL,
    hash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS invoices (
    uuid TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    invoice_id TEXT NOT NULL,
    invoice_hash BLOB NOT NULL,
    status TEXT NOT NULL,
    qr TEXT NOT NULL,
    xml BLOB NOT NULL,
    received_at INTEGER NOT NULL
);
"""

ZERO = b"\x00" * 32


@dataclass
class Device:
    device_id: str
    public_key: bytes  # DER SubjectPublicKeyInfo
    slot: int
    certificate: str | None
    registered_at: int
    last_seen: int | None
    auth_counter: int
    silent_limit_s: int
    z_limit_s: int


@dataclass
class StoredRecord:
    seq: int
    rtype: int
    time: int
    amount: int
    hash: bytes
    raw: bytes


def _audit_hash(
    prev: bytes, eid: int, time: int, event: str, dev: str | None, detail: str
) -> bytes:
    body = json.dumps([eid, time, event, dev, detail], separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(prev + body.encode()).digest()


class TaxStore:
    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self.lock = threading.RLock()
        self._device_locks: dict[str, threading.Lock] = {}
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA foreign_keys = ON")
        if path != ":memory:":
            self.db.execute("PRAGMA journal_mode = WAL")
        self.db.executescript(SCHEMA)

    def device_lock(self, device_id: str) -> threading.Lock:
        """Held while one upload of a device is verified and stored."""
        with self.lock:
            return self._device_locks.setdefault(device_id, threading.Lock())

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # -- devices -------------------------------------------------------
    def device(self, device_id: str) -> Device | None:
        with self.lock:
            row = self.db.execute(
                "SELECT device_id, public_key, slot, certificate, registered_at, last_seen,"
                " auth_counter, silent_limit_s, z_limit_s FROM devices WHERE device_id = ?",
                (device_id,),
            ).fetchone()
        return None if row is None else Device(*row)

    def devices(self) -> list[Device]:
        with self.lock:
            rows = self.db.execute(
                "SELECT device_id, public_key, slot, certificate, registered_at, last_seen,"
                " auth_counter, silent_limit_s, z_limit_s FROM devices ORDER BY device_id"
            ).fetchall()
        return [Device(*r) for r in rows]

    def add_device(self, dev: Device) -> None:
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.execute(
                    "INSERT INTO devices VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        dev.device_id,
                        dev.public_key,
                        dev.slot,
                        dev.certificate,
                        dev.registered_at,
                        dev.last_seen,
                        dev.auth_counter,
                        dev.silent_limit_s,
                        dev.z_limit_s,
                    ),
                )
                self._audit(
                    dev.registered_at,
                    "device_registered",
                    dev.device_id,
                    {"public_key": dev.public_key.hex(), "slot": dev.slot},
                )
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def take_auth_counter(self, device_id: str, counter: int, now: int) -> bool:
        """Accept an upload signature counter only if above the last one."""
        with self.lock:
            cur = self.db.execute(
                "UPDATE devices SET auth_counter = ?, last_seen = ?"
                " WHERE device_id = ? AND auth_counter < ?",
                (counter, now, device_id, counter),
            )
            return cur.rowcount == 1

    # -- records -------------------------------------------------------
    def records(self, device_id: str) -> list[StoredRecord]:
        with self.lock:
            rows = self.db.execute(
                "SELECT seq, rtype, time, amount, hash, raw FROM records"
                " WHERE device_id = ? ORDER BY seq",
                (device_id,),
            ).fetchall()
        return [StoredRecord(*r) for r in rows]

    def record_hashes(self, device_id: str, seqs: list[int]) -> dict[int, bytes]:
        out: dict[int, bytes] = {}
        with self.lock:
            for s in seqs:
                row = self.db.execute(
                    "SELECT hash FROM records WHERE device_id = ? AND seq = ?", (device_id, s)
                ).fetchone()
                if row is not None:
                    out[s] = row[0]
        return out

    def last_record(self, device_id: str) -> StoredRecord | None:
        with self.lock:
            row = self.db.execute(
                "SELECT seq, rtype, time, amount, hash, raw FROM records"
                " WHERE device_id = ? ORDER BY seq DESC LIMIT 1",
                (device_id,),
            ).fetchone()
        return None if row is None else StoredRecord(*row)

    def first_record_time(self, device_id: str) -> int | None:
        with self.lock:
            row = self.db.execute(
                "SELECT time FROM records WHERE device_id = ? ORDER BY seq LIMIT 1", (device_id,)
            ).fetchone()
        return None if row is None else int(row[0])

    def record_count(self, device_id: str) -> int:
        with self.lock:
            row = self.db.execute(
                "SELECT COUNT(*) FROM records WHERE device_id = ?", (device_id,)
            ).fetchone()
        return int(row[0])

    def verifier_state(self, device_id: str) -> str | None:
        """The fiscal verifier's state (JSON, ``fiscal_verify.VerifierState``)
        after the device's last stored record, None when none was kept."""
        with self.lock:
            row = self.db.execute(
                "SELECT state FROM verifier_state WHERE device_id = ?", (device_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    def set_verifier_state(self, device_id: str, records: int, state: str) -> None:
        with self.lock:
            self._put_state(device_id, records, state)

    def _put_state(self, device_id: str, records: int, state: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO verifier_state (device_id, records, state) VALUES (?, ?, ?)",
            (device_id, records, state),
        )

    def store_records(
        self,
        device_id: str,
        recs: list[StoredRecord],
        now: int,
        state: tuple[int, str] | None = None,
    ) -> None:
        """Store verified records and audit them, in one transaction, with
        the verifier state after them (records verified, JSON)."""
        if not recs:
            return
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                if state is not None:
                    self._put_state(device_id, *state)
                self.db.executemany(
                    "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (device_id, r.seq, r.rtype, r.time, r.amount, r.hash, r.raw, now)
                        for r in recs
                    ],
                )
                self._audit(
                    now,
                    "records_accepted",
                    device_id,
                    {
                        "first_seq": recs[0].seq,
                        "last_seq": recs[-1].seq,
                        "count": len(recs),
                        "last_hash": recs[-1].hash.hex(),
                    },
                )
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    # -- alerts --------------------------------------------------------
    def raise_alert(
        self, device_id: str, kind: str, seq: int | None, detail: str, now: int
    ) -> int | None:
        """Open an alert; the same (device, kind, seq) is raised once. Returns
        its id when new."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                cur = self.db.execute(
                    "INSERT OR IGNORE INTO alerts (device_id, kind, seq, detail, raised_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (device_id, kind, seq, detail, now),
                )
                new = cur.rowcount == 1
                aid = cur.lastrowid if new else None
                if new:
                    self._audit(
                        now, "alert_raised", device_id, {"id": aid, "kind": kind, "seq": seq}
                    )
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return aid

    def alerts(self, device_id: str | None = None, open_only: bool = False) -> list[dict[str, Any]]:
        q = "SELECT id, device_id, kind, seq, detail, raised_at, open FROM alerts WHERE 1=1"
        args: list[Any] = []
        if device_id is not None:
            q += " AND device_id = ?"
            args.append(device_id)
        if open_only:
            q += " AND open = 1"
        with self.lock:
            rows = self.db.execute(q + " ORDER BY id", args).fetchall()
        keys = ("id", "device_id", "kind", "seq", "detail", "raised_at", "open")
        out = [dict(zip(keys, r, strict=True)) for r in rows]
        for a in out:
            a["open"] = bool(a["open"])
        return out

    def close_alert(self, aid: int, now: int, note: str) -> bool:
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                cur = self.db.execute(
                    "UPDATE alerts SET open = 0 WHERE id = ? AND open = 1", (aid,)
                )
                ok = cur.rowcount == 1
                if ok:
                    self._audit(now, "alert_closed", None, {"id": aid, "note": note})
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        return ok

    # -- invoices ------------------------------------------------------
    def invoice_by_uuid(self, uuid: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.db.execute(
                "SELECT uuid, device_id, invoice_id, status, qr, received_at, invoice_hash"
                " FROM invoices WHERE uuid = ?",
                (uuid,),
            ).fetchone()
        if row is None:
            return None
        keys = ("uuid", "device_id", "invoice_id", "status", "qr", "received_at", "invoice_hash")
        return dict(zip(keys, row, strict=True))

    def add_invoice(
        self,
        uuid: str,
        device_id: str,
        invoice_id: str,
        digest: bytes,
        status: str,
        qr: str,
        xml: bytes,
        now: int,
    ) -> None:
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.execute(
                    "INSERT INTO invoices"
                    " (uuid, device_id, invoice_id, invoice_hash, status, qr, xml, received_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (uuid, device_id, invoice_id, digest, status, qr, xml, now),
                )
                self._audit(
                    now,
                    "invoice_cleared",
                    device_id,
                    {"uuid": uuid, "invoice_id": invoice_id, "hash": digest.hex()},
                )
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    # -- audit log -----------------------------------------------------
    def audit(self, now: int, event: str, device_id: str | None, detail: dict[str, Any]) -> None:
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self._audit(now, event, device_id, detail)
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def _audit(self, now: int, event: str, device_id: str | None, detail: dict[str, Any]) -> None:
        row = self.db.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
        eid, prev = (1, ZERO) if row is None else (row[0] + 1, row[1])
        text = json.dumps(detail, separators=(",", ":"), sort_keys=True)
        h = _audit_hash(prev, eid, now, event, device_id, text)
        self.db.execute(
            "INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?)",
            (eid, now, event, device_id, text, prev, h),
        )

    def audit_entries(self, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        with self.lock:
            rows = self.db.execute(
                "SELECT id, time, event, device_id, detail, prev, hash FROM audit"
                " WHERE id > ? ORDER BY id LIMIT ?",
                (after, limit),
            ).fetchall()
        return [
            {
                "id": r[0],
                "time": r[1],
                "event": r[2],
                "device_id": r[3],
                "detail": json.loads(r[4]),
                "prev": r[5].hex(),
                "hash": r[6].hex(),
            }
            for r in rows
        ]

    def verify_audit(self) -> tuple[int, int | None, str]:
        """(entries, first bad id or None, head hash hex)."""
        prev = ZERO
        n = 0
        with self.lock:
            cur = self.db.execute(
                "SELECT id, time, event, device_id, detail, prev, hash FROM audit ORDER BY id"
            )
            for eid, time, event, dev, detail, p, h in cur:
                n += 1
                if eid != n or p != prev or _audit_hash(p, eid, time, event, dev, detail) != h:
                    return n, eid, prev.hex()
                prev = h
        return n, None, prev.hex()
