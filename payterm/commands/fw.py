"""`payterm fw`: run a board with its emulators, build and deploy firmware
(docs/runner.md).

    payterm fw run --board sim [--card PROFILE ...] [--contact-card PROFILE]
                   [--protocol T=0|T=1] [--timing] [--app MODULE] [--firmware DIR]
                   [--path DIR ...] [--timeout S] [-- APP_ARGS...]
    payterm fw build --board NAME [--out DIR]
    payterm fw deploy --board NAME --port PORT [--out DIR] [--dry-run] [--resume]
    payterm fw traces LOG [--out DIR]

``run`` prints where each emulator listens as one JSON line on stderr, then
the firmware's own output (stdout and stderr as it writes them), and exits
with the firmware's exit code (124 after --timeout, 128+N after signal N).
``build`` prints {"out", "files", "manifest"}; ``deploy`` prints the mpremote
command lines it ran (or would run, with --dry-run).  ``traces`` reads the
EMV traces the terminal app wrote in its output (LOG, or - for stdin) and
prints {"traces", "transactions", "files"}, writing one JSON file per
transaction with --out.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from payterm.cli import BadInput
from payterm.commands._io import emit_json


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "fw", help="run a board with its emulators; build and deploy firmware"
    )
    actions = parser.add_subparsers(dest="fw_action", metavar="ACTION", required=True)

    run = actions.add_parser("run", help="the firmware under MicroPython with every emulator")
    run.add_argument("--board", default="sim", help="a unix-port board (default sim)")
    run.add_argument(
        "--card",
        action="append",
        metavar="PROFILE",
        help="contactless card in the PN532's field (repeatable; default visa_qvsdc; "
        "'none': empty field)",
    )
    run.add_argument(
        "--contact-card",
        default=None,
        metavar="PROFILE",
        help="card in the contact reader's slot (default contact_offline_pin; 'none': empty)",
    )
    run.add_argument("--protocol", choices=("T=0", "T=1"), help="contact card protocol")
    run.add_argument("--timing", action="store_true", help="PN532 link timing (115200 baud)")
    run.add_argument("--app", default=None, help="MicroPython module to run (firmware.demo)")
    run.add_argument(
        "--firmware", type=Path, help="firmware tree (a `fw build` folder; default: sources)"
    )
    run.add_argument(
        "--path", type=Path, action="append", default=[], help="extra MICROPYPATH folder"
    )
    run.add_argument("--timeout", type=float, help="stop the firmware after S seconds")
    run.add_argument(
        "--db", type=Path, help="keep the acquirer host's database in FILE (seeded when new)"
    )
    run.add_argument("app_args", nargs="*", help="arguments for the app (after --)")
    run.set_defaults(func=run_run)

    build = actions.add_parser("build", help="mpy-cross a board's firmware into a folder")
    build.add_argument("--board", required=True)
    build.add_argument("--out", type=Path, help="output folder (default build/fw/BOARD)")
    build.set_defaults(func=run_build)

    deploy = actions.add_parser("deploy", help="copy a built folder to a board with mpremote")
    deploy.add_argument("--board", required=True)
    deploy.add_argument("--port", required=True, help="serial port of the board")
    deploy.add_argument("--out", type=Path, help="built folder (default build/fw/BOARD)")
    deploy.add_argument("--dry-run", action="store_true", help="print the commands only")
    deploy.add_argument(
        "--resume", action="store_true", help="no soft reset first (mpremote resume; unix port)"
    )
    deploy.set_defaults(func=run_deploy)

    traces = actions.add_parser(
        "traces", help="the EMV traces in a terminal app's output, one file per transaction"
    )
    traces.add_argument("log", help="the firmware's output (payterm fw run ...), or - for stdin")
    traces.add_argument("--out", type=Path, help="folder for NNN-STAN-INTERFACE.json files")
    traces.set_defaults(func=run_traces)


def _known_board(name: str) -> dict[str, Any]:
    import boards

    try:
        cfg: dict[str, Any] = boards.load(name)
    except ValueError as exc:
        raise BadInput(str(exc)) from exc
    return cfg


def run_run(args: argparse.Namespace) -> int:
    from host_sim.nfc.profiles import profile_names
    from host_sim.runner import RunOptions, run
    from host_sim.runner.runner import (
        DEFAULT_APP,
        DEFAULT_CONTACT_CARD,
        DEFAULT_NFC_CARD,
        board_config,
    )
    from tools.mpytest import MicroPythonNotFound

    _known_board(args.board)
    try:
        board_config(args.board)
    except ValueError as exc:
        raise BadInput(str(exc)) from exc
    cards = args.card if args.card else [DEFAULT_NFC_CARD]
    contact = args.contact_card or DEFAULT_CONTACT_CARD
    known = set(profile_names()) | {"none"}
    for name in [*cards, contact]:
        if name not in known:
            raise BadInput(f"no card profile {name!r} (see `payterm nfc profiles`)")
    if len([c for c in cards if c != "none"]) > 2:
        raise BadInput("the PN532's field holds at most 2 cards")
    if args.timeout is not None and args.timeout <= 0:
        raise BadInput("--timeout must be positive")
    if args.firmware is not None and not (args.firmware / "firmware").is_dir():
        raise BadInput(f"{args.firmware} holds no firmware/ folder")
    options = RunOptions(
        board=args.board,
        app=args.app or DEFAULT_APP,
        app_args=tuple(args.app_args),
        nfc_cards=cards,
        contact_card=None if contact == "none" else contact,
        contact_protocol=args.protocol,
        nfc_timing=args.timing,
        timeout=args.timeout,
        extra_path=tuple(p.resolve() for p in args.path),
        db_path=args.db.resolve() if args.db else None,
    )
    if args.firmware is not None:
        options.firmware_path = args.firmware.resolve()

    def ready(info: dict[str, Any]) -> None:
        sys.stderr.write(json.dumps(info) + "\n")
        sys.stderr.flush()

    try:
        return run(options, on_ready=ready)
    except MicroPythonNotFound as exc:
        print(f"payterm fw run: {exc}", file=sys.stderr)
        return 1


def run_build(args: argparse.Namespace) -> int:
    from tools import fwbuild

    _known_board(args.board)
    out = args.out or fwbuild.default_out(args.board)
    try:
        manifest = fwbuild.build(args.board, out)
    except fwbuild.BuildError as exc:
        print(f"payterm fw build: {exc}", file=sys.stderr)
        return 1
    emit_json({"out": str(out), "files": len(manifest["files"]), "manifest": manifest})
    return 0


def run_deploy(args: argparse.Namespace) -> int:
    import subprocess

    from tools import fwbuild

    _known_board(args.board)
    out = args.out or fwbuild.default_out(args.board)
    try:
        board = json.loads((out / fwbuild.MANIFEST).read_text(encoding="utf-8")).get("board")
    except (OSError, ValueError) as exc:
        raise BadInput(f"{out}: no build there ({exc}); run `payterm fw build` first") from exc
    if board != args.board:
        raise BadInput(f"{out} was built for board {board!r}, not {args.board!r}")
    try:
        commands = fwbuild.deploy(args.port, out, dry_run=args.dry_run, resume=args.resume)
    except (fwbuild.BuildError, subprocess.SubprocessError) as exc:
        print(f"payterm fw deploy: {exc}", file=sys.stderr)
        return 1
    emit_json({"out": str(out), "port": args.port, "dry_run": args.dry_run, "commands": commands})
    return 0


def run_traces(args: argparse.Namespace) -> int:
    from tools import emv_traces

    try:
        source = sys.stdin if args.log == "-" else open(args.log, encoding="utf-8")  # noqa: SIM115
        with source:
            text = source.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {args.log}: {exc}") from None
    try:
        found = emv_traces.extract(text)
    except emv_traces.TraceError as exc:
        raise BadInput(f"{args.log}: {exc}") from None
    files = [str(p) for p in emv_traces.write(found, args.out)] if args.out else []
    emit_json(
        {
            "traces": len(found),
            "transactions": [emv_traces.summary(t) for t in found],
            "files": files,
        }
    )
    return 0
