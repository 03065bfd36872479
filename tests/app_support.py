"""The whole terminal on loopback for tests/test_app_e2e.py: the real HSM
server, the real acquirer host on a seeded SQLite file, a recording TCP
relay between the terminal and the host (it keeps every frame the
firmware sent, and can lose the host's answer to one request, as a broken
network does), the PN532 emulator with a contactless card, the contact
card reader with a contact card, the virtual printer, and the terminal
application (firmware/app) under the real MicroPython unix port with the
sim board's heap."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boards
from host_sim.acquirer import seed
from host_sim.acquirer.db import HostDb
from host_sim.acquirer.service import HostService
from host_sim.cardreader import BackgroundCardReader, CardSlot
from host_sim.cards import load_profile
from host_sim.nfc.pn532_emulator import Pn532Emulator
from host_sim.nfc.profiles import load_card
from host_sim.nfc.rf_field import RfField
from host_sim.nfc.server import BackgroundServer
from host_sim.printer import PrinterServer, VirtualPrinter
from hsm_sim.crypto import dukpt_aes
from hsm_sim.keystore import Keystore
from hsm_sim.lmk import Lmk
from hsm_sim.server import HsmServer
from protocols import iso8583
from protocols.iso8583_specs import PAYTERM_1987
from tools import mpytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SIM_HEAP = os.environ.get("PAYTERM_APP_HEAP") or boards.load("sim")["memory"]["heap"]
TID = "PT000001"
TERMINAL = {
    "tid": TID,
    "mid": "000000000123456",
    "name": "PAYTERM TEST SHOP",
    "name_ar": "متجر بيترم",
    "city": "AMMAN",
}


def session_keys() -> dict[str, str]:
    """What a key loader injects into terminal 1: its MAC key and its AES
    DUKPT initial key (derived from the TEST BDK the host's HSM holds)."""
    ikid = seed.dukpt_ikid(1)
    return {
        "mac": seed.terminal_mac_key(TID).hex(),
        "ik": dukpt_aes.initial_key(seed.test_bdk(), ikid).hex(),
        "ikid": ikid.hex(),
    }


class Relay:
    """terminal <-> host, frame by frame; records the requests; ``lose``
    decides, per request, whether the host's answer is dropped, ``cut``
    whether the request itself never reaches the host (the line is down)."""

    def __init__(self, host_port: int) -> None:
        self.host_port = host_port
        self.requests: list[bytes] = []
        self.lost: list[bytes] = []
        self.lose: Callable[[dict[str, str]], bool] = lambda _m: False
        self.cut: Callable[[dict[str, str]], bool] = lambda _m: False
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        hr, hw = await asyncio.open_connection("127.0.0.1", self.host_port)
        try:
            while True:
                head = await r.readexactly(2)
                body = await r.readexactly(int.from_bytes(head, "big"))
                self.requests.append(body)
                if self.cut(iso8583.decode(body, PAYTERM_1987)):
                    self.lost.append(body)
                    continue
                hw.write(head + body)
                rhead = await hr.readexactly(2)
                rbody = await hr.readexactly(int.from_bytes(rhead, "big"))
                if self.lose(iso8583.decode(body, PAYTERM_1987)):
                    self.lost.append(body)
                    continue
                w.write(rhead + rbody)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            hw.close()
            w.close()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@dataclass
class Run:
    results: list[dict[str, Any]]
    screens: list[dict[str, Any]]
    requests: list[dict[str, str]]
    wires: list[bytes]
    receipts: list[Any]
    stdout: str
    stderr: str = ""
    lost: list[bytes] = field(default_factory=list)
    traces: list[dict[str, Any]] = field(default_factory=list)  # the app's TRACE lines


@dataclass
class Rig:
    service: HostService
    relay: Relay
    relay_port: int
    db_path: Path
    tmp_path: Path

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(self.db_path, isolation_level=None)
        try:
            return conn.execute(query, params).fetchall()
        finally:
            conn.close()

    def balance(self, pan: str) -> int:
        db = HostDb(self.db_path)
        try:
            account = db.account_by_pan(pan)
            assert account is not None
            return int(account.balance)
        finally:
            db.close()

    async def terminal(
        self,
        steps: list[dict[str, Any]],
        nfc_card: str | None = "visa_qvsdc",
        contact_card: str | None = "contact_offline_pin",
        host_timeout_ms: int = 10000,
        receipts: int = 0,
        contact_remove_after: int | None = None,
        fast_card: bool = False,
        se_port: int | None = None,
        keys: dict[str, Any] | None = None,
        fiscal: dict[str, Any] | None = None,
        clock: int | None = None,
        service_port: int | None = None,
        service: dict[str, Any] | None = None,
        tax_port: int | None = None,
    ) -> Run:
        """Run the terminal application through ``steps``; ``receipts``: how
        many the printer should have cut before this returns."""
        before = len(self.relay.requests)
        field_cards = [load_card(nfc_card)] if nfc_card else []
        slot = CardSlot(load_profile(contact_card), "T=1") if contact_card else None
        if slot is not None and contact_remove_after is not None:
            slot.remove_after(contact_remove_after)  # pulled mid-transaction
        vp = VirtualPrinter(dots=576)
        with contextlib.ExitStack() as stack:
            nfc = stack.enter_context(BackgroundServer(Pn532Emulator(RfField(field_cards))))
            printer = stack.enter_context(PrinterServer(vp))
            env = dict(os.environ)
            for k in list(env):
                if k.startswith("PAYTERM_SIM_"):
                    del env[k]
            env["MICROPYPATH"] = str(REPO_ROOT)
            env["PAYTERM_SIM_UART1"] = f"127.0.0.1:{nfc.port}"
            env["PAYTERM_SIM_UART2"] = f"127.0.0.1:{printer.port}"
            env["PAYTERM_SIM_NET0"] = f"127.0.0.1:{self.relay_port}"
            if se_port is not None:
                env["PAYTERM_SIM_I2C0"] = f"127.0.0.1:{se_port}"
            if service_port is not None:  # the technician's port: the board listens
                env["PAYTERM_SIM_UART0"] = f"listen:127.0.0.1:{service_port}"
            if tax_port is not None:  # the tax backend on the board's net2
                env["PAYTERM_SIM_NET2"] = f"127.0.0.1:{tax_port}"
            if clock is not None:  # the board's RTC starts there (Unix seconds)
                env["PAYTERM_SIM_CLOCK"] = str(clock)
            if slot is not None:
                reader = stack.enter_context(BackgroundCardReader(slot))
                env["PAYTERM_SIM_UART3"] = f"127.0.0.1:{reader.port}"
            session = {
                "terminal": TERMINAL,
                "keys": keys or session_keys(),
                "host_timeout_ms": host_timeout_ms,
                "contact": slot is not None,
                "card_reader": {"clock_hz": 35712000, "min_wait_ms": 20} if fast_card else {},
                "steps": steps,
            }
            if fiscal is not None:  # the journal on fiscal.img in the rig's folder
                session["fiscal"] = fiscal
            if service is not None:
                session["service"] = service
            if tax_port is not None:
                session["tax"] = {"deadline_ms": 10000}
            proc = await asyncio.create_subprocess_exec(
                mpytest.micropython_binary(),
                "-X",
                "heapsize=" + SIM_HEAP,
                "-m",
                "firmware.app",
                cwd=str(self.tmp_path),
                env=env,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(
                proc.communicate((json.dumps(session) + "\n").encode()), 120
            )
            stdout = out.decode()
            assert proc.returncode == 0 and "DONE" in stdout, stdout + err.decode()
            got = printer.wait_receipts(receipts) if receipts else []
        wires = self.relay.requests[before:]
        return Run(
            results=[json.loads(x[7:]) for x in stdout.splitlines() if x.startswith("RESULT ")],
            screens=[json.loads(x[3:]) for x in stdout.splitlines() if x.startswith("UI ")],
            requests=[iso8583.decode(w, PAYTERM_1987) for w in wires],
            wires=wires,
            receipts=list(got),
            stdout=stdout,
            stderr=err.decode(),
            lost=list(self.relay.lost),
            traces=[json.loads(x[6:]) for x in stdout.splitlines() if x.startswith("TRACE ")],
        )


@contextlib.asynccontextmanager
async def running_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    hsm = HsmServer(Lmk.test(), Keystore())
    await hsm.start()
    db_path = tmp_path / "host.db"
    db = HostDb(db_path)
    seed.seed(db, 2, 0)
    db.close()
    service = await HostService.start(db_path, *hsm.address)
    relay = Relay(service.port)
    port = await relay.start()
    try:
        yield Rig(service, relay, port, db_path, tmp_path)
    finally:
        await relay.close()
        await service.close()
        await hsm.close()
