"""The terminal application (firmware/app) end to end: the firmware under
the real MicroPython unix port on the sim board, the real PN532 emulator
and contact card reader with virtual cards, the real acquirer host with
the real HSM over TCP, the virtual printer (tests/app_support.py).

Each test asserts what the host recorded (transaction rows, balances), the
receipt the printer cut (masked PAN, auth code, never the PAN), the
screens shown, and that every message the firmware sent decodes with
pyiso8583 from the dialect's spec."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import iso8583 as pyiso8583

from host_sim.acquirer import seed
from payterm.iso8583_pyiso import to_pyiso8583_spec
from protocols import tlv
from protocols.iso8583_specs import PAYTERM_1987
from app_support import Rig, Run, running_rig

PYISO_SPEC = to_pyiso8583_spec(PAYTERM_1987)


def pan_of(profile: str) -> str:
    return seed.card_facts(profile).pan


def peers_decode(run: Run) -> None:
    """Every request the firmware sent decodes with pyiso8583 to the same fields."""
    assert run.wires
    for wire, ours in zip(run.wires, run.requests, strict=True):
        theirs, _ = pyiso8583.decode(wire, PYISO_SPEC)
        assert theirs["t"] == ours["t"]
        for key, value in ours.items():
            if key.isdigit() and key not in ("1",):
                assert theirs[key].upper() == value.upper(), key


def receipt_checks(run: Run, pan: str, auth_code: str) -> None:
    assert len(run.receipts) == 2  # merchant, customer
    for receipt in run.receipts:
        text = receipt.text
        assert "*" * (len(pan) - 4) + pan[-4:] in text
        assert pan not in text
        assert "AUTH CODE " + auth_code in text
        assert "APPROVED" in text
    assert "MERCHANT COPY" in run.receipts[0].text
    assert "CUSTOMER COPY" in run.receipts[1].text


def host_rows(rig: Rig, stan: str) -> list[tuple[Any, ...]]:
    return rig.sql(
        "SELECT mti, amount, response_code, auth_code, status FROM transactions"
        " WHERE tid = 'PT000001' AND stan = ?",
        (stan,),
    )


def run_async(coro: Any) -> Any:
    return asyncio.run(coro)


async def _contactless_online(tmp_path: Path, profile: str, kernel: int) -> None:
    pan = pan_of(profile)
    async with running_rig(tmp_path) as rig:
        before = rig.balance(pan)
        run = await rig.terminal(
            [{"op": "sale", "amount": 30000, "card": "tap"}], nfc_card=profile, receipts=2
        )
        (result,) = run.results
        assert result["result"] == "approved", run.stdout
        assert (result["kernel"], result["outcome"], result["code"]) == (
            kernel,
            "online request",
            "00",
        )
        (request,) = run.requests
        assert request["t"] == "0200" and request["4"] == "000000030000"
        assert request["22"] == "071" and "64" in request
        icc = {n.tag: n.value for n in tlv.decode(bytes.fromhex(request["55"]))}
        assert icc[0x9F27][0] & 0xC0 == 0x80  # an ARQC went online
        assert host_rows(rig, result["stan"]) == [
            ("0200", 30000, "00", result["auth_code"], "approved")
        ]
        assert rig.balance(pan) == before - 30000
        receipt_checks(run, pan, result["auth_code"])
        assert [s["message"] for s in run.screens][-2:] == ["approved", "idle"]
        peers_decode(run)


def test_contactless_visa_online_approval(tmp_path: Path) -> None:
    run_async(_contactless_online(tmp_path, "visa_qvsdc", 3))


def test_contactless_mastercard_cda_online_approval(tmp_path: Path) -> None:
    run_async(_contactless_online(tmp_path, "mastercard_cda", 2))
