"""`payterm tax`: the tax authority backend (docs/tax.md).

``payterm tax [--host H] [--port P] [--db FILE] [--ca CA.pem]
[--admin-token-file F] [--silent-limit S] [--z-limit S] [--monitor-every S]
[--tsm URL [--tsm-ttl S] [--tsm-timeout S]]`` opens the database, listens,
prints one JSON line ``{"host", "port", "url", "openapi", "db", "tsm"?,
"admin_token"?}`` on stdout and serves until SIGINT/SIGTERM.
The admin token comes from ``--admin-token-file``, else from
``PAYTERM_TAX_ADMIN_TOKEN``, else a fresh random one is printed.
With ``--tsm`` the device status at the TSM is checked at registration,
upload and invoice clearance (docs/tax.md, "Device status at the TSM").
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from payterm.cli import BadInput
from payterm.commands._io import admin_token

DEFAULT_PORT = 8470


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "tax", help="tax authority backend (HTTP: device registration, signed record upload)"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    p.add_argument("--db", default=":memory:", help="SQLite database file")
    p.add_argument("--ca", help="the TSM's CA certificate (PEM): device certificates required")
    p.add_argument("--admin-token-file", help="file holding the admin bearer token")
    p.add_argument("--silent-limit", type=int, default=72 * 3600, help="seconds (default 72 h)")
    p.add_argument("--z-limit", type=int, default=24 * 3600, help="seconds (default 24 h)")
    p.add_argument(
        "--monitor-every", type=float, default=60.0, help="seconds between compliance checks"
    )
    p.add_argument("--tsm", help="the TSM's URL (http://HOST:PORT): check device status")
    p.add_argument("--tsm-ttl", type=float, default=60.0, help="seconds a TSM answer is kept")
    p.add_argument("--tsm-timeout", type=float, default=2.0, help="seconds per TSM request")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # fastapi and uvicorn are imported when the backend runs, not with every
    # `payterm` command (they cost 0.2 s of start-up)
    from host_sim.tax.app import Config, create_app
    from host_sim.tax.devices import load_ca
    from host_sim.tax.server import serve_announced
    from host_sim.tax.store import TaxStore
    from hsm_sim.tsm.status_client import TsmStatusClient

    token, generated = admin_token(args.admin_token_file, "PAYTERM_TAX_ADMIN_TOKEN")
    printed_token = token if generated else None
    ca = None
    if args.ca:
        try:
            ca = load_ca(Path(args.ca).read_bytes())
        except OSError as e:
            raise BadInput(f"cannot read {args.ca}: {e.strerror}") from e
    if min(args.silent_limit, args.z_limit) <= 0 or args.monitor_every < 0:
        raise BadInput("limits must be positive")
    tsm = None
    if args.tsm:
        try:
            tsm = TsmStatusClient(args.tsm, ttl=args.tsm_ttl, timeout=args.tsm_timeout)
        except ValueError as e:
            raise BadInput(f"--tsm: {e}") from e
    store = TaxStore(args.db)
    cfg = Config(token, ca, args.silent_limit, args.z_limit, args.monitor_every, tsm=tsm)
    app = create_app(store, cfg)
    extra: dict[str, Any] = {"db": args.db}
    if args.tsm:
        extra["tsm"] = args.tsm
    if printed_token is not None:
        extra["admin_token"] = printed_token
    try:
        serve_announced(app, args.host, args.port, extra)  # stops on SIGINT/SIGTERM
    finally:
        store.close()
    return 0
