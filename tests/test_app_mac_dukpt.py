"""The MAC under the terminal's AES DUKPT key, end to end: the firmware under
MicroPython (software keys, then the secure element emulator) against the
real acquirer host and HSM (tests/app_support.py), the seeded terminal on
the ``dukpt`` MAC scheme.

What is checked from outside the terminal: every MACed request names its
KSN in field 53 (``FF 02`` + KSN without a PIN, ``04 02`` + KSN with one),
one KSN per message, always moving forward; each request's MAC is the
AES-CMAC under that KSN's X9.24-3 MAC generation key (derived here from the
TEST BDK); the host accepted them (no 63); and the host's answers verified
in the firmware (an answer that does not verify is a HostMacError: the sale
would be reversed, a repeat would stay queued)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from app_support import Run, running_rig
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.cmac import CMAC

from host_sim.acquirer import seed
from hsm_sim.crypto import dukpt_aes
from protocols.crypto import aes_dukpt


def cmac8(key: bytes, data: bytes) -> bytes:
    mac = CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()[:8]


def mac_ksns(run: Run) -> list[bytes]:
    """The KSN of every MACed request, each MAC checked under its KSN's key."""
    ksns = []
    for wire, request in zip(run.wires, run.requests, strict=True):
        if request["t"].startswith("08"):
            assert "53" not in request and "64" not in request
            continue
        control = bytes.fromhex(request["53"])
        assert control[1] == 0x02 and len(control) == 14, request["53"]
        assert control[0] == (0x04 if "52" in request else 0xFF)
        ksn = control[2:]
        assert ksn[:8] == seed.dukpt_ikid(1)
        key = dukpt_aes.working_key(seed.test_bdk(), ksn, aes_dukpt.USAGE_MAC_GENERATION)
        assert wire[-8:] == cmac8(key, wire[:-8]), request["t"]
        ksns.append(ksn)
    counters = [int.from_bytes(k[8:], "big") for k in ksns]
    assert counters == sorted(set(counters)), counters  # one KSN per message, forward
    return ksns


def test_software_keys_mac_every_message_under_its_own_ksn(tmp_path: Path) -> None:
    """A sale whose answer is lost is reversed; the 0400's answer is lost
    too, so the next sale first repeats it as an 0401 under a new KSN: the
    host answers it from the stored 0400 answer re-MACed under the repeat's
    KSN, which the firmware verifies (the 0401 leaves the queue: it is sent
    once); the second sale is approved and the batch closes."""

    async def go() -> None:
        pan = seed.card_facts("visa_qvsdc").pan
        async with running_rig(tmp_path) as rig:
            assert rig.sql("SELECT mac_scheme FROM terminals WHERE tid = 'PT000001'") == [
                ("dukpt",)
            ]
            lost: list[str] = []

            def lose(m: dict[str, str]) -> bool:
                if m["t"] in ("0200", "0400") and m["t"] not in lost:
                    lost.append(m["t"])
                    return True
                return False

            rig.relay.lose = lose
            before = rig.balance(pan)
            run = await rig.terminal(
                [
                    {"op": "sign_on"},
                    {"op": "sale", "amount": 30000, "card": "tap"},
                    {"op": "sale", "amount": 40000, "card": "tap"},
                    {"op": "batch_close"},
                ],
                host_timeout_ms=1500,
                receipts=3,
            )
            _sign_on, first, second, close = run.results
            assert first["reversed"] is True
            assert second["result"] == "approved" and second["code"] == "00", run.stdout
            assert close["code"] == "00"
            mtis = [r["t"] for r in run.requests]
            assert mtis == ["0800", "0200", "0400", "0401", "0200", "0500"], mtis
            assert len(mac_ksns(run)) == 5
            assert rig.sql(
                "SELECT mti, response_code, status FROM transactions WHERE tid = 'PT000001'"
                " ORDER BY id"
            ) == [
                ("0200", "00", "reversed"),
                ("0400", "00", "reversal"),
                ("0200", "00", "approved"),
            ]
            assert rig.balance(pan) == before - 40000
            assert "63" not in [r.get("code") for r in run.results]

    asyncio.run(go())


def test_secure_element_macs_with_the_pin_blocks_ksn(tmp_path: Path) -> None:
    """With the keys in the SE emulator: the PIN request's MAC is the SE's
    MAC command under the PIN block's KSN (04 02 + KSN in 53), the next
    message moves to the next KSN (NEXT_TRANSACTION), a tap sale without a
    PIN names its KSN as FF 02 + KSN; the host verifies the PIN and every
    MAC."""
    from se_support import SeServer, dukpt_block

    async def go() -> None:
        keys = {
            "se": True,
            "mac": "",
            "dukpt_block": dukpt_block(ikid=seed.dukpt_ikid(1), bdk=seed.test_bdk()),
        }
        se = SeServer(tmp_path / "se.json")
        try:
            async with running_rig(tmp_path) as rig:
                run = await rig.terminal(
                    [
                        {"op": "sale", "amount": 30000, "card": "insert", "pins": ["1234"]},
                        {"op": "sale", "amount": 30000, "card": "tap"},
                        {"op": "sale", "amount": 20000, "card": "insert", "pins": ["1234"]},
                    ],
                    contact_card="contact_online_pin",
                    se_port=se.port,
                    keys=keys,
                    receipts=6,
                )
                codes = [r.get("code") for r in run.results]
                assert codes == ["00", "00", "00"], run.stdout
                assert [r["t"] for r in run.requests] == ["0200", "0200", "0200"]
                ksns = mac_ksns(run)
                assert [int.from_bytes(k[8:], "big") for k in ksns] == [1, 2, 3]
                assert [r["53"][:4] for r in run.requests] == ["0402", "FF02", "0402"]
        finally:
            se.close()

    asyncio.run(go())
