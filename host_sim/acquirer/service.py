"""Assemble a running acquirer host: database + HSM connection + TCP server.

service = await HostService.start(db_path, hsm_host, hsm_port)
... service.port ...
await service.close()
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from host_sim.acquirer import seed as seeding
from host_sim.acquirer.context import HostContext
from host_sim.acquirer.db import HostDb
from host_sim.acquirer.devices import DeviceGate
from host_sim.acquirer.processor import Processor
from host_sim.acquirer.security import Security
from host_sim.acquirer.security_hsm import HsmSecurity
from host_sim.acquirer.server import AcquirerHost
from hsm_sim.lmk import Lmk


@dataclass
class HostService:
    host: AcquirerHost
    db: HostDb
    security: Security
    address: tuple[str, int]
    server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        return self.address[1]

    @classmethod
    async def start(
        cls,
        db_path: str | Path,
        hsm_host: str,
        hsm_port: int,
        host: str = "127.0.0.1",
        port: int = 0,
        hsm_header: bytes = b"0000",
        hsm_connections: int = 2,
        zpk_ref: str | None = None,
        security: Security | None = None,
        more_hsms: tuple[tuple[str, int], ...] = (),
        devices: DeviceGate | None = None,
    ) -> HostService:
        """Open the database, connect to the HSM (``SecurityUnavailable`` if
        it does not answer) and listen.  ``zpk_ref`` defaults to the TEST
        ZPK under the TEST LMK (what ``payterm hsm`` runs with by default).
        ``devices``: the TSM's device status gate (``devices.py``), None to
        check nothing."""
        db = HostDb(db_path)
        db.start_checkpointer()
        if security is None:
            zpk = zpk_ref or seeding.KeyRefs(Lmk.test()).zpk()
            hsm = HsmSecurity(hsm_host, hsm_port, zpk, hsm_header, hsm_connections, more=more_hsms)
            await hsm.connect()
            security = hsm
        ctx = HostContext(db, security, devices=devices)
        acquirer = AcquirerHost(processor=Processor(ctx))
        server = await acquirer.start(host, port)
        sock = server.sockets[0].getsockname()
        return cls(acquirer, db, security, (str(sock[0]), int(sock[1])), server)

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        if isinstance(self.security, HsmSecurity):
            await self.security.close()
        self.db.close()
