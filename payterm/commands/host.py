"""`payterm host`: the acquirer host (docs/acquirer.md).

``payterm host [--host H] [--port P] [--hsm HOST:PORT] [--db FILE] [--seed]
[--tsm URL [--tsm-fail open|closed] [--tsm-ttl S] [--tsm-timeout S]]``
opens the database (``--seed`` adds the TEST merchant, terminals and card
accounts first), connects to the HSM, listens, prints one JSON line
``{"host", "port", "db", "hsm", "tsm"?}`` on stdout and serves until
SIGINT/SIGTERM. With ``--tsm`` the terminals mapped to a TSM device serial
are checked against its device status (docs/acquirer.md).

``payterm host spec [--json]`` prints the PAYTERM_1987 spec as a pyiso8583
spec dictionary (JSON).

``payterm host seed --db FILE [--terminals N] [--load-cards K]`` writes the
TEST data and prints what it wrote.

``payterm host load --terminals N --seconds S [--host H] [--port P]
[--cards C] [--seed R]`` runs N simulated terminals against a running host
and prints throughput and latency percentiles (JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from typing import Any

from host_sim.acquirer import seed as seeding
from host_sim.acquirer.db import HostDb, SchemaError
from host_sim.acquirer.devices import DeviceGate
from host_sim.acquirer.load import run_load
from host_sim.acquirer.security import SecurityUnavailable
from host_sim.acquirer.service import HostService
from hsm_sim.tsm.status_client import TsmStatusClient
from payterm.cli import BadInput
from payterm.commands._io import emit_json
from payterm.iso8583_pyiso import to_pyiso8583_spec
from protocols.iso8583_specs import PAYTERM_1987

DEFAULT_PORT = 5000
DEFAULT_HSM = "127.0.0.1:1500"


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "host", help="acquirer host (ISO 8583 PAYTERM_1987 over TCP, HSM-backed)"
    )
    _serve_options(parser)
    parser.set_defaults(func=run_serve)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")

    spec = actions.add_parser("spec", help="the spec as a pyiso8583 spec dictionary (JSON)")
    spec.add_argument("--json", action="store_true", help="JSON output (the only format)")
    spec.set_defaults(func=run_spec)

    seed = actions.add_parser("seed", help="write the TEST merchant, terminals and accounts")
    seed.add_argument("--db", required=True, help="SQLite database file")
    seed.add_argument("--terminals", type=int, default=64)
    seed.add_argument("--load-cards", type=int, default=1024, help="synthetic cards for load")
    seed.set_defaults(func=run_seed)

    load = actions.add_parser("load", help="simulated terminals against a running host")
    load.add_argument("--host", default="127.0.0.1")
    load.add_argument("--port", type=int, default=DEFAULT_PORT)
    load.add_argument("--terminals", type=int, default=64)
    load.add_argument("--seconds", type=float, default=10.0)
    load.add_argument("--cards", type=int, default=16, help="cards per terminal")
    load.add_argument("--seed", type=int, default=1, help="random seed of the mix")
    load.set_defaults(func=run_load_command)


def _serve_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    parser.add_argument(
        "--hsm", default=DEFAULT_HSM, help="HSM address HOST:PORT (several: comma-separated)"
    )
    parser.add_argument("--hsm-header", default="0000", help="HSM message header")
    parser.add_argument("--hsm-connections", type=int, default=2)
    parser.add_argument("--db", default=":memory:", help="SQLite database file")
    parser.add_argument("--seed", action="store_true", help="write the TEST data first")
    parser.add_argument("--terminals", type=int, default=64, help="with --seed")
    parser.add_argument("--load-cards", type=int, default=1024, help="with --seed")
    parser.add_argument("--log-level", default="WARNING", help="log level on stderr")
    parser.add_argument("--tsm", help="the TSM's URL (http://HOST:PORT): check device status")
    parser.add_argument(
        "--tsm-fail",
        choices=("open", "closed"),
        default="open",
        help="TSM unreachable: let requests through (open) or decline them 91 (closed)",
    )
    parser.add_argument("--tsm-ttl", type=float, default=60.0, help="seconds an answer is kept")
    parser.add_argument("--tsm-timeout", type=float, default=2.0, help="seconds per TSM request")


def _hsm_addresses(text: str) -> list[tuple[str, int]]:
    out = []
    for item in text.split(","):
        host, sep, port = item.strip().rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise BadInput(f"--hsm must be HOST:PORT[,HOST:PORT…], not {text!r}")
        out.append((host, int(port)))
    return out


def _check_counts(terminals: int, load_cards: int) -> None:
    if not 0 <= terminals <= 999_999:
        raise BadInput("--terminals must be 0 to 999999")
    if not 0 <= load_cards <= 1_000_000:
        raise BadInput("--load-cards must be 0 to 1000000")


def run_spec(args: argparse.Namespace) -> int:
    emit_json(to_pyiso8583_spec(PAYTERM_1987))
    return 0


def run_seed(args: argparse.Namespace) -> int:
    _check_counts(args.terminals, args.load_cards)
    try:
        db = HostDb(args.db)
    except SchemaError as exc:
        print(f"payterm host: {exc}", file=sys.stderr)
        return 1
    try:
        emit_json(seeding.seed(db, args.terminals, args.load_cards))
    finally:
        db.close()
    return 0


def run_load_command(args: argparse.Namespace) -> int:
    if args.terminals < 1 or args.seconds <= 0 or args.cards < 1:
        raise BadInput("--terminals, --seconds and --cards must be positive")
    report = asyncio.run(run_load(args.host, args.port, args.terminals, args.seconds,
                                  args.cards, args.seed))  # fmt: skip
    emit_json(report)
    return 0 if report["messages"] else 1


def _device_gate(args: argparse.Namespace) -> DeviceGate | None:
    if not args.tsm:
        return None
    try:
        client = TsmStatusClient(args.tsm, ttl=args.tsm_ttl, timeout=args.tsm_timeout)
    except ValueError as exc:
        raise BadInput(f"--tsm: {exc}") from exc
    return DeviceGate(client, fail_open=args.tsm_fail == "open")


def run_serve(args: argparse.Namespace) -> int:
    addresses = _hsm_addresses(args.hsm)
    devices = _device_gate(args)
    _check_counts(args.terminals, args.load_cards)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    if args.seed:
        if args.db == ":memory:":
            raise BadInput("--seed needs --db FILE (the host opens the database itself)")
        db = HostDb(args.db)
        seeding.seed(db, args.terminals, args.load_cards)
        db.close()
    try:
        asyncio.run(_serve(args, addresses, devices))
    except SecurityUnavailable as exc:
        print(f"payterm host: cannot reach the HSM: {exc}", file=sys.stderr)
        return 1
    except SchemaError as exc:
        print(f"payterm host: {exc}", file=sys.stderr)
        return 1
    return 0


async def _serve(
    args: argparse.Namespace, addresses: list[tuple[str, int]], devices: DeviceGate | None
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    (hsm_host, hsm_port), *more = addresses
    service = await HostService.start(
        args.db, hsm_host, hsm_port, args.host, args.port,
        hsm_header=args.hsm_header.encode("ascii"), hsm_connections=args.hsm_connections,
        more_hsms=tuple(more), devices=devices,
    )  # fmt: skip
    line = {"host": service.address[0], "port": service.port, "db": args.db,
            "hsm": args.hsm}  # fmt: skip
    if args.tsm:
        line["tsm"] = args.tsm
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()
    await stop.wait()
    await service.close()
