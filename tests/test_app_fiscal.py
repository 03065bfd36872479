"""The payment app with its fiscal memory (firmware/app/fiscal_link.py,
docs/app.md "Fiscal memory"): the firmware under the real MicroPython unix
port on the sim board, the journal on littlefs on the board's fiscal flash,
signed by the secure-element emulator over the sim I2C bus; the real
acquirer host + HSM; the virtual printer.

Every approved sale and refund is a signed record whose QR is on the
receipt (zbar reads it from the printed image, `payterm fiscal
verify-receipt` verifies it); a void is a void event; batch close makes the
Z report; the flash image exports (`payterm fiscal export --image`) and
verifies (`payterm fiscal verify`). A day without Z report: the next sale is
refused before any card is read, nothing goes to the host."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from app_support import Run, running_rig
from http_support import RefusingPort
from pyzbar import pyzbar
from se_support import SeServer

from host_sim.acquirer import seed

T0 = 1_795_000_000  # 2026-11-18, the board's RTC at the start of the first run
DEVICE = "PT-FISC-0001"


def payterm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "payterm", *args], capture_output=True, text=True, timeout=120
    )


def fiscal_line(run: Run) -> dict[str, Any]:
    (line,) = [x for x in run.stdout.splitlines() if x.startswith("FISCAL ")]
    doc: dict[str, Any] = json.loads(line[7:])
    return doc


def test_sales_are_signed_records_voids_events_batch_close_the_z_report(tmp_path: Path) -> None:
    pan = seed.card_facts("visa_qvsdc").pan

    async def go() -> tuple[Run, Run]:
        se = SeServer(tmp_path / "se.json")
        try:
            async with running_rig(tmp_path) as rig:
                first = await rig.terminal(
                    [
                        {"op": "sale", "amount": 30000, "card": "tap"},
                        {"op": "refund", "amount": 5000, "card": "tap"},
                        {"op": "sale", "amount": 12500, "card": "tap"},
                        {"op": "void"},
                        {"op": "batch_close"},
                    ],
                    nfc_card="visa_qvsdc",
                    se_port=se.port,
                    fiscal={"device_id": DEVICE, "fiscalise": True},
                    clock=T0,
                    receipts=6,
                )
                # the next day, the journal as it was left: only opened
                second = await rig.terminal(
                    [{"op": "sale", "amount": 7000, "card": "tap"}],
                    nfc_card="visa_qvsdc",
                    se_port=se.port,
                    fiscal={"device_id": DEVICE},
                    clock=T0 + 3600 * 20,
                    receipts=2,
                )
                return first, second
        finally:
            se.close()

    first, second = asyncio.run(go())
    sale, refund, sale2, void, close = first.results
    assert [r["result"] for r in (sale, refund, sale2, void)] == ["approved"] * 4, first.stdout
    assert (sale["fiscal_seq"], refund["fiscal_seq"], sale2["fiscal_seq"]) == (1, 2, 3)
    assert void["fiscal_seq"] == 4  # the void event names record 3
    assert close["code"] == "00" and close["z_report"] == {"seq": 5, "z_number": 1}
    fiscal = fiscal_line(first)
    assert fiscal["device_id"] == DEVICE and fiscal["status"]["seq"] == 0
    assert fiscal_line(second)["public_key"] == fiscal["public_key"]
    public_key = str(tmp_path / "se.pub")  # the SE's point, hex, as the verifier reads it
    Path(public_key).write_text(fiscal["public_key"])
    assert fiscal_line(second)["status"]["seq"] == 5
    (later,) = second.results
    assert later["result"] == "approved" and later["fiscal_seq"] == 6

    # each approved receipt carries its record's QR: read from the printed dots
    qr_texts = []
    for receipt in first.receipts:
        assert pan not in receipt.text
        codes = [d.data.decode() for d in pyzbar.decode(receipt.bitmap().convert("L"))]
        assert codes and codes[0].startswith("PTF1:"), receipt.text
        qr_texts.append(codes[0])
        assert f"[QR {codes[0]}]" in receipt.text
    assert "FISCAL RECEIPT NO. 1" in first.receipts[0].text
    ok = payterm("fiscal", "verify-receipt", qr_texts[0], "--pubkey", public_key)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    doc = json.loads(ok.stdout)
    assert doc["valid"] and doc["seq"] == 1 and doc["device_id"] == DEVICE
    forged = qr_texts[0][:-6] + ("A" if qr_texts[0][-6] != "A" else "B") + qr_texts[0][-5:]
    assert payterm("fiscal", "verify-receipt", forged, "--pubkey", public_key).returncode != 0

    # the flash image exports and verifies: 7 records, Z report 1 with its root
    export = tmp_path / "journal.ptfx"
    out = payterm("fiscal", "export", "--image", str(tmp_path / "fiscal.img"), "--out", str(export))
    assert out.returncode == 0, out.stdout + out.stderr
    verify = payterm("fiscal", "verify", str(export), "--pubkey", public_key, "--no-trailer")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    result = json.loads(verify.stdout)
    assert result["valid"] and result["records"] == 6 and result["z_reports"] == 1
    assert result["types"]["sale"] == 3 and result["types"]["refund"] == 1
    assert result["types"]["void"] == 1


def test_a_day_without_z_report_refuses_sales_before_the_card(tmp_path: Path) -> None:
    async def go() -> tuple[Run, Run]:
        se = SeServer(tmp_path / "se.json")
        try:
            async with running_rig(tmp_path) as rig:
                first = await rig.terminal(
                    [{"op": "sale", "amount": 30000, "card": "tap"}],
                    nfc_card="visa_qvsdc",
                    se_port=se.port,
                    fiscal={"device_id": DEVICE, "fiscalise": True},
                    clock=T0,
                )
                late = await rig.terminal(
                    [
                        {"op": "sale", "amount": 20000, "card": "tap"},
                        {"op": "batch_close"},
                        {"op": "sale", "amount": 20000, "card": "tap"},
                    ],
                    nfc_card="visa_qvsdc",
                    se_port=se.port,
                    fiscal={"device_id": DEVICE},
                    clock=T0 + 25 * 3600,
                )
                return first, late
        finally:
            se.close()

    first, late = asyncio.run(go())
    assert first.results[0]["fiscal_seq"] == 1
    refused, close, after = late.results
    assert (refused["result"], refused["message"]) == ("declined", "z_overdue")
    assert "DAY NOT CLOSED: Z REPORT DUE" in [s["text"] for s in late.screens]
    # nothing was sent for the refused sale: the first request of the late
    # run is the batch close's 0500, and no card was read (no EMV trace)
    assert late.requests[0]["t"] == "0500"
    assert len(late.traces) == 1 and late.traces[0]["stan"] == after["stan"]
    assert close["z_report"]["seq"] == 2
    assert after["result"] == "approved" and after["fiscal_seq"] == 3


def test_the_running_terminal_exports_its_journal_over_the_service_port(tmp_path: Path) -> None:
    """The app idles on its service port after the day's close; a technician
    (`payterm fiscal export --port`, signed challenge) takes the export with
    the secure element's signed trailer, which verifies without
    --no-trailer; the terminal goes on once the technician logs out."""
    import socket
    import threading

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from tools.fiscal_export import public_point

    tech = ec.generate_private_key(ec.SECP256R1())
    key_file = tmp_path / "tech.pem"
    key_file.write_bytes(
        tech.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    export = tmp_path / "port.ptfx"
    done: list[subprocess.CompletedProcess[str]] = []

    def technician() -> None:
        for _ in range(120):  # until the terminal idles on its port
            url = f"socket://127.0.0.1:{port}"
            proc = payterm("fiscal", "export", "--port", url, "--key", str(key_file),
                           "--out", str(export), "--timeout", "2")  # fmt: skip
            if proc.returncode == 0:
                done.append(proc)
                return
            threading.Event().wait(0.25)

    async def go() -> Run:
        se = SeServer(tmp_path / "se.json")
        worker = threading.Thread(target=technician, daemon=True)
        try:
            async with running_rig(tmp_path) as rig:
                worker.start()
                return await rig.terminal(
                    [
                        {"op": "sale", "amount": 30000, "card": "tap"},
                        {"op": "batch_close"},
                        {"op": "service", "ms": 60000},
                    ],
                    nfc_card="visa_qvsdc",
                    se_port=se.port,
                    fiscal={"device_id": DEVICE, "fiscalise": True},
                    service={"tech_key": public_point(tech.public_key()).hex()},
                    service_port=port,
                    clock=T0,
                )
        finally:
            worker.join(60)
            se.close()

    run = asyncio.run(go())
    sale, close, served = run.results
    assert sale["fiscal_seq"] == 1 and close["z_report"]["seq"] == 2
    assert served["technician"] is True and served["served"] >= 3, served
    assert done, "the technician never got the export"
    public_key = tmp_path / "se.pub"
    public_key.write_text(fiscal_line(run)["public_key"])
    verify = payterm("fiscal", "verify", str(export), "--pubkey", str(public_key))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    doc = json.loads(verify.stdout)
    assert doc["signed_trailer"] is True and doc["records"] == 2 and doc["z_reports"] == 1


def test_records_go_to_the_tax_backend_and_wait_in_the_journal_when_it_is_away(
    tmp_path: Path,
) -> None:
    """A first day with the tax backend unreachable: the sales are recorded
    and receipts carry their QR, the uploads report `unreachable`. The device
    is registered (the SE key from the FISCAL line); the next day the
    first sale's upload takes the whole queue: the backend holds every
    record once, verified (chain, signatures, the Z report), and no alert
    but the ones due."""

    from tax_support import Backend, Clock

    refusing = RefusingPort()  # the tax backend's address while it is away
    nobody = refusing.port
    tax = Backend(tmp_path / "tax.sqlite", Clock(T0 + 20 * 3600))
    try:
        steps = [
            {"op": "sale", "amount": 30000, "card": "tap"},
            {"op": "refund", "amount": 5000, "card": "tap"},
            {"op": "batch_close"},
        ]

        async def two_days() -> tuple[Run, Run]:
            se = SeServer(tmp_path / "se.json")
            try:
                async with running_rig(tmp_path) as rig:
                    offline = await rig.terminal(
                        steps,
                        nfc_card="visa_qvsdc",
                        se_port=se.port,
                        fiscal={"device_id": DEVICE, "fiscalise": True},
                        tax_port=nobody,
                        clock=T0,
                    )
                    # the tax authority registers the device (its SE key)
                    point = fiscal_line(offline)["public_key"]
                    assert tax.client.register(DEVICE, point).status == 201
                    online = await rig.terminal(
                        steps,
                        nfc_card="visa_qvsdc",
                        se_port=se.port,
                        fiscal={"device_id": DEVICE},
                        tax_port=tax.running.port,
                        clock=T0 + 20 * 3600,
                    )
                    return offline, online
            finally:
                se.close()

        offline, online = asyncio.run(two_days())
        sale, refund, close = offline.results
        assert (sale["fiscal_seq"], refund["fiscal_seq"], close["z_report"]["seq"]) == (1, 2, 3)
        # the first failure defers the next upload (the refund's); the
        # day's close tries again
        kinds = [got["upload"]["error"]["kind"] for got in (sale, refund, close)]
        assert kinds == ["unreachable", "deferred", "unreachable"], kinds
        assert all(got["upload"].get("last_seq", 0) == 0 for got in (sale, refund, close))
        sale, refund, close = online.results
        assert sale["fiscal_seq"] == 4
        assert sale["upload"] == {"accepted": 4, "already_submitted": 0, "rejected": 0,
                                  "last_seq": 4, "pending": 0}  # fmt: skip
        assert refund["upload"]["accepted"] == 1 and refund["upload"]["last_seq"] == 5
        assert close["upload"]["accepted"] == 1 and close["upload"]["last_seq"] == 6
        status = tax.client.device(DEVICE).json()
        assert (status["records"], status["last_seq"]) == (6, 6)
        seqs = [row[0] for row in tax.store.db.execute(
            "SELECT seq FROM records WHERE device_id = ? ORDER BY seq", (DEVICE,))]  # fmt: skip
        assert seqs == [1, 2, 3, 4, 5, 6]  # each once
        assert tax.client.alerts(DEVICE) == []
    finally:
        tax.close()
        refusing.sock.close()


def test_a_reversal_owed_when_the_power_goes_is_sent_after_the_restart(tmp_path: Path) -> None:
    """The host approves a tap but its answer is lost, and the line is down
    for the reversal and its repeat: the terminal is switched off owing the
    reversal. It was kept on the fiscal flash, sealed by the
    secure element (no PAN in clear in any file); the next run finds it and
    delivers it first: the host gives the money back, once."""
    pan = seed.card_facts("visa_qvsdc").pan

    async def go() -> tuple[Run, Run, int, int, list[Any]]:  # runs, moved, back, host rows
        se = SeServer(tmp_path / "se.json")
        try:
            async with running_rig(tmp_path) as rig:
                before = rig.balance(pan)
                rig.relay.lose = lambda m: m["t"] == "0200"  # approved, the answer lost
                rig.relay.cut = lambda m: m["t"] in ("0400", "0401")  # then the line is down
                first = await rig.terminal(
                    [{"op": "sale", "amount": 30000, "card": "tap"}],
                    nfc_card="visa_qvsdc",
                    se_port=se.port,
                    fiscal={"device_id": DEVICE, "fiscalise": True},
                    host_timeout_ms=1000,
                    clock=T0,
                )
                charged = rig.balance(pan)
                rig.relay.lose = rig.relay.cut = lambda m: False
                second = await rig.terminal(
                    [{"op": "sign_on"}, {"op": "forward"}],
                    nfc_card=None,
                    se_port=se.port,
                    fiscal={"device_id": DEVICE},
                    clock=T0 + 600,
                )
                rows = rig.sql(
                    "SELECT mti, response_code, status FROM transactions"
                    " WHERE tid = 'PT000001' ORDER BY id"
                )
                return first, second, charged - before, rig.balance(pan) - before, rows
        finally:
            se.close()

    first, second, moved, back, rows = asyncio.run(go())
    (sale,) = first.results
    assert (sale["result"], sale["message"], sale["reversed"]) == (
        "declined",
        "host_timeout",
        True,
    )
    assert "fiscal_seq" not in sale  # nothing was sold
    assert moved == -30000  # the host posted the sale it approved
    sealed = list((tmp_path / "fiscal.img").read_bytes().split(pan.encode()))
    assert len(sealed) == 1, "the PAN is on the flash in clear"
    owed = [json.loads(x[5:]) for x in second.stdout.splitlines() if x.startswith("OWED ")]
    assert owed == [{"reversals": 1, "advices": 0, "stan": 2, "unreadable": []}], second.stdout
    _sign_on, forwarded = second.results
    assert forwarded["reversals"] == 1 and forwarded["advices"] == 0
    assert second.requests[1]["t"] == "0401" and second.requests[1]["11"] == "000002"
    assert rows == [("0200", "00", "reversed"), ("0400", "00", "reversal")]
    assert back == 0  # the money given back, once
