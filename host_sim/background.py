"""Run an asyncio emulator server on its own event loop in a thread.

Tests, the board runner and the command line need an emulator that serves
while the calling thread does something else (runs MicroPython, drives
nfcpy through a pty).  Any server with ``async start()``, ``async close()``
and ``host``/``port`` attributes (set once it listens) can be run this way::

    with BackgroundLoop(server, "pn532-emulator") as bg:
        connect to (bg.host, bg.port)
"""

from __future__ import annotations

import asyncio
import threading
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


class LoopServer(Protocol):
    host: str
    port: int

    async def start(self) -> None: ...

    async def close(self) -> None: ...


S = TypeVar("S", bound=LoopServer)


class BackgroundLoop(Generic[S]):
    def __init__(self, server: S, thread_name: str) -> None:
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)
        self._started = threading.Event()
        self._error: BaseException | None = None

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self.server.start())
        except BaseException as exc:  # handed to start() in the caller's thread
            self._error = exc
            self._started.set()
            return
        self._started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self.server.close())
        self._loop.close()

    def start(self) -> Self:
        self._thread.start()
        self._started.wait(START_TIMEOUT_S)
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(STOP_TIMEOUT_S)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
