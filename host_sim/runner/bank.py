"""The bank behind a sim board: a payment HSM, the acquirer host it backs on
a seeded SQLite database, and the terminal's secure element (docs/runner.md).

``Bank.start(folder, db_path=None)`` (on the running asyncio loop):

1. the HSM (``hsm_sim``, TEST LMK) on its own event loop in a thread, on a
   free loopback port;
2. the TEST keys imported into it the way a key ceremony brings them: each
   wrapped under a TEST zone master key (TR-31 version D) and imported with
   A6 — the issuer master keys of every virtual card's issuer (E0/E2/E1),
   the TEST DUKPT BDK (B0) and each terminal's AES-CMAC key (M6).  The key
   blocks the HSM returns (under its LMK) are what the database keeps;
3. the database (``folder/host.db`` or ``db_path``): a new file is seeded
   (``host_sim.acquirer.seed``: the TEST merchant, ``terminals`` terminals,
   an account per virtual card) and its key references set to the imported
   blocks; an existing file is opened as it is (a later run continues it);
4. the acquirer host (``HostService``) connected to the HSM, on a free port;
5. the secure-element emulator's engine (``folder/se.json``, TEST
   personalisation) with terminal 1's DUKPT initial key loaded from a TR-31
   block under the SE's TEST KBPK, as a key loader does once.

``close()`` stops the host, then the HSM.  The SE's TCP server is started
by the emulators (``bus.start``), on the board's I2C bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from host_sim.acquirer import seed
from host_sim.acquirer.db import HostDb
from host_sim.acquirer.service import HostService
from hsm_sim.client import HsmClient
from hsm_sim.crypto import dukpt_aes, tr31
from hsm_sim.keystore import Keystore
from hsm_sim.lmk import Lmk
from hsm_sim.se.engine import Engine
from hsm_sim.se.testkeys import TEST_KBPK
from hsm_sim.server import HsmServer
from hsm_sim.testkeys import block_under_test_lmk, import_issuer_keys
from protocols import se_app
from protocols import se_frame as sf

HOST = "127.0.0.1"
# TEST zone master key of the key ceremony (AES-256): never a real key.
TEST_ZMK = bytes.fromhex("5A4D4B2D544553542D7061797465726D2D72756E6E65722D4145532D32353621")
SE_SERIAL = "PTSE-SIM-0001"
DEFAULT_TERMINALS = 2


class HsmThread:
    """The HSM server on its own event loop in a daemon thread."""

    def __init__(self, lmk: Lmk) -> None:
        self.store = Keystore()
        self.server = HsmServer(lmk, self.store)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="payterm-hsm", daemon=True
        )
        self.thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.server.start(HOST, 0), self.loop).result(10)
        except BaseException:
            self.close()
            raise
        host, port = self.server.address
        self.address: tuple[str, int] = (str(host), int(port))

    def close(self) -> None:
        if self.loop.is_closed():
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
        with contextlib.suppress(Exception):
            self.store.close()


def _import(client: HsmClient, zmk_block: str, usage: str, algorithm: str, mode: str,
            key: bytes) -> str:  # fmt: skip
    header = tr31.Header("D", usage, algorithm, mode, "00", "E")
    return client.import_key(zmk_block, tr31.wrap(TEST_ZMK, header, key)).key


def import_test_keys(address: tuple[str, int], tids: list[str]) -> dict[str, Any]:
    """Import the TEST keys into the HSM at ``address`` (blocking client:
    the HSM runs on another loop); the key blocks under its LMK."""
    zmk_block = block_under_test_lmk("K0", TEST_ZMK, algorithm="A", mode="B")
    issuers = sorted({seed.card_facts(name).issuer for name in seed.seed_data()["accounts"]})
    with HsmClient(*address) as client:
        out: dict[str, Any] = {
            "issuers": {
                issuer: import_issuer_keys(client, issuer, TEST_ZMK, zmk_block)
                for issuer in issuers
            },
            "bdk": _import(client, zmk_block, "B0", "A", "X", seed.test_bdk()),
            "mac": {
                tid: _import(client, zmk_block, "M6", "A", "C", seed.terminal_mac_key(tid))
                for tid in tids
            },
        }
    return out


def _use_imported_keys(db_path: Path, keys: dict[str, Any]) -> None:
    """Point the seeded rows at the blocks the HSM returned."""
    db = HostDb(db_path)
    try:
        with db.transaction() as conn:
            for name in seed.seed_data()["accounts"]:
                facts = seed.card_facts(name)
                conn.execute(
                    "UPDATE accounts SET issuer_key_ref = ? WHERE pan_ref = ?",
                    (keys["issuers"][facts.issuer]["ac"], db.pan_ref(facts.pan)),
                )
            for tid, ref in keys["mac"].items():
                conn.execute(
                    "UPDATE terminals SET mac_key_ref = ?, bdk_ref = ? WHERE tid = ?",
                    (ref, keys["bdk"], tid),
                )
    finally:
        db.close()


def dukpt_key_block(index: int = 1, kbpk: bytes = TEST_KBPK) -> str:
    """Terminal ``index``'s DUKPT initial key (from the TEST BDK) as the TR-31
    version D block (B1, AES, optional block IK) a TSM sends the SE."""
    ikid = seed.dukpt_ikid(index)
    return tr31.dukpt_initial_key_block(kbpk, dukpt_aes.initial_key(seed.test_bdk(), ikid), ikid)


def open_secure_element(state: Path, terminal_index: int = 1) -> Engine:
    """The SE of ``state`` (created with the TEST personalisation when new),
    holding the terminal's DUKPT key (loaded when it holds none)."""
    engine = Engine.open(state, "test", SE_SERIAL)
    if not engine.store.data.get("dukpt"):
        status, _ksn = engine.execute(
            se_app.CMD_LOAD_DUKPT, dukpt_key_block(terminal_index).encode()
        )
        if status != sf.ST_OK:
            raise RuntimeError(f"the SE refused the DUKPT key block (status {status:#04x})")
    return engine


