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
import logging
import threading
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0

log = logging.getLogger("payterm.emulators")


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


class SessionServer:
    """An asyncio stream server that counts and tracks its sessions, so
    ``close()`` stops listening and hangs up on every peer still connected.
    Subclasses implement ``_session(reader, writer)``; ``name`` is logged."""

    name = "server"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        sockname = self._server.sockets[0].getsockname()
        self.host, self.port = sockname[0], sockname[1]
        log.info("%s listening on %s:%d", self.name, self.host, self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        sessions = list(self._sessions)
        for task in sessions:
            task.cancel()
        await asyncio.gather(*sessions, return_exceptions=True)

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        if task is not None:
            self._sessions.add(task)
            task.add_done_callback(self._sessions.discard)
        await self._session(reader, writer)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError
