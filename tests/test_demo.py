"""`payterm demo` end to end: real MicroPython firmware, real loopback TCP to
the acquirer host, QR read back by zbar; then a morning of card sales by the
terminal application under the board runner (HSM, HSM-backed host on a
SQLite file, secure element), whose summary is checked here against the
host's database, read independently of the demo's own checks."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from host_sim.acquirer import seed
from payterm.cli import main
from protocols import emvqr

PART_ONE = [
    "firmware",
    "power-on self-test",
    "sign-on to acquirer",
    "CliQ QR payload",
    "QR symbol read back by zbar",
    "receipt printed, its QR read back by zbar",
]
MORNING = [
    "morning: firmware.app under the runner",
    "morning: sign-on to the HSM-backed host",
    "morning: receipts printed on the virtual printer",
    "morning: EMV traces exported by the terminal",
    "morning: contactless Visa-like",
    "morning: contactless Mastercard-like (CDA)",
    "morning: contact, offline PIN",
    "morning: refund by tap",
    "morning: contact, wrong online PIN",
    "morning: balances moved by exactly the approved amounts",
    "morning: batch closed, totals equal the host's",
    "fiscal: a signed record per approved sale and refund, Z report at the batch close",
    "fiscal: receipt QR codes read by zbar verify offline",
    "fiscal: journal exported from the flash image verifies",
    "tsm: the secure element's key certified, the device registered with its certificate",
    "tax: every record uploaded as it was written, verified, no alert",
]


def _fils(jod: str) -> int:
    whole, frac = jod.split(".")
    return int(whole) * 1000 + int(frac)


def test_demo_runs_green_and_leaves_its_artefacts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["demo", "--out", str(tmp_path), "--amount", "7.250", "--stan", "000314"])
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert rc == 0, out
    assert out["ok"] is True
    names = [c["name"] for c in out["checks"]]
    assert names == PART_ONE + MORNING
    assert [line[:4] for line in captured.err.splitlines() if line[:4] in ("ok  ", "FAIL")] == [
        "ok  "
    ] * len(names)
    payload = out["artefacts"]["qr_payload"]
    assert emvqr.decode(payload).get("54") == "7.250"
    assert (tmp_path / "cliq-qr.png").stat().st_size > 0
    assert (tmp_path / "receipt.png").stat().st_size > 0
    receipt = (tmp_path / "receipt.escpos").read_bytes()
    assert receipt.startswith(b"\x1b@")  # ESC @ initialise
    assert payload.encode("utf-8") in receipt  # stored in the printer's GS ( k QR
    assert "000314" in next(
        c["detail"] for c in out["checks"] if c["name"] == "sign-on to acquirer"
    )
    _morning_against_the_host(tmp_path, out)


def _morning_against_the_host(folder: Path, out: dict[str, object]) -> None:
    sales = out["sales"]
    assert isinstance(sales, list)
    assert [(s["kind"], s["card"], s["response_code"]) for s in sales] == [
        ("sale", "visa_qvsdc", "00"),
        ("sale", "mastercard_cda", "00"),
        ("sale", "contact_offline_pin", "00"),
        ("refund", "visa_qvsdc", "00"),
        ("sale", "contact_online_pin", "55"),
    ]
    artefacts = out["artefacts"]
    assert isinstance(artefacts, dict)
    db = Path(artefacts["host_db"])
    assert db == folder / "host.db"
    conn = sqlite3.connect(db)
    try:
        rows = {
            stan: (mti, pcode, amount, code, auth, status)
            for stan, mti, pcode, amount, code, auth, status in conn.execute(
                "SELECT stan, mti, processing_code, amount, response_code, auth_code, status"
                " FROM transactions WHERE tid = 'PT000001'"
            )
        }
        batch = conn.execute(
            "SELECT batch_number, response_code, sales_count, sales_amount, refunds_count,"
            " refunds_amount FROM batches WHERE tid = 'PT000001'"
        ).fetchall()
    finally:
        conn.close()
    assert len(rows) == len(sales)  # every sale reached the host, once
    for sale in sales:
        mti, pcode, amount, code, auth, status = rows[sale["stan"]]
        assert (mti, amount, code) == ("0200", _fils(sale["amount"]), sale["response_code"])
        assert pcode[:2] == ("20" if sale["kind"] == "refund" else "00")
        if code == "00":
            assert (auth, status) == (sale["auth_code"], "approved")
            assert len(sale["receipt_png"]) == 2
        else:
            assert (auth, status, sale.get("auth_code")) == ("", "declined", None)
            assert len(sale["receipt_png"]) == 1
        pan = seed.card_facts(sale["card"]).pan
        assert sale["pan_masked"] == "*" * (len(pan) - 4) + pan[-4:]
        for png in sale["receipt_png"]:
            with Image.open(png) as image:
                assert image.size[0] == 576 and image.size[1] > 200  # the printer's width
        trace_text = Path(sale["emv_trace"]).read_text()
        trace = json.loads(trace_text)
        assert trace["apdus"][0]["dir"] == "C" and trace["apdus"][0]["hex"].startswith("00A40400")
        assert trace["stan"] == sale["stan"] and pan not in trace_text
    approved = [s for s in sales if s["response_code"] == "00"]
    totals = [
        sum(1 for s in approved if s["kind"] == "sale"),
        sum(_fils(s["amount"]) for s in approved if s["kind"] == "sale"),
        sum(1 for s in approved if s["kind"] == "refund"),
        sum(_fils(s["amount"]) for s in approved if s["kind"] == "refund"),
    ]
    assert batch == [("000001", "00", *totals)]
    assert artefacts["batch"] == {"batch": "000001", "totals": totals, "code": "00"}
    log = (folder / "app.log").read_text()
    assert log.rstrip().endswith("DONE")
    assert "1234" not in log and "9999" not in log  # no PIN in the firmware's output
    _fiscal_export_verifies(folder, artefacts, len(approved))


def _fiscal_export_verifies(folder: Path, artefacts: dict[str, Any], approved: int) -> None:
    """The fiscal journal the demo exported, verified here by the CLI, and
    exported again from the flash image the demo left."""
    fiscal = artefacts["fiscal"]
    key = fiscal["public_key"]
    verify = subprocess.run(
        [sys.executable, "-m", "payterm", "fiscal", "verify", fiscal["export"], "--pubkey", key,
         "--no-trailer"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout + verify.stderr
    doc = json.loads(verify.stdout)
    assert doc["device_id"] == "PT-DEMO-0001"
    assert (doc["records"], doc["z_reports"]) == (approved + 1, 1)
    again = folder / "again.ptfx"
    export = subprocess.run(
        [sys.executable, "-m", "payterm", "fiscal", "export", "--image", fiscal["flash_image"],
         "--out", str(again)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert export.returncode == 0, export.stdout + export.stderr
    assert again.read_bytes() == Path(fiscal["export"]).read_bytes()
    # the tax backend's own database: every record once, in order
    conn = sqlite3.connect(artefacts["tax_db"])
    try:
        seqs = [row[0] for row in conn.execute(
            "SELECT seq FROM records WHERE device_id = 'PT-DEMO-0001' ORDER BY seq")]  # fmt: skip
    finally:
        conn.close()
    assert seqs == list(range(1, approved + 2))
    # the device certificate the TSM issued certifies the key that signed the journal
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificate(Path(artefacts["device_certificate"]).read_bytes())
    point = cert.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert point.hex() == Path(key).read_text().strip().lower()


def test_a_sale_that_goes_wrong_fails_the_demo(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checks can fail: a morning whose "Visa-like approval" is 600.000 JOD
    (over the reader's contactless limit and the card's per-transaction
    limit) is not approved, so its check, the balances check and the exit
    code say so."""
    from host_sim import morning

    wrong = morning.Sale("contactless Visa-like", "sale", 600000, "visa_qvsdc", "tap")
    monkeypatch.setattr(morning, "MORNING", (wrong,))
    rc = main(["demo", "--out", str(tmp_path)])
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert rc == 1 and out["ok"] is False
    failed = {c["name"] for c in out["checks"] if not c["ok"]}
    assert failed == {
        "morning: contactless Visa-like",
        "morning: balances moved by exactly the approved amounts",
    }
    assert "FAIL morning: contactless Visa-like" in captured.err
    (sale,) = out["sales"]
    assert sale["result"] == "declined" and sale["response_code"] != "00"
