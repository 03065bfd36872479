"""The TSM's SQLite database: devices, certificates (with revocation),
one-time challenges, parameter documents, the SEs' key-agreement keys, DUKPT
key loads (with the transport-key agreement's public values and the digest
of the expected key confirmation; never a key), the firmware versions the
devices report, OTA packages."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    serial TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    slot INTEGER NOT NULL,
    status TEXT NOT NULL,            -- active | revoked
    enrolled_at INTEGER NOT NULL,
    revoked_at INTEGER,
    reason TEXT
);
CREATE TABLE IF NOT EXISTS certs (
    cert_serial TEXT PRIMARY KEY,    -- hex, lower case
    device TEXT NOT NULL REFERENCES devices(serial),
    not_before INTEGER NOT NULL,
    not_after INTEGER NOT NULL,
    pem TEXT NOT NULL,
    revoked_at INTEGER,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS certs_device ON certs(device);
CREATE TABLE IF NOT EXISTS challenges (
    challenge TEXT PRIMARY KEY,
    serial TEXT NOT NULL,
    purpose TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS params (
    version INTEGER PRIMARY KEY,
    payload TEXT NOT NULL,
    signature TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS key_loads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL,
    ikid TEXT NOT NULL UNIQUE,
    loaded_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS transport_keys (
    device TEXT PRIMARY KEY REFERENCES devices(serial),
    ka_public TEXT NOT NULL,         -- the SE's key-agreement public key (hex)
    registered_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS firmware_reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    device TEXT NOT NULL REFERENCES devices(serial),
    version INTEGER NOT NULL,        -- the OTA image version the device runs
    ota_slot TEXT NOT NULL,          -- the OTA slot it runs from (a | b)
    reported_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS firmware_reports_device ON firmware_reports(device, id);
CREATE TABLE IF NOT EXISTS packages (
    board TEXT NOT NULL,
    version INTEGER NOT NULL,
    package BLOB NOT NULL,
    sha256 TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (board, version)
);
"""

# added to key_loads by the transport-key agreement (ALTER TABLE on old files)
KEY_LOAD_COLUMNS = (
    ("ephemeral", "TEXT"),  # the TSM's ephemeral public key (hex)
    ("se_nonce", "TEXT"),  # the SE's KBPK_NONCE (hex)
    ("kc_digest", "TEXT"),  # SHA-256 of the expected key confirmation
    ("status", "TEXT NOT NULL DEFAULT 'pending'"),  # pending | confirmed
    ("confirmed_at", "INTEGER"),
)


class TsmStore:
    def __init__(self, path: str = ":memory:") -> None:
        self.path = path
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA foreign_keys = ON")
        if path != ":memory:":
            self.db.execute("PRAGMA journal_mode = WAL")
        self.lock = threading.RLock()
        with self.lock:
            self.db.executescript(SCHEMA)
            have = {r["name"] for r in self.db.execute("PRAGMA table_info(key_loads)")}
            for column, kind in KEY_LOAD_COLUMNS:
                if column not in have:  # a database of an earlier version
                    self.db.execute(f"ALTER TABLE key_loads ADD COLUMN {column} {kind}")

    def close(self) -> None:
        self.db.close()

    def one(self, sql: str, *args: Any) -> dict[str, Any] | None:
        with self.lock:
            row = self.db.execute(sql, args).fetchone()
        return dict(row) if row is not None else None

    def all(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(r) for r in self.db.execute(sql, args).fetchall()]

    def run(self, *statements: tuple[str, tuple[Any, ...]]) -> None:
        """Run statements in one transaction."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for sql, args in statements:
                    self.db.execute(sql, args)
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    # -- challenges --------------------------------------------------------

    def take_challenge(self, challenge: str, serial: str, purpose: str, now: int) -> bool:
        """Spend a challenge: True once for a live one issued to ``serial``
        for ``purpose``; a challenge serves one attempt, right or wrong."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            row = self.db.execute(
                "SELECT serial, purpose, expires_at, used FROM challenges WHERE challenge = ?",
                (challenge,),
            ).fetchone()
            ok = (
                row is not None
                and row["serial"] == serial
                and row["purpose"] == purpose
                and row["expires_at"] >= now
                and not row["used"]
            )
            if row is not None:
                self.db.execute("UPDATE challenges SET used = 1 WHERE challenge = ?", (challenge,))
            self.db.execute("COMMIT")
        return ok
