"""The emulated PN532 on a loopback TCP port: the bytes of the socket are the
bytes of the HSU line, as the sim board's UARTs expect (docs/boards.md).

One chip serves every connection; a new connection is a re-plugged cable
(the frame parser starts afresh, the chip keeps its state).  Whatever
arrives, the server keeps serving: the emulator never raises on input, and a
bug that made it raise would be logged and the connection kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from host_sim.background import BackgroundLoop, SessionServer
from host_sim.nfc.pn532_emulator import Output, Pn532Emulator

log = logging.getLogger("payterm.nfc")

READ_SIZE = 4096


class Pn532Server(SessionServer):
    name = "PN532 emulator"

    def __init__(self, emulator: Pn532Emulator, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.emulator = emulator
        self._writer: asyncio.StreamWriter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await super().start()
        self.emulator.field.add_listener(self._card_arrived)

    async def close(self) -> None:
        """Stop listening and hang up on every host still connected."""
        self.emulator.field.remove_listener(self._card_arrived)
        await super().close()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        peer = writer.get_extra_info("peername")
        log.info("host connected: %s", peer)
        with self.emulator.field.lock:
            self.emulator.parser.reset()
        try:
            while True:
                data = await reader.read(READ_SIZE)
                if not data:
                    break
                try:
                    outputs = self.emulator.receive(data)
                except Exception:  # the chip must outlive its own bugs
                    log.exception("emulator failed on %s", data.hex())
                    continue
                await self._send(writer, outputs)
        except (ConnectionError, OSError) as exc:
            log.info("host %s left: %s", peer, exc)
        except asyncio.CancelledError:
            pass  # close(): the server is going away; end this session quietly
        finally:
            writer.close()
        with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
            await writer.wait_closed()

    async def _send(self, writer: asyncio.StreamWriter, outputs: list[Output]) -> None:
        for output in outputs:
            if output.delay_s > 0:
                await asyncio.sleep(output.delay_s)
            writer.write(output.data)
            await writer.drain()

    def _card_arrived(self) -> None:
        # From whichever thread inserted the card: hop onto our loop.
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._answer_waiting_poll)

    def _answer_waiting_poll(self) -> None:
        writer = self._writer
        if writer is None or writer.is_closing():
            return
        outputs = self.emulator.poll_again()
        if outputs:
            task = asyncio.ensure_future(self._send_quietly(writer, outputs))
            self._sessions.add(task)
            task.add_done_callback(self._sessions.discard)

    async def _send_quietly(self, writer: asyncio.StreamWriter, outputs: list[Output]) -> None:
        with contextlib.suppress(ConnectionError, OSError, asyncio.CancelledError):
            await self._send(writer, outputs)


class BackgroundServer(BackgroundLoop[Pn532Server]):
    """The server on its own event loop in a thread (tests, the CLI's pty mode)::

    with BackgroundServer(Pn532Emulator(field)) as server:
        connect to (server.host, server.port)
    """

    def __init__(self, emulator: Pn532Emulator, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(Pn532Server(emulator, host, port), "pn532-emulator")

    @property
    def emulator(self) -> Pn532Emulator:
        return self.server.emulator
