"""The contact-card reader emulator standing alone.

    python -m host_sim.cardreader [--card PROFILE | --empty] [--protocol T=0|T=1]
                                  [--host H] [--port P]

Prints where it listens as one JSON line on stdout, then serves until
SIGINT/SIGTERM (exit 0).  The default port is 7103, the sim board's uart3
endpoint.  Unknown profile or protocol: exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from host_sim.cardreader.server import CardReaderServer
from host_sim.cardreader.slot import CardSlot, choose_atr

DEFAULT_PORT = 7103


async def serve(slot: CardSlot, host: str, port: int, card: str | None) -> int:
    server = CardReaderServer(slot, host, port)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    atr = None
    if slot.card is not None:  # the ATR the slot presents (see CardSlot: protocol)
        atr = choose_atr(bytes(slot.card.atr), slot.protocol)[0].hex().upper()
    print(json.dumps({"host": server.host, "port": server.port, "card": card, "atr": atr}))
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        await server.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="contact-card reader emulator (sim uart3)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--card", default="contact_offline_pin", help="host_sim.cards profile")
    which.add_argument("--empty", action="store_true", help="no card in the slot")
    parser.add_argument("--protocol", choices=("T=0", "T=1"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    slot = CardSlot()
    if not args.empty:
        from host_sim.cards import ProfileError, load_profile, profile_names

        if args.card not in profile_names():
            print(f"no card profile {args.card!r}", file=sys.stderr)
            return 2
        try:
            slot.insert(load_profile(args.card), args.protocol)
        except (ProfileError, ValueError) as exc:
            print(str(exc), file=sys.stderr)
            return 2
    return asyncio.run(serve(slot, args.host, args.port, None if args.empty else args.card))


if __name__ == "__main__":
    sys.exit(main())
