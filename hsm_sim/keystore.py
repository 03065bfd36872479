"""The HSM's SQLite store: the LMK record, stored keys, the audit log.

Keys are stored by label as ``S`` key blocks under the LMK (never clear);
the DB is bound to one LMK by its check value, so a DB made under one LMK
refuses to open under another.  A production LMK is kept here wrapped under
a passphrase-derived key (``hsm_sim.lmk``).  The audit table holds the
command code, the caller, the error code and the time — never a field of
the request or response.

The schema is versioned with SQLite's ``user_version``: ``MIGRATIONS[i]``
takes the schema from version i to i + 1, and opening a DB applies the
missing ones in one transaction each.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE keys (label TEXT PRIMARY KEY, block TEXT NOT NULL,"
        " kcv TEXT NOT NULL, created REAL NOT NULL)",
        "CREATE TABLE audit (id INTEGER PRIMARY KEY, at REAL NOT NULL,"
        " command TEXT NOT NULL, caller TEXT NOT NULL, error TEXT NOT NULL)",
    ),
    (
        "CREATE TABLE lmk (id INTEGER PRIMARY KEY CHECK (id = 1), salt BLOB NOT NULL,"
        " block TEXT NOT NULL, check_value TEXT NOT NULL)",
        "CREATE INDEX audit_at ON audit (at)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

AuditRow = tuple[float, str, str, str]  # (time, command, caller, error code)


class KeystoreError(RuntimeError):
    """The DB cannot be used (other LMK, newer schema)."""


class Keystore:
    def __init__(self, path: str | Path = ":memory:", shared: bool = False) -> None:
        """``shared``: other processes use the same file (HSM workers), so
        stored keys are read from the DB on every lookup, not from memory."""
        self.path = str(path)
        self.shared = shared
        self._db = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30
        )
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._migrate()
        self._labels: dict[str, str] = dict(
            self._db.execute("SELECT label, block FROM keys").fetchall()
        )

    def _migrate(self) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise KeystoreError(
                f"{self.path}: schema version {version} is newer than this HSM's {SCHEMA_VERSION}"
            )
        for number in range(version, SCHEMA_VERSION):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for statement in MIGRATIONS[number]:
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {number + 1}")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    # -- binding to an LMK ----------------------------------------------------

    def bind_lmk(self, check_value: str) -> None:
        """Record the LMK check value, or refuse if the DB holds another's."""
        row = self._db.execute("SELECT value FROM meta WHERE name = 'lmk_check'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('lmk_check', ?)", (check_value,))
        elif row[0] != check_value:
            raise KeystoreError(
                f"{self.path} was made under LMK {row[0]}, not {check_value}: refusing to mix"
            )

    def lmk_record(self) -> tuple[bytes, str, str] | None:
        """(salt, wrapped LMK block, check value) of a stored production LMK."""
        row = self._db.execute("SELECT salt, block, check_value FROM lmk WHERE id = 1").fetchone()
        return None if row is None else (bytes(row[0]), str(row[1]), str(row[2]))

    def save_lmk_record(self, salt: bytes, block: str, check_value: str) -> None:
        self._db.execute(
            "INSERT INTO lmk (id, salt, block, check_value) VALUES (1, ?, ?, ?)",
            (salt, block, check_value),
        )

    # -- stored keys ----------------------------------------------------------------

    def put_key(self, label: str, block: str, kcv: str) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO keys (label, block, kcv, created) VALUES (?, ?, ?, ?)",
            (label, block, kcv, time.time()),
        )
        self._labels[label] = block

    def get_key(self, label: str) -> str | None:
        """The key block stored under ``label`` (from memory: no SQL per
        command, unless the store is shared with other worker processes)."""
        if self.shared:
            row = self._db.execute("SELECT block FROM keys WHERE label = ?", (label,)).fetchone()
            return None if row is None else str(row[0])
        return self._labels.get(label)

    def labels(self) -> list[str]:
        return sorted(self._labels)

    # -- audit ----------------------------------------------------------------------

    def add_audit(self, rows: Iterable[AuditRow]) -> None:
        self._db.execute("BEGIN")
        try:
            self._db.executemany(
                "INSERT INTO audit (at, command, caller, error) VALUES (?, ?, ?, ?)", rows
            )
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def audit_rows(self) -> list[AuditRow]:
        cur = self._db.execute("SELECT at, command, caller, error FROM audit ORDER BY id")
        return [(float(a), str(b), str(c), str(d)) for a, b, c, d in cur.fetchall()]

    def dump(self) -> str:
        """Every row of every table as text (tests search it for secrets)."""
        return "\n".join(self._db.iterdump())
