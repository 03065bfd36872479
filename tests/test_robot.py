"""Run the Robot Framework suites that target the command line."""

from __future__ import annotations

import sys
from pathlib import Path

import robot

PAYTERM = Path(sys.executable).parent / "payterm"

ROBOT_DIR = Path(__file__).resolve().parent.parent / "robot"


def test_cli_suite(tmp_path: Path) -> None:
    rc = robot.run(
        str(ROBOT_DIR / "suites" / "cli.robot"),
        outputdir=str(tmp_path),
        variable=[f"PAYTERM:{PAYTERM}"],
        loglevel="INFO",
        console="quiet",
    )
    log = (tmp_path / "output.xml").read_text(encoding="utf-8")
    assert rc == 0, f"{rc} robot test(s) failed; see {tmp_path}/log.html\n{log[-3000:]}"
