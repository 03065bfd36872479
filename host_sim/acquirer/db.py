"""The acquirer host's SQLite database: schema, versioned migrations, queries.

Tables (docs/acquirer.md has the column list):

- ``merchants``: MID, name, MCC, location;
- ``terminals``: TID, MID, status, open batch number, key references (the
  terminal's MAC key and DUKPT BDK as key blocks under the HSM's LMK, the
  DUKPT initial key ID), the MAC scheme (``static``: the MAC key;
  ``dukpt``: the DUKPT MAC key of each request's KSN), the device serial at
  the TSM (``tsm_serial``, whose status ``--tsm`` checks);
- ``accounts``: card accounts by PAN reference (keyed hash + last 4 digits,
  never the PAN), expiry, PSN, cryptogram version and issuer key reference,
  balance and limits in minor units, status, PIN verification data;
- ``transactions``: one row per financial message (0100, 0200, 0220, 0400,
  0420) with its STAN, RRN, amounts, response code, auth code, batch, the
  original data elements a reversal or a completion names, the completion
  that consumed a pre-authorisation's hold (``completed_by``), and the
  encoded response (sent again, byte for byte, when the same request comes
  twice);
- ``postings``: the account journal, one row per change of a balance;
- ``batches``: settlement results per terminal and batch number.

A posting, its journal row and its transaction row are written in one SQLite
transaction (``HostDb.transaction``): they commit together or not at all.

The schema is versioned with SQLite's ``user_version``: ``MIGRATIONS[i]``
takes it from version i to i + 1; opening a database applies the missing
ones, each in its own transaction.  A database newer than the code is refused.

PANs: the database holds ``HMAC-SHA-256(pan_key, PAN)`` for lookups and the
last four digits for display.  ``pan_key`` is 32 random bytes made when the
database is created and kept in the ``meta`` table (a real host keeps it in
its HSM; docs/acquirer.md says so).  PIN blocks and track data are never
written.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("payterm.acquirer")

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL)",
        "CREATE TABLE merchants (mid TEXT PRIMARY KEY, name TEXT NOT NULL,"
        " mcc TEXT NOT NULL, city TEXT NOT NULL, country TEXT NOT NULL,"
        " status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed')))",
        "CREATE TABLE terminals (tid TEXT PRIMARY KEY,"
        " mid TEXT NOT NULL REFERENCES merchants (mid),"
        " status TEXT NOT NULL DEFAULT 'active'"
        "  CHECK (status IN ('active', 'suspended', 'closed')),"
        " batch_number TEXT NOT NULL DEFAULT '000001',"
        " mac_key_ref TEXT, bdk_ref TEXT, dukpt_ikid TEXT)",
        "CREATE TABLE accounts (id INTEGER PRIMARY KEY,"
        " pan_ref TEXT NOT NULL UNIQUE, pan_last4 TEXT NOT NULL,"
        " expiry TEXT NOT NULL, psn TEXT NOT NULL DEFAULT '00',"
        " cvn INTEGER, issuer_key_ref TEXT,"
        " currency TEXT NOT NULL DEFAULT '400',"
        " balance INTEGER NOT NULL,"
        " per_txn_limit INTEGER NOT NULL, daily_limit INTEGER NOT NULL,"
        " spent_day TEXT NOT NULL DEFAULT '', spent_today INTEGER NOT NULL DEFAULT 0,"
        " status TEXT NOT NULL DEFAULT 'active'"
        "  CHECK (status IN ('active', 'blocked', 'lost', 'stolen')),"
        " allowed_processing TEXT NOT NULL DEFAULT '00,20,31',"
        " pin_method TEXT CHECK (pin_method IN ('pvv', 'ibm3624')),"
        " pin_key_ref TEXT, pin_data TEXT,"
        " pin_tries INTEGER NOT NULL DEFAULT 0, pin_try_limit INTEGER NOT NULL DEFAULT 3)",
        "CREATE TABLE transactions (id INTEGER PRIMARY KEY,"
        " tid TEXT NOT NULL, mid TEXT NOT NULL, mti TEXT NOT NULL, stan TEXT NOT NULL,"
        " transmitted TEXT NOT NULL, rrn TEXT NOT NULL UNIQUE,"
        " processing_code TEXT NOT NULL, amount INTEGER NOT NULL, currency TEXT NOT NULL,"
        " account_id INTEGER REFERENCES accounts (id), pan_last4 TEXT NOT NULL,"
        " response_code TEXT NOT NULL, auth_code TEXT NOT NULL, batch_number TEXT NOT NULL,"
        " status TEXT NOT NULL CHECK (status IN ('approved', 'declined', 'reversed',"
        "  'reversal', 'advice')),"
        " original_mti TEXT, original_stan TEXT, original_transmitted TEXT,"
        " reversed_amount INTEGER NOT NULL DEFAULT 0,"
        " request_digest BLOB NOT NULL, response BLOB NOT NULL, created REAL NOT NULL,"
        " UNIQUE (tid, stan, transmitted, mti))",
        "CREATE INDEX transactions_batch ON transactions (tid, batch_number)",
        "CREATE TABLE postings (id INTEGER PRIMARY KEY,"
        " account_id INTEGER NOT NULL REFERENCES accounts (id),"
        " transaction_id INTEGER NOT NULL REFERENCES transactions (id),"
        " kind TEXT NOT NULL, amount INTEGER NOT NULL, balance_after INTEGER NOT NULL,"
        " created REAL NOT NULL)",
        "CREATE TABLE batches (tid TEXT NOT NULL, batch_number TEXT NOT NULL,"
        " closed REAL NOT NULL, response_code TEXT NOT NULL,"
        " sales_count INTEGER NOT NULL, sales_amount INTEGER NOT NULL,"
        " refunds_count INTEGER NOT NULL, refunds_amount INTEGER NOT NULL,"
        " PRIMARY KEY (tid, batch_number, closed))",
    ),
    (
        # 2: the offline cryptogram (TC) of an advice, checked by the HSM:
        # 1 verified, 0 failed (kept for the chargeback), NULL not checked.
        "ALTER TABLE transactions ADD COLUMN cryptogram_ok INTEGER",
    ),
    (
        # 3: a pre-authorisation (0100) completed by an 0220 (completion.py):
        # the completion's row; NULL while the hold stands or was never one.
        "ALTER TABLE transactions ADD COLUMN completed_by INTEGER REFERENCES transactions (id)",
    ),
    (
        # 4: the terminal's MAC scheme: 'static' (one AES-CMAC key per
        # terminal, mac_key_ref) or 'dukpt' (the AES DUKPT MAC key of each
        # request's KSN, from bdk_ref); terminals seeded before stay static.
        "ALTER TABLE terminals ADD COLUMN mac_scheme TEXT NOT NULL DEFAULT 'static'"
        " CHECK (mac_scheme IN ('static', 'dukpt'))",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

# Columns added at open when missing, outside the numbered migrations: each
# is nullable and read by name, so a database that has one still opens in a
# host that predates it (a numbered migration would make that host refuse it).
OPTIONAL_COLUMNS = (
    # the terminal's device serial at the TSM, whose status is checked
    # (``payterm host --tsm``, docs/acquirer.md); NULL: not checked
    ("terminals", "tsm_serial", "TEXT"),
)

ACCOUNT_COLUMNS = (
    "id, pan_last4, expiry, psn, cvn, issuer_key_ref, currency, balance, per_txn_limit,"
    " daily_limit, spent_day, spent_today, status, allowed_processing, pin_method,"
    " pin_key_ref, pin_data, pin_tries, pin_try_limit"
)


class SchemaError(RuntimeError):
    """The database was written by a newer version of the host."""


@dataclass
class Terminal:
    tid: str
    mid: str
    status: str
    batch_number: str
    mac_key_ref: str | None
    bdk_ref: str | None
    dukpt_ikid: str | None
    mac_scheme: str = "static"
    tsm_serial: str | None = None


@dataclass
class Account:
    id: int
    pan_last4: str
    expiry: str
    psn: str
    cvn: int | None
    issuer_key_ref: str | None
    currency: str
    balance: int
    per_txn_limit: int
    daily_limit: int
    spent_day: str
    spent_today: int
    status: str
    allowed_processing: str
    pin_method: str | None
    pin_key_ref: str | None
    pin_data: str | None
    pin_tries: int
    pin_try_limit: int


@dataclass
class StoredTransaction:
    id: int
    tid: str
    mti: str
    stan: str
    transmitted: str
    rrn: str
    processing_code: str
    amount: int
    account_id: int | None
    response_code: str
    auth_code: str
    batch_number: str
    status: str
    reversed_amount: int
    request_digest: bytes
    response: bytes
    completed_by: int | None = None


TRANSACTION_COLUMNS = (
    "id, tid, mti, stan, transmitted, rrn, processing_code, amount, account_id,"
    " response_code, auth_code, batch_number, status, reversed_amount, request_digest, response,"
    " completed_by"
)


class HostDb:
    """One SQLite connection (the host runs on one event loop)."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA foreign_keys = ON")
        self._checkpointer: threading.Thread | None = None
        self._stop = threading.Event()
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode = WAL")
            # WAL + NORMAL: a commit is durable against a crash of the host
            # process; an OS crash may lose the last commits, never half of one.
            self._db.execute("PRAGMA synchronous = NORMAL")
        self._migrate()
        self._add_optional_columns()
        self.pan_key = self._pan_key()

    def start_checkpointer(self, interval: float = 1.0) -> None:
        """Move WAL checkpoints (the only step that fsyncs in WAL + NORMAL)
        off the serving thread: automatic checkpoints are switched off on this
        connection and a background thread with its own connection runs a
        checkpoint every ``interval`` seconds, so the copying and the fsyncs
        happen beside the event loop, not in the middle of a commit."""
        if self.path == ":memory:" or self._checkpointer is not None:
            return
        self._db.execute("PRAGMA wal_autocheckpoint = 0")
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, args=(interval,), name="wal-checkpoint", daemon=True
        )
        self._checkpointer.start()

    def _checkpoint_loop(self, interval: float) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            while not self._stop.wait(interval):
                with contextlib.suppress(sqlite3.Error):
                    # PASSIVE copies the bulk without holding anyone up; the
                    # RESTART that follows copies what arrived meanwhile,
                    # holding writers for that short moment, so the next
                    # writer starts the WAL from its beginning again (a
                    # writer that never pauses would otherwise starve the
                    # checkpoint and the WAL would grow without bound).
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    conn.execute("PRAGMA wal_checkpoint(RESTART)")
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()

    # -- schema ----------------------------------------------------------------

    def _migrate(self) -> None:
        version = self.schema_version
        if version > SCHEMA_VERSION:
            raise SchemaError(
                f"{self.path}: schema version {version} is newer than this host's {SCHEMA_VERSION}"
            )
        for number in range(version, SCHEMA_VERSION):
            with self.transaction():
                for statement in MIGRATIONS[number]:
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {number + 1}")

    def _add_optional_columns(self) -> None:
        for table, column, kind in OPTIONAL_COLUMNS:
            have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if column not in have:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def _pan_key(self) -> bytes:
        row = self._db.execute("SELECT value FROM meta WHERE name = 'pan_key'").fetchone()
        if row is not None:
            return bytes(row[0])
        key = os.urandom(32)
        self._db.execute("INSERT INTO meta VALUES ('pan_key', ?)", (key,))
        return key

    def close(self) -> None:
        if self._checkpointer is not None:
            self._stop.set()
            self._checkpointer.join()
            self._checkpointer = None
        self._db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any exception."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def group_commit(self, work: list[Callable[[sqlite3.Connection], None]]) -> list[bool]:
        """Run several units of work in one SQLite transaction, each inside
        its own SAVEPOINT: a unit that fails is rolled back alone (False),
        the others commit together (True) — one WAL append for the group.
        If the COMMIT itself fails, every unit is rolled back."""
        conn = self._db
        results: list[bool] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error:
            return [False] * len(work)
        try:
            for unit in work:
                conn.execute("SAVEPOINT unit")
                try:
                    unit(conn)
                except Exception as exc:
                    log.warning("database unit rolled back: %s", exc)
                    conn.execute("ROLLBACK TO unit")
                    conn.execute("RELEASE unit")
                    results.append(False)
                else:
                    conn.execute("RELEASE unit")
                    results.append(True)
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            return [False] * len(work)
        return results

    def pan_ref(self, pan: str) -> str:
        return hmac.new(self.pan_key, pan.encode("ascii"), hashlib.sha256).hexdigest()

    # -- reference data ----------------------------------------------------------

    def add_merchant(self, mid: str, name: str, mcc: str, city: str, country: str) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO merchants (mid, name, mcc, city, country) VALUES (?,?,?,?,?)",
            (mid, name, mcc, city, country),
        )

    def add_terminal(
        self,
        tid: str,
        mid: str,
        mac_key_ref: str | None = None,
        bdk_ref: str | None = None,
        dukpt_ikid: str | None = None,
        status: str = "active",
        batch_number: str = "000001",
        mac_scheme: str = "static",
    ) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO terminals (tid, mid, status, batch_number, mac_key_ref,"
            " bdk_ref, dukpt_ikid, mac_scheme) VALUES (?,?,?,?,?,?,?,?)",
            (tid, mid, status, batch_number, mac_key_ref, bdk_ref, dukpt_ikid, mac_scheme),
        )

    def set_tsm_serial(self, tid: str, serial: str | None) -> None:
        """Map a terminal to its device serial at the TSM (None: unchecked)."""
        self._db.execute("UPDATE terminals SET tsm_serial = ? WHERE tid = ?", (serial, tid))

    def add_account(
        self,
        pan: str,
        expiry: str,
        balance: int,
        per_txn_limit: int,
        daily_limit: int,
        psn: str = "00",
        cvn: int | None = None,
        issuer_key_ref: str | None = None,
        status: str = "active",
        allowed_processing: str = "00,20,31",
        pin_method: str | None = None,
        pin_key_ref: str | None = None,
        pin_data: str | None = None,
        pin_try_limit: int = 3,
        currency: str = "400",
    ) -> int:
        cur = self._db.execute(
            "INSERT OR REPLACE INTO accounts (pan_ref, pan_last4, expiry, psn, cvn,"
            " issuer_key_ref, currency, balance, per_txn_limit, daily_limit, status,"
            " allowed_processing, pin_method, pin_key_ref, pin_data, pin_try_limit)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                self.pan_ref(pan), pan[-4:], expiry, psn, cvn, issuer_key_ref, currency,
                balance, per_txn_limit, daily_limit, status, allowed_processing, pin_method,
                pin_key_ref, pin_data, pin_try_limit,
            ),
        )  # fmt: skip
        return int(cur.lastrowid or 0)

    def terminal(self, tid: str) -> Terminal | None:
        row = self._db.execute(
            "SELECT t.tid, t.mid, CASE WHEN m.status = 'active' THEN t.status ELSE 'closed' END,"
            " t.batch_number, t.mac_key_ref, t.bdk_ref, t.dukpt_ikid, t.mac_scheme, t.tsm_serial"
            " FROM terminals t JOIN merchants m ON m.mid = t.mid WHERE t.tid = ?",
            (tid,),
        ).fetchone()
        return None if row is None else Terminal(*row)

    def account_by_pan(self, pan: str) -> Account | None:
        row = self._db.execute(
            f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE pan_ref = ?", (self.pan_ref(pan),)
        ).fetchone()
        return None if row is None else Account(*row)

    def account(self, account_id: int) -> Account | None:
        row = self._db.execute(
            f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?", (account_id,)
        ).fetchone()
        return None if row is None else Account(*row)

    # -- transactions ------------------------------------------------------------

    def find_transaction(
        self, tid: str, stan: str, transmitted: str, mti: str
    ) -> StoredTransaction | None:
        row = self._db.execute(
            f"SELECT {TRANSACTION_COLUMNS} FROM transactions"
            " WHERE tid = ? AND stan = ? AND transmitted = ? AND mti = ?",
            (tid, stan, transmitted, mti),
        ).fetchone()
        return None if row is None else StoredTransaction(*row)

    def find_original(
        self, tid: str, mti: str, stan: str, transmitted: str
    ) -> StoredTransaction | None:
        """The transaction a reversal names (field 90: MTI, STAN, field 7)."""
        return self.find_transaction(tid, stan, transmitted, mti)

    def insert_transaction(self, conn: sqlite3.Connection, row: dict[str, Any]) -> int:
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        cur = conn.execute(
            f"INSERT INTO transactions ({columns}) VALUES ({marks})", tuple(row.values())
        )
        return int(cur.lastrowid or 0)

    def post(
        self,
        conn: sqlite3.Connection,
        account_id: int,
        transaction_id: int,
        kind: str,
        amount: int,
        at: float,
        day: str | None = None,
        spend: int = 0,
    ) -> int:
        """Add ``amount`` (signed, minor units) to the balance and journal it;
        ``spend`` adds to the day's spending (``day`` = YYYYMMDD)."""
        if day is None:
            row = conn.execute(
                "UPDATE accounts SET balance = balance + ?,"
                " spent_today = MAX(0, spent_today + ?) WHERE id = ? RETURNING balance",
                (amount, spend, account_id),
            ).fetchone()
        else:
            row = conn.execute(
                "UPDATE accounts SET balance = balance + ?,"
                " spent_today = CASE WHEN spent_day = ? THEN spent_today + ? ELSE ? END,"
                " spent_day = ? WHERE id = ? RETURNING balance",
                (amount, day, spend, spend, day, account_id),
            ).fetchone()
        balance = int(row[0])
        conn.execute(
            "INSERT INTO postings (account_id, transaction_id, kind, amount, balance_after,"
            " created) VALUES (?,?,?,?,?,?)",
            (account_id, transaction_id, kind, amount, balance, at),
        )
        return balance

    def mark_reversed(self, conn: sqlite3.Connection, transaction_id: int, amount: int) -> None:
        conn.execute(
            "UPDATE transactions SET reversed_amount = reversed_amount + ?,"
            " status = CASE WHEN reversed_amount + ? >= amount THEN 'reversed' ELSE status END"
            " WHERE id = ?",
            (amount, amount, transaction_id),
        )

    def mark_completed(
        self, conn: sqlite3.Connection, transaction_id: int, completion_id: int
    ) -> None:
        """The hold ``transaction_id`` (an 0100) was turned into a posting by
        the completion ``completion_id`` (an 0220, completion.py)."""
        conn.execute(
            "UPDATE transactions SET completed_by = ? WHERE id = ?", (completion_id, transaction_id)
        )

    def max_rrn_sequence(self) -> int:
        """The highest sequence number in a stored RRN (its last 8 digits)."""
        row = self._db.execute(
            "SELECT COALESCE(MAX(CAST(substr(rrn, 5) AS INTEGER)), 0) FROM transactions"
        ).fetchone()
        return int(row[0])

    # -- settlement --------------------------------------------------------------

    def batch_totals(self, tid: str, batch_number: str) -> tuple[int, int, int, int]:
        """(sales count, sales amount, refunds count, refunds amount) of the
        financial transactions that stand in a batch (approved and offline
        advices, less what was reversed)."""
        row = self._db.execute(
            "SELECT"
            " COALESCE(SUM(CASE WHEN processing_code NOT LIKE '20%' THEN 1 END), 0),"
            " COALESCE(SUM(CASE WHEN processing_code NOT LIKE '20%'"
            "  THEN amount - reversed_amount END), 0),"
            " COALESCE(SUM(CASE WHEN processing_code LIKE '20%' THEN 1 END), 0),"
            " COALESCE(SUM(CASE WHEN processing_code LIKE '20%'"
            "  THEN amount - reversed_amount END), 0)"
            " FROM transactions WHERE tid = ? AND batch_number = ? AND mti IN ('0200', '0220')"
            " AND status IN ('approved', 'advice') AND processing_code NOT LIKE '31%'",
            (tid, batch_number),
        ).fetchone()
        return int(row[0]), int(row[1]), int(row[2]), int(row[3])

    def close_batch(
        self,
        conn: sqlite3.Connection,
        tid: str,
        batch_number: str,
        totals: tuple[int, int, int, int],
        response_code: str,
        at: float,
        next_batch: str | None,
    ) -> None:
        conn.execute(
            "INSERT INTO batches (tid, batch_number, closed, response_code, sales_count,"
            " sales_amount, refunds_count, refunds_amount) VALUES (?,?,?,?,?,?,?,?)",
            (tid, batch_number, at, response_code, *totals),
        )
        if next_batch is not None:
            conn.execute("UPDATE terminals SET batch_number = ? WHERE tid = ?", (next_batch, tid))

    def dump(self) -> str:
        """Every row of every table as SQL text (tests search it for secrets)."""
        return "\n".join(self._db.iterdump())
