"""Run the SE emulator until cancelled (``payterm se serve``)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable

from hsm_sim.se import bus
from hsm_sim.se.engine import Engine


async def serve(
    engine: Engine, host: str, port: int, ready: Callable[[str, int], None], addr: int
) -> None:
    server = await bus.start(engine, host, port, addr)
    sock_host, sock_port = server.sockets[0].getsockname()[:2]
    ready(str(sock_host), int(sock_port))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def run(
    engine: Engine, host: str, port: int, ready: Callable[[str, int], None], addr: int = 0x60
) -> None:
    asyncio.run(serve(engine, host, port, ready, addr))
