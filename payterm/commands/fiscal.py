"""`payterm fiscal`: export a fiscal journal, check an export or a receipt's
QR offline (docs/fiscal.md, docs/service.md).

    payterm fiscal export --image FILE [--board sim] [--root DIR] --out EXPORT
    payterm fiscal export --port URL --key TECH_KEY.pem [--baudrate B] [--timeout S] --out EXPORT
    payterm fiscal status --port URL [--baudrate B] [--timeout S]
    payterm fiscal tech-key --out TECH_KEY.pem
    payterm fiscal verify EXPORT --pubkey KEY [--jobs N] [--slot S] [--no-trailer]
    payterm fiscal verify-receipt QR --pubkey KEY [--slot S]

``export`` writes the PTFX export to ``--out`` and prints what it wrote as
JSON; exit 1 when the image holds no readable journal or the terminal
refuses (a JSON ``error`` on stdout too), 2 on bad input (an unreadable
file, an image of the wrong size, a bad key).  ``tech-key`` makes a
technician's P-256 key pair: the private key to ``--out`` (mode 0600), the
public point (hex) printed for the terminal's configuration.

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

    export = ops.add_parser(
        "export", help="export a journal from a flash image or a terminal's service port"
    )
    src = export.add_mutually_exclusive_group(required=True)
    src.add_argument("--image", type=Path, help="a fiscal flash image (read-only)")
    src.add_argument("--port", help="service port: socket://HOST:PORT or a serial device")
    export.add_argument("--out", type=Path, required=True, help="where the export goes")
    export.add_argument("--board", default="sim", help="board whose flash geometry to use")
    export.add_argument("--root", help="journal directory in the image (default: found)")
    export.add_argument("--key", type=Path, help="technician private key (PEM), with --port")
    export.add_argument("--baudrate", type=int, default=115200)
    export.add_argument("--timeout", type=float, default=10.0, help="seconds per answer")
    export.set_defaults(func=_export)

    status = ops.add_parser("status", help="a running terminal's service status (no key needed)")
    status.add_argument("--port", required=True, help="socket://HOST:PORT or a serial device")
    status.add_argument("--baudrate", type=int, default=115200)
    status.add_argument("--timeout", type=float, default=10.0, help="seconds per answer")
    status.set_defaults(func=_status)

    tech = ops.add_parser("tech-key", help="make a technician's P-256 key pair")
    tech.add_argument("--out", type=Path, required=True, help="private key file (PEM)")
    tech.set_defaults(func=_tech_key)

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


def _fail(args: argparse.Namespace, source: str, message: str, code: int) -> int:
    emit_json({"ok": False, "source": source, "error": message})
    print(f"payterm fiscal {args.fiscal_command}: {message}", file=sys.stderr)
    return code


def _write_out(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _export(args: argparse.Namespace) -> int:
    from tools import fiscal_export as fe

    if args.image is not None:
        if args.key is not None:
            raise BadInput("--key goes with --port")
        try:
            img = fe.export_image(args.image, args.board, args.root)
        except fe.ImageUnreadable as exc:
            return _fail(args, "image", str(exc), 2)
        except fe.ImageError as exc:
            return _fail(args, "image", str(exc), 1)
        _write_out(args.out, img.data)
        emit_json({"ok": True, "out": str(args.out), **img.as_dict()})
        for w in img.warnings:
            print(f"payterm fiscal export: warning: {w}", file=sys.stderr)
        return 0
    if args.key is None:
        raise BadInput("--port needs --key (the technician's private key)")
    try:
        key = fe.load_tech_key(args.key.read_bytes())
    except OSError as exc:
        raise BadInput(f"cannot read {args.key}: {exc.strerror}") from exc
    try:
        port = fe.open_port(args.port, args.baudrate)
    except Exception as exc:  # pyserial: SerialException, ValueError for a bad URL
        return _fail(args, "port", f"cannot open {args.port}: {exc}", 1)
    try:
        got = fe.export_port(port, key, args.timeout)
    except (fe.ServiceError, OSError) as exc:
        return _fail(args, "port", str(exc), 1)
    finally:
        port.close()
    _write_out(args.out, got.data)
    emit_json({"ok": True, "out": str(args.out), **got.as_dict()})
    return 0


def _status(args: argparse.Namespace) -> int:
    from tools import fiscal_export as fe

    try:
        port = fe.open_port(args.port, args.baudrate)
    except Exception as exc:  # pyserial: SerialException, ValueError for a bad URL
        return _fail(args, "port", f"cannot open {args.port}: {exc}", 1)
    try:
        doc = fe.status_port(port, args.timeout)
    except (fe.ServiceError, OSError) as exc:
        return _fail(args, "port", str(exc), 1)
    finally:
        port.close()
    emit_json({"ok": True, **doc})
    return 0


def _tech_key(args: argparse.Namespace) -> int:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from tools import fiscal_export as fe

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise BadInput(f"{args.out} exists: not overwritten") from exc
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    pub = key.public_key()
    emit_json(
        {
            "private_key": str(args.out),
            "public_key_hex": fe.public_point(key).hex(),
            "public_key_pem": pub.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ).decode(),
        }
    )
    return 0


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
