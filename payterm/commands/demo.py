"""`payterm demo`: run what exists end to end, headless, on loopback (host_sim/demo.py):
the firmware's self-test, sign-on and CliQ QR, then a morning of card sales by
the terminal application on the sim board with the HSM-backed acquirer host."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from payterm.commands._io import emit_json


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "demo", help="a morning of sales on the sim board against loopback hosts (headless)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("out/demo"),
        help="artefact folder (receipts, EMV traces, host.db)",
    )
    parser.add_argument("--amount", default="12.500", help="sale amount in JOD (3 decimals)")
    parser.add_argument("--stan", default="000001", help="system trace audit number")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from host_sim import demo

    result = demo.run(args.out, amount=args.amount, stan=args.stan)
    for check in result.checks:
        mark = "ok  " if check.ok else "FAIL"
        print(f"{mark} {check.name}: {check.detail}", file=sys.stderr)
    emit_json(result.to_json())
    return 0 if result.ok else 1
