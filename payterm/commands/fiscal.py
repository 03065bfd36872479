"""`payterm fiscal`: check a fiscal journal export or a receipt's QR offline
(docs/fiscal.md).

    payterm fiscal verify EXPORT --pubkey KEY [--jobs N] [--slot S] [--no-trailer]
    payterm fiscal verify-receipt QR --pubkey KEY [--slot S]

``verify`` prints the verifier's result as JSON; exit 0 when the export is
valid, 1 when it is not (``problem`` names the first failing record and why),
2 on bad input (missing file, unreadable key).  ``verify-receipt`` prints the
fields an inspector compares with the paper; exit 0 when the signature
verifies, 1 when it does not, 2 when the QR content is malformed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from payterm.cli import BadInput
from payterm.commands._io import emit_json


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "fiscal", help="verify fiscal journal exports and receipt QR codes"
    )
    ops = parser.add_subparsers(dest="fiscal_command", metavar="ACTION", required=True)

    verify = ops.add_parser("verify", help="verify a journal export (chain, counters, signatures)")
    verify.add_argument("export", type=Path)
    verify.add_argument("--pubkey", type=Path, required=True, help="device key: PEM, DER or hex")
    verify.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    verify.add_argument("--slot", type=int, default=0, help="the secure element's key slot")
    verify.add_argument(
        "--no-trailer", action="store_true", help="accept an export without trailer"
    )
    verify.set_defaults(func=_verify)

    receipt = ops.add_parser("verify-receipt", help="verify a fiscal receipt's QR content offline")
    receipt.add_argument("qr", help="the QR text, or - for stdin")
    receipt.add_argument("--pubkey", type=Path, required=True, help="device key: PEM, DER or hex")
    receipt.add_argument("--slot", type=int, default=0)
    receipt.set_defaults(func=_verify_receipt)


def _key(path: Path) -> Any:
    from tools import fiscal_verify

    try:
        return fiscal_verify.load_public_key(path.read_bytes())
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror}") from exc


def _verify(args: argparse.Namespace) -> int:
    from tools import fiscal_verify

    key = _key(args.pubkey)
    try:
        data = args.export.read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read {args.export}: {exc.strerror}") from exc
    result = fiscal_verify.verify(
        data, key, jobs=max(1, args.jobs), require_trailer=not args.no_trailer, slot=args.slot
    )
    emit_json(result.as_dict())
    if not result.ok:
        print(f"payterm fiscal: INVALID: {result.problem}", file=sys.stderr)
    return 0 if result.ok else 1


def _verify_receipt(args: argparse.Namespace) -> int:
    from protocols.errors import DecodeError
    from tools import fiscal_verify

    key = _key(args.pubkey)
    text = sys.stdin.read().strip() if args.qr == "-" else args.qr
    try:
        fields = fiscal_verify.verify_receipt(text, key, slot=args.slot)
    except DecodeError:
        raise
    except ValueError as exc:
        emit_json({"valid": False, "reason": str(exc)})
        return 1
    emit_json({"valid": True, **fields})
    return 0
