"""The terminal application started by the board runner, as
``payterm fw run --board sim --app firmware.app -- SESSION.json`` starts it:
every emulator of the sim board wired by the runner (PN532 with visa_qvsdc,
printer, display endpoint, the acquirer host with its HSM), the session from
a file.  Proves the app boots on the runner's wiring, signs on, takes a
tap the card approves offline (Y1), draws its screens on the display,
prints both receipts, and forwards the advice to the runner's host."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app_support import TERMINAL, session_keys

from host_sim.runner import RunOptions, run


def test_app_under_the_runner(tmp_path: Path) -> None:
    session = {
        "terminal": TERMINAL,
        "keys": session_keys(),
        "display": True,
        "contact": False,
        "host_timeout_ms": 5000,
        "steps": [
            {"op": "sign_on"},
            {"op": "sale", "amount": 15000, "card": "tap"},
            {"op": "forward"},
        ],
    }
    path = tmp_path / "session.json"
    path.write_text(json.dumps(session))
    seen: list[Any] = []
    out: list[str] = []
    err: list[str] = []
    code = run(
        RunOptions(
            app="firmware.app", app_args=(str(path),), nfc_cards=["visa_qvsdc"], timeout=120
        ),
        out=out.append,
        err=err.append,
        on_emulators=seen.append,
    )
    stdout = "".join(out)
    assert code == 0, stdout + "".join(err)
    results = [json.loads(x[7:]) for x in stdout.splitlines() if x.startswith("RESULT ")]
    sign_on, sale, forward = results
    assert sign_on["code"] == "00"
    assert (sale["result"], sale["auth_code"], sale["pan_masked"]) == (
        "approved",
        "Y1",
        "************0045",
    )
    assert forward["advices"] == 1
    emus = seen[0].objects
    receipts = emus["uart2"].printer.receipts
    assert len(receipts) == 2
    assert all("************0045" in r.text and "AUTH CODE Y1" in r.text for r in receipts)
    assert "4761730000000045" not in stdout
    assert emus["display"].rects > 0  # the screens were drawn on the panel
    journal = [(e.mti, e.stan) for e in emus["net0"].journal]
    assert journal[0] == ("0800", "000001")
    assert journal[1][0] == "0220"
