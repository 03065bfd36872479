"""What every message handler works with: the database, the HSM, the clock,
reference numbers, per-account locks, and ``finish`` — the one place where
a response is encoded, MACed and committed together with its postings.

Order of ``finish``: encode the response (with an 8-byte zero MAC placeholder
when the terminal MACs), compute the MAC through the HSM (under the
terminal's static key, or under the DUKPT MAC key of the request's KSN,
``MAC_KSN``), then in
one SQLite transaction write the transaction row (holding the response
bytes, for duplicates) and its postings.  Any failure before COMMIT leaves
the database as it was.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import logging
import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from host_sim.acquirer import codes
from host_sim.acquirer.db import HostDb, Terminal
from host_sim.acquirer.devices import DeviceGate
from host_sim.acquirer.security import Security, SecurityUnavailable
from protocols import iso8583
from protocols.iso8583_specs import PAYTERM_1987

log = logging.getLogger("payterm.acquirer")

Commit = Callable[[sqlite3.Connection, bytes], None]
AUTH_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
AUTH_CODE_LEN = 6
MAC_LEN = 8


class GateClosed(Exception):
    """The request's MAC did not verify (63) or could not be checked (91):
    nothing may be committed or answered from stored data."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


# The verification of the current request's MAC, started by the processor
# as soon as the request is read and awaited by ``pass_gate`` before any
# commit: the MAC check runs beside the PIN and ARQC checks instead of before
# them, and nothing is written until it has passed.
MAC_GATE: contextvars.ContextVar[asyncio.Future[bool] | None] = contextvars.ContextVar(
    "mac_gate", default=None
)


# The KSN of the current request when its terminal MACs under AES DUKPT: the
# response is MACed under the same KSN's MAC key (set by the processor).
MAC_KSN: contextvars.ContextVar[bytes | None] = contextvars.ContextVar("mac_ksn", default=None)


async def pass_gate() -> None:
    gate = MAC_GATE.get()
    if gate is None:
        return
    try:
        ok = await asyncio.shield(gate)
    except SecurityUnavailable:
        raise GateClosed(codes.ISSUER_UNAVAILABLE) from None
    if not ok:
        raise GateClosed(codes.SECURITY_VIOLATION)


class Reply(bytes):
    """An encoded response that remembers its response code (field 39), so
    the front end can journal it without decoding the message again."""

    code: str = ""

    @classmethod
    def of(cls, wire: bytes, code: str) -> Reply:
        reply = cls(wire)
        reply.code = code
        return reply


@dataclass
class HostConfig:
    """Host settings: ``settlement_date`` gives field 15 (MMDD; default
    today, UTC)."""

    settlement_date: Callable[[], str] | None = None


