"""The card slot on a loopback TCP port: the socket's bytes are the card's I/O
line as the sim board's uart3 carries it (docs/boards.md).

One slot serves every connection; a new connection is a re-plugged reader
cable (whatever was half received is dropped; the card keeps its power and
state).  When the reader goes quiet in the middle of a header or block for
``idle_s`` (the character waiting time), the slot is told (``CardSlot.idle``).
Nothing on the wire stops the server: a defect on some input is logged and
the connection kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from host_sim.background import BackgroundLoop
from host_sim.cardreader.slot import CardSlot

log = logging.getLogger("payterm.cardreader")
READ_SIZE = 4096
IDLE_S = 0.05


class CardReaderServer:
    def __init__(
        self, slot: CardSlot, host: str = "127.0.0.1", port: int = 0, idle_s: float = IDLE_S
    ) -> None:
        self.slot = slot
        self.host = host
        self.port = port
        self.idle_s = idle_s
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task[None]] = set()

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        sockname = self._server.sockets[0].getsockname()
        self.host, self.port = sockname[0], sockname[1]
        log.info("card reader listening on %s:%d", self.host, self.port)

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
        self.slot.reset_line()
        try:
            while True:
                wait = self.idle_s if self.slot.has_partial() else None
                try:
                    data = await asyncio.wait_for(reader.read(READ_SIZE), wait)
                except TimeoutError:
                    await self._answer(writer, None)
                    continue
                if not data:
                    break
                await self._answer(writer, data)
        except (ConnectionError, OSError) as exc:
            log.info("reader left: %s", exc)
        except asyncio.CancelledError:
            pass  # close(): the server is going away
        finally:
            writer.close()
        with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
            await writer.wait_closed()

    async def _answer(self, writer: asyncio.StreamWriter, data: bytes | None) -> None:
        """Feed ``data`` to the slot (None: the line went quiet); send its answer."""
        try:
            out = self.slot.idle() if data is None else self.slot.receive(data)
        except Exception:  # the card must outlive its own bugs
            log.exception("card slot failed")
            return
        if out:
            writer.write(out)
            await writer.drain()


class BackgroundCardReader(BackgroundLoop[CardReaderServer]):
    """The server on its own event loop in a thread (tests, the runner)::

    with BackgroundCardReader(CardSlot(card)) as server:
        connect to (server.host, server.port)
    """

    def __init__(self, slot: CardSlot, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(CardReaderServer(slot, host, port), "card-reader")

    @property
    def slot(self) -> CardSlot:
        return self.server.slot
