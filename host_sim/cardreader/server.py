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

from host_sim.background import BackgroundLoop, SessionServer
from host_sim.cardreader.slot import CardSlot

log = logging.getLogger("payterm.cardreader")
READ_SIZE = 4096
IDLE_S = 0.05


class CardReaderServer(SessionServer):
    name = "card reader"

    def __init__(
        self, slot: CardSlot, host: str = "127.0.0.1", port: int = 0, idle_s: float = IDLE_S
    ) -> None:
        super().__init__(host, port)
        self.slot = slot
        self.idle_s = idle_s

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
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
