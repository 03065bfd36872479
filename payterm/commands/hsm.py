"""`payterm hsm`: the payment HSM emulator (docs/hsm.md).

``payterm hsm [--host H] [--port P] [--db FILE] [--header-length 4]
[--lmk test|FILE] [--max-frame N] [--disable CODES]`` starts the server,
prints one JSON line ``{"host", "port", "lmk_check", "lmk"}`` on stdout and
serves until SIGINT/SIGTERM.  ``--lmk test`` (the default) uses the
published test LMK; ``--lmk FILE`` reads a passphrase from FILE (first line)
and uses the production-style LMK kept in the DB under it, generating one on
first use.  The LMK itself is never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from hsm_sim.keystore import Keystore, KeystoreError
from hsm_sim.lmk import LmkError, load
from hsm_sim.server import DEFAULT_HEADER_LENGTH, DEFAULT_MAX_FRAME, HsmServer
from payterm.cli import BadInput

DEFAULT_PORT = 1500


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "hsm", help="payment HSM emulator (payShield-style host commands over TCP)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument("--db", default=":memory:", help="SQLite key store and audit log")
    parser.add_argument("--header-length", type=int, default=DEFAULT_HEADER_LENGTH)
    parser.add_argument("--max-frame", type=int, default=DEFAULT_MAX_FRAME)
    parser.add_argument("--lmk", default="test", help="'test' or a file holding the LMK passphrase")
    parser.add_argument(
        "--disable", default="", help="comma-separated command codes answered with error 68"
    )
    parser.add_argument("--log-level", default="WARNING", help="log level on stderr")
    parser.set_defaults(func=run)


def _passphrase(spec: str) -> str | None:
    if spec == "test":
        return None
    try:
        lines = Path(spec).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BadInput(f"cannot read the LMK passphrase file {spec}: {exc.strerror}") from exc
    if not lines or not lines[0].strip():
        raise BadInput(f"{spec}: empty LMK passphrase")
    return lines[0].strip()


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.header_length <= 255:
        raise BadInput("--header-length must be 0 to 255")
    if not 16 <= args.max_frame <= 0xFFFF:
        raise BadInput("--max-frame must be 16 to 65535")
    disabled = tuple(c.strip().upper() for c in args.disable.split(",") if c.strip())
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    passphrase = _passphrase(args.lmk)
    try:
        store = Keystore(args.db)
        lmk = load(store, passphrase)
    except (KeystoreError, LmkError) as exc:
        print(f"payterm hsm: {exc}", file=sys.stderr)
        return 1
    server = HsmServer(lmk, store, args.header_length, args.max_frame, disabled)
    try:
        asyncio.run(_serve(server, args.host, args.port))
    finally:
        store.close()
    return 0


async def _serve(server: HsmServer, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await server.start(host, port)
    bound_host, bound_port = server.address
    line = {
        "host": bound_host,
        "port": bound_port,
        "lmk_check": server.lmk.check_value,
        "lmk": server.lmk.kind,
    }
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()
    await stop.wait()
    await server.close()
