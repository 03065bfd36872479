"""`payterm card` and `payterm display` subcommands (payterm/commands/card.py,
display.py), driven through payterm.cli.main."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from payterm import cli

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_card_atr(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["card", "atr", "3B E6 00 FF 81 31 FE 45 44 49 20 30 32 4D 70"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["protocols"] == ["T=1"] and out["ifsc"] == 254 and out["tck"] == "70"
    assert out["interface"][2] == {"i": 3, "protocol": 1, "TA": "FE", "TB": "45"}


def test_card_atr_bad_tck_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["card", "atr", "3BE600FF8131FE4544492030324D71"]) == 2
    assert "TCK" in capsys.readouterr().err


def test_card_t1(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["card", "t1", "00C101FE3E"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "kind": "S",
        "nad": "00",
        "pcb": "C1",
        "type": "IFS",
        "response": False,
        "inf": "FE",
    }
    assert cli.main(["card", "t1", "00C101FE3F"]) == 2


def test_display_serve_prints_where_it_listens() -> None:
    code = (
        "import sys; from payterm import cli; "
        "sys.exit(cli.main(['display', 'serve', '--port', '0']))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=str(REPO_ROOT),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        info = json.loads(line)
        assert info["host"] == "127.0.0.1" and len(info["ports"]) == 1 and info["ports"][0] > 0
    finally:
        proc.kill()
        proc.communicate(timeout=10)
