"""`payterm nfc`: the PN532 reader emulator standing alone (docs/nfc.md).

    payterm nfc serve --card PROFILE [--card PROFILE] [--port P | --pty [--link PATH]] [--timing]
    payterm nfc profiles

``serve`` puts the cards in the field of an emulated PN532 v1.6 and prints
where it listens, as JSON on stdout, then serves until interrupted:
``{"host": "127.0.0.1", "port": 7101, ...}``, or with ``--pty``
``{"pty": "/dev/pts/5", "link": "...", ...}`` (socat bridges the pty to the
TCP port).  nfcpy finds a port only under /dev:
``--pty --link /dev/ttyPN532`` then ``nfc.ContactlessFrontend("tty:ttyPN532:pn532")``
(creating a link in /dev needs root).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from payterm.cli import BadInput
from payterm.commands._io import emit_json

DEFAULT_PORT = 7101  # the sim board's uart1 endpoint (boards/sim/board.json)
PTY_WAIT_S = 5.0


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "nfc", help="PN532 NFC reader emulator with virtual cards in its field"
    )
    actions = parser.add_subparsers(dest="nfc_action", metavar="ACTION", required=True)
    serve = actions.add_parser("serve", help="serve an emulated PN532 on TCP or a pty")
    serve.add_argument(
        "--card",
        action="append",
        metavar="PROFILE",
        help="card profile in the field (repeat for two cards; see `payterm nfc profiles`)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    where = serve.add_mutually_exclusive_group()
    where.add_argument(
        "--port", type=int, default=None, help=f"TCP port (default {DEFAULT_PORT}; 0: any)"
    )
    where.add_argument("--pty", action="store_true", help="expose the reader as a pty (socat)")
    serve.add_argument("--link", help="with --pty: symlink to create for the pty")
    serve.add_argument(
        "--timing",
        action="store_true",
        help="bytes cost their time at the baud rate and at 106 kbps",
    )
    serve.set_defaults(func=run_serve)
    profiles = actions.add_parser("profiles", help="list the card profiles")
    profiles.set_defaults(func=run_profiles)


def run_profiles(args: argparse.Namespace) -> int:
    from host_sim.nfc.profiles import profile_names

    emit_json(profile_names())
    return 0


def _build_emulator(args: argparse.Namespace) -> Any:
    from host_sim.nfc.pn532_emulator import Pn532Emulator
    from host_sim.nfc.profiles import UnknownProfile, load_card
    from host_sim.nfc.rf_field import MAX_CARDS, RfField

    names = args.card or []
    if len(names) > MAX_CARDS:
        raise BadInput(f"the field holds at most {MAX_CARDS} cards")
    try:
        cards = [load_card(name) for name in names]
    except UnknownProfile as exc:
        raise BadInput(str(exc)) from exc
    return Pn532Emulator(RfField(cards), timing=args.timing), names


def _announce(info: dict[str, Any]) -> None:
    emit_json(info)
    sys.stdout.flush()


def run_serve(args: argparse.Namespace) -> int:
    if args.link and not args.pty:
        raise BadInput("--link needs --pty")
    emulator, names = _build_emulator(args)
    if args.pty:
        return _serve_pty(emulator, names, args)
    return _serve_tcp(emulator, names, args)


def _serve_tcp(emulator: Any, names: list[str], args: argparse.Namespace) -> int:
    from host_sim.nfc.server import Pn532Server

    port = DEFAULT_PORT if args.port is None else args.port

    async def main() -> None:
        server = Pn532Server(emulator, args.host, port)
        await server.start()
        _announce({"host": server.host, "port": server.port, "cards": names})
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        await server.close()

    asyncio.run(main())
    return 0


def _serve_pty(emulator: Any, names: list[str], args: argparse.Namespace) -> int:
    from host_sim.nfc.server import BackgroundServer

    socat = shutil.which("socat")
    if socat is None:
        print("payterm nfc: --pty needs socat (apt-get install socat)", file=sys.stderr)
        return 1
    link = args.link or f"/tmp/payterm-nfc-{os.getpid()}"
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with BackgroundServer(emulator, args.host, 0) as server:
        bridge = subprocess.Popen(
            [socat, f"pty,link={link},raw,echo=0", f"tcp:{server.host}:{server.port}"]
        )
        try:
            deadline = time.monotonic() + PTY_WAIT_S
            while not os.path.lexists(link):
                if bridge.poll() is not None or time.monotonic() > deadline:
                    print(f"payterm nfc: socat did not create {link}", file=sys.stderr)
                    return 1
                time.sleep(0.01)
            _announce(
                {
                    "pty": os.path.realpath(link),
                    "link": link,
                    "host": server.host,
                    "port": server.port,
                    "cards": names,
                }
            )
            while not stop.is_set() and bridge.poll() is None:
                stop.wait(0.2)
        finally:
            bridge.terminate()
            bridge.wait(5)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m payterm.commands.nfc serve ...``: this command without
    payterm's top-level parser (``argv`` starts after ``nfc``)."""
    from payterm import cli

    parser = argparse.ArgumentParser(prog="payterm")
    register(parser.add_subparsers(dest="command"))
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(["nfc", *words])
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else cli.EXIT_BAD_INPUT
    try:
        return int(args.func(args))
    except (BadInput, ValueError) as exc:
        print(f"payterm nfc: {exc}", file=sys.stderr)
        return cli.EXIT_BAD_INPUT
    except OSError as exc:
        print(f"payterm nfc: {exc}", file=sys.stderr)
        return cli.EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
