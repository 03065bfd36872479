"""Shared by the tests/test_acquirer_*.py files: a real HSM server and a
real acquirer host on loopback TCP, seeded with the TEST data in a SQLite
file, and a simulated terminal's link to it."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from host_sim.acquirer import seed
from host_sim.acquirer.db import HostDb
from host_sim.acquirer.security import Security
from host_sim.acquirer.service import HostService
from host_sim.acquirer.terminal_sim import Link, SimCard, SimTerminal
from hsm_sim.keystore import Keystore
from hsm_sim.lmk import Lmk
from hsm_sim.server import HsmServer
from protocols import iso8583
from protocols.iso8583_specs import PAYTERM_1987

MID = "000000000123456"
MAC_LEN = 8


def same_answer(*answers: bytes) -> bool:
    """The same answer given again: equal bytes up to the MAC; under the
    DUKPT scheme each is MACed under its own request's KSN, so the MACs
    differ when the KSNs do."""
    return len({a[:-MAC_LEN] for a in answers}) == 1


@dataclass
class Harness:
    service: HostService
    hsm: HsmServer
    db_path: Path
    link: Link
    term: SimTerminal

    async def send(self, msg: dict[str, str], term: SimTerminal | None = None) -> dict[str, str]:
        raw = await self.send_wire((term or self.term).encode(msg))
        return iso8583.decode(raw, PAYTERM_1987)

    async def send_wire(self, wire: bytes) -> bytes:
        return await self.link.send_raw(wire, timeout=10)

    async def tries(self, *msgs: dict[str, str]) -> list[bytes]:
        """Send each message as a terminal tries it again (encoded anew:
        under the DUKPT scheme each try has its own KSN), check each
        answer's MAC under its try's KSN, and return the answers."""
        out = []
        for msg in msgs:
            raw = await self.send_wire(self.term.encode(msg))
            assert self.term.mac_ok(raw), "answer MAC does not verify under the try's KSN"
            out.append(raw)
        return out

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """A second connection to the host's database (as an operator would)."""
        conn = sqlite3.connect(self.db_path, isolation_level=None)
        try:
            return conn.execute(query, params).fetchall()
        finally:
            conn.close()

    def account(self, pan: str) -> dict[str, Any]:
        db = HostDb(self.db_path)
        try:
            account = db.account_by_pan(pan)
            assert account is not None
            return dict(account.__dict__)
        finally:
            db.close()

    def set_account(self, pan: str, **values: Any) -> None:
        db = HostDb(self.db_path)
        try:
            ref = db.pan_ref(pan)
        finally:
            db.close()
        for column, value in values.items():
            self.sql(f"UPDATE accounts SET {column} = ? WHERE pan_ref = ?", (value, ref))


@contextlib.asynccontextmanager
async def running_host(
    tmp_path: Path,
    terminals: int = 2,
    load_cards: int = 4,
    security: Security | None = None,
) -> AsyncIterator[Harness]:
    hsm = HsmServer(Lmk.test(), Keystore())
    await hsm.start()
    db_path = tmp_path / "host.db"
    db = HostDb(db_path)
    seed.seed(db, terminals, load_cards, mac_scheme="dukpt")
    db.close()
    hsm_host, hsm_port = hsm.address
    service = await HostService.start(db_path, hsm_host, hsm_port, security=security)
    link = await Link.open("127.0.0.1", service.port)
    try:
        yield Harness(service, hsm, db_path, link, SimTerminal(1))
    finally:
        await link.close()
        await service.close()
        await hsm.close()


def profile_card(name: str) -> SimCard:
    """A SimCard carrying a virtual card profile's PAN/expiry/PSN (no ARQC key)."""
    facts = seed.card_facts(name)
    return SimCard(facts.pan, facts.psn, facts.expiry, facts.cvn)
