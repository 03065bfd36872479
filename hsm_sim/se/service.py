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


class Background:
    """The SE on its own event loop in a daemon thread (tests, benchmarks,
    simulators that run the firmware beside it): ``.port``, ``.engine``,
    ``close()``."""

    def __init__(self, engine: Engine, host: str = "127.0.0.1", port: int = 0) -> None:
        import threading

        self.engine = engine
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        self._server: asyncio.Server | None = None
        self._error: BaseException | None = None

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                self._server = self.loop.run_until_complete(bus.start(engine, host, port))
            except BaseException as exc:  # reported to the constructor's caller
                self._error = exc
                started.set()
                return
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="payterm-se", daemon=True)
        self.thread.start()
        if not started.wait(10) or self._server is None:
            raise RuntimeError(f"SE server did not start: {self._error!r}")
        self.port: int = int(self._server.sockets[0].getsockname()[1])

    def close(self) -> None:
        if self.loop.is_closed():
            return
        server = self._server

        async def stop() -> None:
            if server is not None:
                server.close()
                await server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