@dataclass
class Bank:
    hsm: HsmThread
    service: HostService
    db_path: Path
    se: Engine
    seeded: bool
    keys: dict[str, Any] = field(default_factory=dict)

    @classmethod
    async def start(
        cls,
        folder: Path,
        db_path: Path | None = None,
        terminals: int = DEFAULT_TERMINALS,
        se_state: Path | None = None,
    ) -> Bank:
        folder.mkdir(parents=True, exist_ok=True)
        path = Path(db_path) if db_path is not None else folder / "host.db"
        hsm = HsmThread(Lmk.test())
        try:
            tids = [seed.tid_of(i) for i in range(1, terminals + 1)]
            keys = await asyncio.to_thread(import_test_keys, hsm.address, tids)
            seeded = not path.exists()
            if seeded:
                db = HostDb(path)
                try:
                    seed.seed(db, terminals, 0)
                finally:
                    db.close()
                _use_imported_keys(path, keys)
            se = open_secure_element(se_state or folder / "se.json")
            service = await HostService.start(path, *hsm.address)
        except BaseException:
            hsm.close()
            raise
        return cls(hsm, service, path, se, seeded, keys)

    @property
    def port(self) -> int:
        return self.service.port

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(self.db_path, isolation_level=None)
        try:
            return conn.execute(query, params).fetchall()
        finally:
            conn.close()

    def describe(self) -> dict[str, Any]:
        return {
            "hsm": f"{self.hsm.address[0]}:{self.hsm.address[1]}",
            "db": str(self.db_path),
            "seeded": self.seeded,
            "se_serial": self.se.serial,
        }

    async def close(self) -> None:
        try:
            await self.service.close()
        finally:
            self.hsm.close()


__all__ = ["Bank", "HsmThread", "dukpt_key_block", "import_test_keys", "open_secure_element"]
