"""Run the display/keypad/status endpoint on its own.

    python -m host_sim.display [--host 127.0.0.1] [--port 7105 --port 7106 --port 7107]
                               [--png display.png] [--scale 2] [--preview COLS]

Prints where it listens (JSON on stdout), then serves until interrupted.
Lines typed on stdin are key names sent to the keypad (``1``, ``ENTER``...).
With ``--preview`` the display is redrawn on stderr after each rectangle.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from host_sim.display.framebuffer import FrameBuffer
from host_sim.display.preview import ansi
from host_sim.display.server import PanelEndpoint


async def _main(args: argparse.Namespace) -> int:
    endpoint = PanelEndpoint(args.png, args.scale)
    if args.preview:

        def show(frame: FrameBuffer) -> None:
            sys.stderr.write("\x1b[H" + ansi(frame, args.preview) + "\n")
            sys.stderr.flush()

        endpoint.on_frame = show
    ports = await endpoint.start(args.host, tuple(args.port or [7105, 7106, 7107]))
    print(json.dumps({"host": args.host, "ports": ports, "png": args.png}), flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            await asyncio.Event().wait()  # stdin closed: serve until interrupted
        key = line.strip()
        if key:
            try:
                sent = await endpoint.press(key)
            except ValueError as exc:
                print(str(exc), file=sys.stderr)
                continue
            print(f"key {key} -> {sent} keypad(s)", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="payterm display/keypad endpoint")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, action="append")
    parser.add_argument("--png")
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--preview", type=int, default=0, metavar="COLS")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(_main(args))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
