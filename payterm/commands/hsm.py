"""`payterm hsm`: the payment HSM emulator (docs/hsm.md).

``payterm hsm [--host H] [--port P] [--db FILE] [--header-length 4]
[--lmk test|FILE] [--max-frame N] [--disable CODES] [--workers N]`` starts the server,
prints one JSON line ``{"host", "port", "lmk_check", "lmk"}`` on stdout and
serves until SIGINT/SIGTERM.  ``--lmk test`` (the default) uses the
published test LMK; ``--lmk FILE`` reads a passphrase from FILE (first line)
and uses the production-style LMK kept in the DB under it, generating one on
first use.  The LMK itself is never printed.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from hsm_sim import service
from hsm_sim.keystore import Keystore, KeystoreError
from hsm_sim.lmk import LmkError, load
from hsm_sim.server import DEFAULT_HEADER_LENGTH, DEFAULT_MAX_FRAME
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
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes sharing the port (needs --db)"
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
    if args.workers < 1 or (args.workers > 1 and args.db == ":memory:"):
        raise BadInput("--workers must be 1, or more with a --db file")
    disabled = tuple(c.strip().upper() for c in args.disable.split(",") if c.strip())
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    passphrase = _passphrase(args.lmk)
    try:
        store = Keystore(args.db)
        try:
            lmk = load(store, passphrase)
        finally:
            store.close()
    except (KeystoreError, LmkError) as exc:
        print(f"payterm hsm: {exc}", file=sys.stderr)
        return 1
    if passphrase is not None and args.db == ":memory:":
        print(
            "payterm hsm: production LMK without --db: it ends with this process", file=sys.stderr
        )

    def ready(host: str, port: int) -> None:
        line = {"host": host, "port": port, "lmk_check": lmk.check_value, "lmk": lmk.kind}
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()

    service.run(
        lmk,
        args.db,
        args.host,
        args.port,
        args.workers,
        args.header_length,
        args.max_frame,
        disabled,
        ready,
    )
    return 0
