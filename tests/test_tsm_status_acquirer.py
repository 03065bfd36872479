"""The acquirer host with ``--tsm`` (docs/acquirer.md, "Device status at
the TSM"), end to end over loopback TCP: the real HSM server, the real
acquirer host (SQLite, the TEST seed), the real TSM (uvicorn, SQLite) whose
devices are enrolled by a software SE's proof. A terminal whose device is
revoked through the TSM's admin API is declined 58 at sign-on and for a
sale once the cached answer has expired, nothing posted; another terminal
goes on. The TSM down: failing open lets the active terminal through, the
known revocation is still declined; failing closed answers 91, nothing
posted."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest
from tsm_status_support import Mono, Tsm

from host_sim.acquirer import seed
from host_sim.acquirer.db import HostDb
from host_sim.acquirer.devices import DeviceGate
from host_sim.acquirer.service import HostService
from host_sim.acquirer.terminal_sim import Link, SimCard, SimTerminal, transmission_time
from hsm_sim.keystore import Keystore
from hsm_sim.lmk import Lmk
from hsm_sim.server import HsmServer
from hsm_sim.tsm.status_client import TsmStatusClient
from protocols import iso8583
from protocols.iso8583_specs import PAYTERM_1987
from tools.fiscal_softsign import SoftSigner

SERIAL_1 = "PTSE-ACQ-0001"
SERIAL_2 = "PTSE-ACQ-0002"


def _sign_on(term: SimTerminal) -> bytes:
    msg = {"t": "0800", "7": transmission_time(), "11": term.next_stan(), "24": "003",
           "41": term.tid, "42": term.mid, "70": "001"}  # fmt: skip
    return iso8583.encode(msg, PAYTERM_1987)


def _rows(db_path: Path, query: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(query).fetchall()
    finally:
        conn.close()


def test_acquirer_declines_a_revoked_device(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tsm = Tsm(tmp_path)
    try:
        tsm.enrol(SoftSigner(61), SERIAL_1)
        tsm.enrol(SoftSigner(62), SERIAL_2)
        mono = Mono()
        client = TsmStatusClient(tsm.url, ttl=60, timeout=2, retry=5, clock=mono)
        gate = DeviceGate(client, fail_open=True)
        with caplog.at_level(logging.WARNING, logger="payterm.acquirer"):
            asyncio.run(_scenario(tmp_path, tsm, client, gate, mono))
    finally:
        tsm.close()
    text = caplog.text
    assert f"device {SERIAL_1} is revoked at the TSM (stolen)" in text
    assert "device PTSE-NEVER-ENROLLED is unknown at the TSM" in text
    assert "0200 stan" in text and "declined 58" in text and "declined 91" in text
    assert "let through" in text


async def _scenario(
    tmp_path: Path, tsm: Tsm, client: TsmStatusClient, gate: DeviceGate, mono: Mono
) -> None:
    hsm = HsmServer(Lmk.test(), Keystore())
    await hsm.start()
    db_path = tmp_path / "host.db"
    db = HostDb(db_path)
    seed.seed(db, 4, 4, mac_scheme="dukpt")
    # the seed maps the demo terminal to the simulator's SE; here, to ours
    assert db.terminal("PT000001").tsm_serial == "PTSE-SIM-0001"  # type: ignore[union-attr]
    db.set_tsm_serial("PT000001", SERIAL_1)
    db.set_tsm_serial("PT000002", SERIAL_2)
    db.set_tsm_serial("PT000004", "PTSE-NEVER-ENROLLED")
    db.close()
    service = await HostService.start(db_path, *hsm.address, devices=gate)
    link = await Link.open("127.0.0.1", service.port)
    t1, t2, t3 = SimTerminal(1), SimTerminal(2), SimTerminal(3)  # t3: not mapped
    t4 = SimTerminal(4)  # mapped to a serial the TSM never enrolled
    card = SimCard.load_card(0)

    async def send(term: SimTerminal, wire: bytes) -> dict[str, str]:
        return iso8583.decode(await link.send_raw(wire), PAYTERM_1987)

    async def sale(term: SimTerminal, amount: int) -> dict[str, str]:
        return await send(term, term.encode(term.financial("0200", "00", amount, card)))

    def posted() -> int:
        return len(_rows(db_path, "SELECT id FROM postings"))

    try:
        # both devices active: signed on, sales approved and posted
        assert (await send(t1, _sign_on(t1)))["39"] == "00"
        assert (await sale(t1, 1000))["39"] == "00"
        assert (await sale(t2, 1000))["39"] == "00"
        assert (await sale(t3, 1000))["39"] == "00"
        assert posted() == 3 and client.fetches == 2  # t3 is never checked
        assert (await sale(t4, 1000))["39"] == "58"  # unknown at the TSM
        assert (await send(t4, _sign_on(t4)))["39"] == "58"
        assert posted() == 3 and client.fetches == 3

        tsm.revoke(SERIAL_1, "stolen")
        mono.t += 59  # the cached "active" still holds
        assert (await sale(t1, 1000))["39"] == "00"
        assert posted() == 4
        mono.t += 2  # expired: asked again, revoked
        reply = await send(t1, _sign_on(t1))
        assert (reply["t"], reply["39"], reply["41"], reply["70"]) == ("0810", "58", t1.tid, "001")
        assert t1.tid not in service.host.network_state.signed_on
        txns = len(_rows(db_path, "SELECT id FROM transactions"))
        reply = await sale(t1, 1000)
        assert (reply["t"], reply["39"]) == ("0210", "58")
        assert "38" not in reply
        assert posted() == 4  # nothing posted, no transaction row
        assert len(_rows(db_path, "SELECT id FROM transactions")) == txns
        assert (await sale(t2, 1000))["39"] == "00"  # the other device goes on
        assert posted() == 5
        assert [e.response_code for e in service.host.journal if e.terminal == t1.tid][-2:] == [
            "58",
            "58",
        ]

        # the TSM goes down; t2's answer expires
        tsm.stop()
        mono.t += 61
        assert (await sale(t2, 1000))["39"] == "00"  # failing open: let through
        assert posted() == 6
        assert (await sale(t1, 1000))["39"] == "58"  # the revocation is kept
        assert (await send(t1, _sign_on(t1)))["39"] == "58"
        gate.fail_open = False  # --tsm-fail closed
        reply = await sale(t2, 1000)
        assert reply["39"] == "91"
        assert (await send(t2, _sign_on(t2)))["39"] == "91"
        assert (await sale(t3, 1000))["39"] == "00"  # not mapped: not checked
        assert posted() == 7
    finally:
        await link.close()
        await service.close()
        await hsm.close()
