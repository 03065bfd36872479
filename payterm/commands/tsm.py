"""`payterm tsm`: the TSM emulator (docs/tsm.md).

``payterm tsm [--host H] [--port P] [--db FILE] [--keys DIR]
[--admin-token-file F] [--cert-days N]`` opens the database, listens, prints
one JSON line ``{"host", "port", "url", "openapi", "db", "keys", "ca",
"release_key", "admin_token"?}`` and serves until SIGINT/SIGTERM. Without
``--keys`` the CA and release keys are fresh and live as long as the process.
The admin token comes from ``--admin-token-file``, else
``PAYTERM_TSM_ADMIN_TOKEN``, else a fresh random one is printed.

``payterm tsm package --board NAME --build DIR --version V --key KEY --out PKG``
makes a signed OTA package from a ``tools/fwbuild.py`` output folder with the
release private key ``KEY`` (PEM, e.g. ``DIR/release.key`` of ``--keys``).
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import Any

from payterm.cli import BadInput
from payterm.commands._io import admin_token

DEFAULT_PORT = 8480


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "tsm", help="TSM: device certificates, revocation status, parameters, keys, OTA packages"
    )
    _serve_options(p)
    p.set_defaults(func=run)
    actions = p.add_subparsers(dest="tsm_action", metavar="ACTION")
    k = actions.add_parser("package", help="make a signed OTA package from a firmware build")
    k.add_argument("--board", required=True)
    k.add_argument("--build", required=True, help="a tools/fwbuild.py output folder")
    k.add_argument("--version", required=True, type=int, help="monotonic image version (>= 1)")
    k.add_argument("--key", required=True, help="release private key (PEM, ECDSA P-256)")
    k.add_argument("--out", required=True, help="the package file to write")
    k.set_defaults(func=package)


def _serve_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    p.add_argument("--db", default=":memory:", help="SQLite database file")
    p.add_argument("--keys", help="folder of the CA and release keys (created on first use)")
    p.add_argument("--admin-token-file", help="file holding the admin bearer token")
    p.add_argument("--cert-days", type=int, default=365, help="device certificate lifetime")


def run(args: argparse.Namespace) -> int:
    from host_sim.tax.server import serve_announced
    from hsm_sim.tsm.app import Config, create_app
    from hsm_sim.tsm.keys import TsmKeys
    from hsm_sim.tsm.store import TsmStore

    token, generated = admin_token(args.admin_token_file, "PAYTERM_TSM_ADMIN_TOKEN")
    printed = token if generated else None
    if args.cert_days <= 0:
        raise BadInput("--cert-days must be positive")
    try:
        keys = TsmKeys.load_or_create(Path(args.keys)) if args.keys else TsmKeys.generate()
    except ValueError as e:
        raise BadInput(str(e)) from e
    store = TsmStore(args.db)
    app = create_app(store, keys, Config(token, cert_days=args.cert_days))
    extra: dict[str, Any] = {
        "db": args.db,
        "keys": args.keys,
        "ca": keys.ca_pem,
        "release_key": keys.release_public.hex(),
    }
    if printed is not None:
        extra["admin_token"] = printed
    try:
        serve_announced(app, args.host, args.port, extra)
    finally:
        store.close()
    return 0


def package(args: argparse.Namespace) -> int:
    from hsm_sim.tsm.keys import load_private
    from payterm.commands._io import emit_json
    from tools import ota_package

    try:
        key = load_private(Path(args.key))
    except OSError as e:
        raise BadInput(f"cannot read {args.key}: {e.strerror}") from e
    except (ValueError, TypeError) as e:
        raise BadInput(f"{args.key}: {e}") from e
    build = Path(args.build)
    if not build.is_dir():
        raise BadInput(f"{build} is not a folder")
    try:
        data, manifest = ota_package.build_package(build, args.board, args.version, key)
    except ota_package.PackageError as e:
        raise BadInput(str(e)) from e
    Path(args.out).write_bytes(data)
    emit_json(
        {
            "out": args.out,
            "board": manifest["board"],
            "version": manifest["version"],
            "files": len(manifest["files"]),
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    )
    return 0
