"""The virtual printer on a loopback TCP port: the socket's bytes are the
printer UART's bytes (docs/boards.md, the sim board's uart2).

One printer serves every connection, one connection at a time in practice
(asyncio runs them interleaved, and the printer is guarded by a lock so that
a test thread can look at it).  Answers to status requests go back on the
connection they came from.  ``on_receipt`` is called with each receipt as it
is cut.  Nothing on the wire makes the server stop: the printer never raises
on input, and an unexpected error is logged and the connection closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable

from host_sim.printer.page import Receipt
from host_sim.printer.printer import VirtualPrinter

log = logging.getLogger("payterm.printer")
READ_SIZE = 65536


class PrinterServer:
    def __init__(
        self,
        printer: VirtualPrinter,
        host: str = "127.0.0.1",
        port: int = 0,
        on_receipt: Callable[[Receipt], None] | None = None,
    ) -> None:
        self.printer = printer
        self.host = host
        self.port = port
        self.on_receipt = on_receipt
        self.connections = 0
        self.lock = threading.Lock()
        self._changed = threading.Condition(self.lock)
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        sockname = self._server.sockets[0].getsockname()
        self.host, self.port = sockname[0], sockname[1]
        log.info("virtual printer listening on %s:%d", self.host, self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                data = await reader.read(READ_SIZE)
                if not data:
                    break
                with self._changed:
                    before = len(self.printer.receipts)
                    answer = self.printer.feed(data)
                    cut = self.printer.receipts[before:]
                    self._changed.notify_all()
                if answer:
                    writer.write(answer)
                    await writer.drain()
                for receipt in cut:
                    if self.on_receipt is not None:
                        self.on_receipt(receipt)
        except (ConnectionError, OSError) as exc:
            log.info("connection lost: %s", exc)
        except Exception:  # a bug must not take the emulator down
            log.exception("virtual printer failed on input; connection closed")
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    # -- in a background thread (tests, the sim runner) ---------------------------
    def start_in_thread(self) -> PrinterServer:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            loop.run_until_complete(self.start())
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.close())
                loop.close()

        self._thread = threading.Thread(target=run, name="virtual-printer", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("virtual printer did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._loop = None
            self._thread = None

    def wait_receipts(self, count: int, timeout: float = 10.0) -> list[Receipt]:
        """Block until at least `count` receipts were cut (or the timeout)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.printer.receipts) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            return list(self.printer.receipts)

    def __enter__(self) -> PrinterServer:
        return self.start_in_thread()

    def __exit__(self, *exc: object) -> None:
        self.stop()
