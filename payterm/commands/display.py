"""`payterm display serve`: the sim board's display, keypad and status
endpoint (host_sim/display, docs/drivers.md): prints where it listens as
JSON, writes the display to a PNG after each rectangle, optionally previews
it on stderr, and presses the keys named on stdin."""

from __future__ import annotations

import argparse

from host_sim.display.__main__ import main as serve_main


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("display", help="display/keypad endpoint of the sim board")
    sub = parser.add_subparsers(dest="display_command", required=True)
    p = sub.add_parser("serve", help="serve the display, keypad and status channels")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, action="append", help="repeatable; default 7105 7106 7107")
    p.add_argument("--png", help="write the display here after each rectangle")
    p.add_argument("--scale", type=int, default=1, help="PNG pixels per display pixel")
    p.add_argument("--preview", type=int, default=0, metavar="COLS", help="terminal preview width")
    p.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    argv = ["--host", args.host, "--scale", str(args.scale), "--preview", str(args.preview)]
    for port in args.port or []:
        argv += ["--port", str(port)]
    if args.png:
        argv += ["--png", args.png]
    return serve_main(argv)
