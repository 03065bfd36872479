"""The ``payterm`` console command.

Each subcommand lives in its own module under ``payterm/commands/`` and
exposes ``register(subparsers)``, which adds its parser and sets ``func`` to a
callable taking the parsed namespace and returning the exit code.

Contract shared by every subcommand (see docs/cli.md): results are JSON on
stdout, messages on stderr, exit 0 on success, exit 2 on bad input (including
any DecodeError/EncodeError), exit 1 on an operational failure.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from payterm import __version__

# Order here is the order in ``payterm --help``.
COMMAND_MODULES = (
    "demo",
    "qr",
    "tlv",
    "iso8583",
    "crypto",
    "hsm",
    "nfc",
    "printer",
    "display",
    "card",
    "fw",
    "se",
    "host",
    "fiscal",
    "tax",
    "tsm",
)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


class BadInput(Exception):
    """Raised by a subcommand for input it rejects (exit 2)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="payterm", description="Payment and fiscal terminal firmware and simulators."
    )
    parser.add_argument("--version", action="version", version="payterm " + __version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module("payterm.commands." + name)
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors already
        return int(exc.code) if isinstance(exc.code, int) else EXIT_BAD_INPUT
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return int(args.func(args))
    except (BadInput, ValueError) as exc:
        # DecodeError and EncodeError are ValueErrors.
        print(f"payterm {args.command}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:
        print(f"payterm {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
