"""`payterm se serve`: the secure-element emulator (docs/secure-element.md).

``payterm se serve [--host H] [--port P] [--state FILE] [--personalise
test|random|none] [--addr 0x60]`` opens (or creates) the SE state, listens
for the sim board's I2C-over-TCP bus, prints one JSON line ``{"host",
"port", "addr", "serial", "state"}`` on stdout and serves until SIGINT or
SIGTERM.  No key is ever printed.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

from hsm_sim.se import service
from hsm_sim.se.engine import Engine
from hsm_sim.se.storage import StorageError
from payterm.cli import BadInput

DEFAULT_PORT = 7104  # the sim board's i2c0 endpoint


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("se", help="secure-element emulator")
    se_sub = parser.add_subparsers(dest="se_command", metavar="SUBCOMMAND")
    serve = se_sub.add_parser("serve", help="serve the SE on the sim board's I2C-over-TCP bus")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    serve.add_argument(
        "--state", default=None, help="state file (the SE's memory); default: a temporary one"
    )
    serve.add_argument(
        "--personalise",
        default="test",
        choices=("test", "random", "none"),
        help="keys of a new state: TEST keys, random ones, or refuse to create",
    )
    serve.add_argument("--serial", default="", help="serial number of a new state")
    serve.add_argument("--addr", default="0x60", help="7-bit I2C address")
    serve.add_argument("--log-level", default="WARNING", help="log level on stderr")
    serve.set_defaults(func=run_serve)
    parser.set_defaults(func=lambda _args: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def run_serve(args: argparse.Namespace) -> int:
    try:
        addr = int(args.addr, 0)
    except ValueError:
        raise BadInput(f"--addr {args.addr!r} is not a number") from None
    if not 0x08 <= addr <= 0x77:
        raise BadInput("--addr must be a 7-bit address 0x08..0x77")
    if not 0 <= args.port <= 0xFFFF:
        raise BadInput("--port must be 0..65535")
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    tmp = None
    if args.state is None:
        tmp = tempfile.TemporaryDirectory(prefix="payterm-se-")
        state = Path(tmp.name) / "se-state.json"
    else:
        state = Path(args.state)
    personalise = None if args.personalise == "none" else args.personalise
    try:
        engine = Engine.open(state, personalise, args.serial)
    except StorageError as exc:
        print(f"payterm se: {exc}", file=sys.stderr)
        return 1

    def ready(host: str, port: int) -> None:
        line = {
            "host": host,
            "port": port,
            "addr": addr,
            "serial": engine.serial,
            "state": str(state),
        }
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()

    try:
        service.run(engine, args.host, args.port, ready, addr)
    finally:
        if tmp is not None:
            tmp.cleanup()
    return 0
