"""Display, keypad and status endpoint of the sim board (asyncio TCP server).

Speaks the sim board's channel framing (docs/boards.md, boards/sim/channel.py):
``length u32 BE | type u8 | payload``, a hello ``H`` with JSON first.  One
endpoint serves all three channels, on one port or several (the board's
defaults are 7105 display, 7106 keypad, 7107 status); the hello says which.

- display: ``P`` rectangles are painted into the framebuffer (and the PNG is
  rewritten after each one when ``png_path`` is set); ``B`` sets the
  backlight level;
- keypad: ``press(key)`` sends ``K`` with the key name to the connected
  keypad channel(s);
- status: ``Z`` (buzzer) and ``L`` (LED) are logged.

Bad input never stops the endpoint: a message whose length is out of range,
a missing or unreadable hello close that connection only; a rectangle that
does not fit, an unknown type or a short payload is counted in ``errors`` and
skipped, and the connection goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from host_sim.display.framebuffer import FORMATS, FrameBuffer, RectError

log = logging.getLogger("payterm.display")

MAX_MESSAGE = 4 * 1024 * 1024
MAX_ERRORS = 100
T = TypeVar("T")


class PanelEndpoint:
    def __init__(self, png_path: str | None = None, png_scale: int = 1) -> None:
        self.png_path = png_path
        self.png_scale = png_scale
        self.frame: FrameBuffer | None = None
        self.display_hello: dict[str, Any] | None = None
        self.keys: list[str] = []
        self.backlight: int | None = None
        self.rects = 0
        self.last_rect: tuple[int, int, int, int] | None = None
        self.errors: list[str] = []
        self.status_log: list[tuple[Any, ...]] = []
        self.connections = 0
        self.on_frame: Callable[[FrameBuffer], None] | None = None
        self._keypads: list[asyncio.StreamWriter] = []
        self._servers: list[asyncio.base_events.Server] = []
        self._changed: asyncio.Condition | None = None

    # -- serving ---------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", ports: tuple[int, ...] = (0,)) -> list[int]:
        """Listen on each port (0 = any free one); returns the ports bound."""
        self._changed = asyncio.Condition()
        bound = []
        for port in ports:
            server = await asyncio.start_server(self._serve, host, port)
            self._servers.append(server)
            bound.append(server.sockets[0].getsockname()[1])
        return bound

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for writer in list(self._keypads):
            writer.close()
        for server in self._servers:
            await server.wait_closed()
        self._servers = []

    def _error(self, text: str) -> None:
        log.warning("%s", text)
        self.errors.append(text)
        del self.errors[:-MAX_ERRORS]

    async def _notify(self) -> None:
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()

    async def _read(self, reader: asyncio.StreamReader) -> tuple[int, bytes] | None:
        try:
            head = await reader.readexactly(4)
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        (n,) = struct.unpack(">I", head)
        if not 1 <= n <= MAX_MESSAGE:
            self._error(f"message length {n} out of range: connection closed")
            return None
        try:
            body = await reader.readexactly(n)
        except (asyncio.IncompleteReadError, ConnectionError):
            self._error("connection closed inside a message")
            return None
        return body[0], body[1:]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        channel = None
        try:
            first = await self._read(reader)
            if first is None:
                return
            mtype, payload = first
            hello = self._hello(mtype, payload)
            if hello is None:
                return
            channel = hello["channel"]
            if channel == "keypad":
                self._keypads.append(writer)
                await self._notify()
            while True:
                msg = await self._read(reader)
                if msg is None:
                    return
                await self._message(channel, msg[0], msg[1])
        finally:
            if writer in self._keypads:
                self._keypads.remove(writer)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _hello(self, mtype: int, payload: bytes) -> dict[str, Any] | None:
        if mtype != 0x48:
            self._error(f"first message of type {mtype:#04x}, not a hello: connection closed")
            return None
        try:
            hello = json.loads(payload.decode())
        except (UnicodeError, ValueError):
            self._error("hello is not JSON: connection closed")
            return None
        if not isinstance(hello, dict) or hello.get("channel") not in (
            "display",
            "keypad",
            "status",
        ):
            self._error("hello names no known channel: connection closed")
            return None
        if hello["channel"] == "display":
            try:
                self.frame = FrameBuffer(int(hello["width"]), int(hello["height"]), hello["format"])
            except (KeyError, TypeError, ValueError) as exc:
                self._error(f"display hello unusable ({exc}): connection closed")
                return None
            self.display_hello = hello
        elif hello["channel"] == "keypad":
            keys = hello.get("keys")
            self.keys = [k for k in keys if isinstance(k, str)] if isinstance(keys, list) else []
        return hello

    async def _message(self, channel: str, mtype: int, payload: bytes) -> None:
        if channel == "display" and mtype == 0x50:
            if len(payload) < 8 or self.frame is None:
                self._error("rectangle message too short")
                return
            x, y, w, h = struct.unpack(">HHHH", payload[:8])
            try:
                self.frame.apply(x, y, w, h, payload[8:])
            except RectError as exc:
                self._error(str(exc))
                return
            self.rects += 1
            self.last_rect = (x, y, w, h)
            if self.png_path:
                self.frame.save_png(self.png_path, self.png_scale)
            if self.on_frame is not None:
                self.on_frame(self.frame)
            await self._notify()
        elif channel == "display" and mtype == 0x42 and len(payload) == 1:
            self.backlight = payload[0]
            await self._notify()
        elif channel == "status" and mtype == 0x5A and len(payload) == 4:
            self.status_log.append(("buzzer", *struct.unpack(">HH", payload)))
        elif channel == "status" and mtype == 0x4C and len(payload) >= 2:
            self.status_log.append(("led", payload[1:].decode("ascii", "replace"), payload[0] == 1))
        else:
            self._error(f"{channel}: message type {mtype:#04x} of {len(payload)} bytes skipped")
        del self.status_log[:-64]

    # -- keys and waiting ------------------------------------------------------------
    async def press(self, key: str) -> int:
        """Send one key press to every connected keypad; returns how many."""
        if self.keys and key not in self.keys:
            raise ValueError(f"no key {key!r} on this keypad ({', '.join(self.keys)})")
        data = key.encode("ascii")
        msg = struct.pack(">IB", len(data) + 1, 0x4B) + data
        for writer in list(self._keypads):
            writer.write(msg)
            await writer.drain()
        return len(self._keypads)

    async def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        assert self._changed is not None
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(predicate), timeout)
            except TimeoutError:
                return predicate()
        return True

    def keypad_connected(self) -> bool:
        return bool(self._keypads)


class EndpointThread:
    """A PanelEndpoint on its own event loop in a daemon thread, with blocking
    methods: for tests, the board runner and the Textual app."""

    def __init__(self, endpoint: PanelEndpoint | None = None) -> None:
        self.endpoint = endpoint or PanelEndpoint()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.ports: list[int] = []

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self, host: str = "127.0.0.1", ports: tuple[int, ...] = (0,)) -> list[int]:
        self.thread.start()
        self.ports = self._call(self.endpoint.start(host, ports))
        return self.ports

    def press(self, key: str) -> int:
        return self._call(self.endpoint.press(key))

    def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        return self._call(self.endpoint.wait_until(predicate, timeout), timeout + 5)

    def stop(self) -> None:
        if self.thread.is_alive():
            self._call(self.endpoint.close())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
        self.loop.close()


__all__ = ["FORMATS", "MAX_MESSAGE", "EndpointThread", "PanelEndpoint"]