@dataclass
class HostContext:
    db: HostDb
    security: Security
    config: HostConfig = field(default_factory=HostConfig)
    spec: dict[str, dict[str, Any]] = field(default_factory=lambda: PAYTERM_1987)
    clock: Callable[[], float] = time.time
    # the TSM's device status (``--tsm``): None, not checked (devices.py)
    devices: DeviceGate | None = None
    _locks: dict[int, asyncio.Lock] = field(default_factory=dict)
    _rrn_seq: int = -1
    _commits: list[tuple[Callable[[sqlite3.Connection], None], asyncio.Future[bool]]] = field(
        default_factory=list
    )

    # -- reference numbers -------------------------------------------------------

    def new_rrn(self) -> str:
        """Julian date (YDDD) + an 8-digit sequence: 12 characters, unique."""
        if self._rrn_seq < 0:
            self._rrn_seq = self.db.max_rrn_sequence()
        self._rrn_seq += 1
        day = time.strftime("%y%j", time.gmtime(self.clock()))[1:]
        return f"{day}{self._rrn_seq % 100_000_000:08d}"

    @staticmethod
    def new_auth_code() -> str:
        """Six characters of ``AUTH_CODE_ALPHABET``, uniform: one draw
        below 34**6 written in base 34 (one call to the system's CSPRNG
        instead of six)."""
        base = len(AUTH_CODE_ALPHABET)
        n = secrets.randbelow(base**AUTH_CODE_LEN)
        out = []
        for _ in range(AUTH_CODE_LEN):
            n, digit = divmod(n, base)
            out.append(AUTH_CODE_ALPHABET[digit])
        return "".join(out)

    def today(self) -> str:
        return time.strftime("%Y%m%d", time.gmtime(self.clock()))

    def yymm(self) -> str:
        return time.strftime("%y%m", time.gmtime(self.clock()))

    def settlement_mmdd(self) -> str:
        if self.config.settlement_date is not None:
            return self.config.settlement_date()
        return time.strftime("%m%d", time.gmtime(self.clock()))

    def account_lock(self, account_id: int) -> asyncio.Lock:
        lock = self._locks.get(account_id)
        if lock is None:
            lock = self._locks[account_id] = asyncio.Lock()
        return lock

    # -- responses ---------------------------------------------------------------

    def _macs(self, terminal: Terminal | None) -> bool:
        """Whether this terminal's answers are MACed: a static terminal with
        a MAC key, a DUKPT terminal whose request named a KSN."""
        if terminal is None:
            return False
        if terminal.mac_scheme == "dukpt":
            return bool(terminal.bdk_ref) and MAC_KSN.get() is not None
        return bool(terminal.mac_key_ref)

    async def _mac(self, terminal: Terminal, data: bytes) -> bytes:
        if terminal.mac_scheme == "dukpt":
            ksn = MAC_KSN.get()
            assert terminal.bdk_ref and ksn is not None
            return await self.security.generate_dukpt_mac(terminal.bdk_ref, ksn, data)
        assert terminal.mac_key_ref
        return await self.security.generate_mac(terminal.mac_key_ref, data)

    async def encode(self, response: dict[str, str], terminal: Terminal | None) -> Reply:
        """Encode; MAC it (field 64 or 128) when the terminal MACs."""
        code = response.get("39", "")
        if terminal is None or code == "63" or not self._macs(terminal):
            return Reply.of(iso8583.encode(response, self.spec), code)
        mac_field = "128" if any(int(k) > 64 for k in response if k.isdigit()) else "64"
        response[mac_field] = bytes(MAC_LEN).hex()
        wire = iso8583.encode(response, self.spec)
        mac = await self._mac(terminal, wire[:-MAC_LEN])
        response[mac_field] = mac.hex().upper()
        return Reply.of(wire[:-MAC_LEN] + mac, code)

    async def replay(self, wire: bytes, code: str, terminal: Terminal) -> Reply:
        """A stored answer sent again.  Under the DUKPT scheme its MAC is
        recomputed under the repeat's KSN (the terminal verifies with the
        key of the KSN it just used); the bytes before the MAC are the
        first answer's."""
        if terminal.mac_scheme != "dukpt" or not self._macs(terminal):
            return Reply.of(wire, code)
        try:
            fields = iso8583.decode(wire, self.spec)
        except ValueError:
            return Reply.of(wire, code)
        if "64" not in fields and "128" not in fields:
            return Reply.of(wire, code)
        return Reply.of(wire[:-MAC_LEN] + await self._mac(terminal, wire[:-MAC_LEN]), code)

    async def finish(
        self,
        response: dict[str, str],
        terminal: Terminal,
        commit: Commit | None,
    ) -> Reply:
        """Once the request's MAC has verified (``pass_gate``), encode and
        MAC ``response`` and run ``commit(conn, wire)`` in one transaction.
        A failure of the commit gives 96 and posts nothing."""
        await pass_gate()
        wire = await self.encode(response, terminal)
        if commit is None:
            return wire
        if await self._commit(lambda conn: commit(conn, wire)):
            return wire
        log.warning("database error on %s from %s", response.get("t"), terminal.tid)
        failed = {k: v for k, v in response.items() if k not in ("38", "54", "55", "64")}
        failed["39"] = codes.SYSTEM_MALFUNCTION
        failed.pop("128", None)
        return await self.encode(failed, terminal)

    def _commit(self, unit: Callable[[sqlite3.Connection], None]) -> asyncio.Future[bool]:
        """Group commit: the units queued during one event-loop iteration
        are written in one SQLite transaction (``HostDb.group_commit``, one
        SAVEPOINT each, so each unit is still all or nothing); the future
        says whether this unit committed.  The caller answers only after."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        if not self._commits:
            loop.call_soon(self._flush_commits)
        self._commits.append((unit, future))
        return future

    def _flush_commits(self) -> None:
        batch, self._commits = self._commits, []
        results = self.db.group_commit([unit for unit, _future in batch])
        for (_unit, future), ok in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(ok)


def digest(message: bytes) -> bytes:
    """What identifies a request's content for duplicate detection."""
    return hashlib.sha256(message).digest()
