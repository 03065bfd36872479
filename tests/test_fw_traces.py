"""`payterm fw traces`: the EMV traces the terminal app exported (TRACE
lines in its output), one JSON file per transaction; a malformed TRACE line
is bad input (exit 2) naming the line."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

from app_support import running_rig

from host_sim.acquirer import seed


def payterm(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "payterm", "fw", "traces", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_traces_of_a_real_run_one_file_per_transaction(tmp_path: Path) -> None:
    async def go() -> str:
        async with running_rig(tmp_path) as rig:
            run = await rig.terminal(
                [
                    {"op": "sale", "amount": 30000, "card": "tap"},
                    {"op": "refund", "amount": 5000, "card": "tap"},
                ],
                nfc_card="visa_qvsdc",
                receipts=0,
            )
            return run.stdout

    stdout = asyncio.run(go())
    log = tmp_path / "app.log"
    log.write_text(stdout)
    out = tmp_path / "traces"
    proc = payterm(str(log), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["traces"] == 2
    assert [t["kind"] for t in doc["transactions"]] == ["sale", "refund"]
    assert all(t["interface"] == "contactless" and t["apdus"] >= 3 for t in doc["transactions"])
    files = [Path(f) for f in doc["files"]]
    assert [f.name for f in files] == sorted(f.name for f in out.iterdir())
    pan = seed.card_facts("visa_qvsdc").pan
    for path in files:
        trace = json.loads(path.read_text())
        assert trace["apdus"][0]["hex"].startswith("00A404000E325041592E")  # PPSE
        assert pan not in path.read_text()
    # the same from stdin, without files
    again = payterm("-", stdin=stdout)
    assert again.returncode == 0 and json.loads(again.stdout)["files"] == []


def test_malformed_trace_line_is_bad_input(tmp_path: Path) -> None:
    cases = {
        "TRACE {not json": "line 2: not JSON",
        'TRACE {"apdus": [{"dir": "X", "hex": "00"}], "notes": []}': "apdu 0: no direction",
        'TRACE {"apdus": [{"dir": "C", "hex": "0g"}], "notes": []}': "apdu 0: hex",
        'TRACE {"apdus": []}': "no apdus / notes",
        "TRACE [1]": "not a JSON object",
    }
    for line, reason in cases.items():
        proc = payterm("-", stdin="UI {}\n" + line + "\n")
        assert proc.returncode == 2, line
        assert reason in proc.stderr, (line, proc.stderr)
    missing = payterm(str(tmp_path / "nope.log"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
