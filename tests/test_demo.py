"""`payterm demo` end to end: real MicroPython firmware, real loopback TCP to
the acquirer host, QR read back by zbar."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from payterm.cli import main
from protocols import emvqr


def test_demo_runs_green_and_leaves_its_artefacts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = main(["demo", "--out", str(tmp_path), "--amount", "7.250", "--stan", "000314"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0, out
    assert out["ok"] is True
    names = [c["name"] for c in out["checks"]]
    assert names == [
        "firmware",
        "power-on self-test",
        "sign-on to acquirer",
        "CliQ QR payload",
        "QR symbol read back by zbar",
        "receipt printed, its QR read back by zbar",
    ]
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
