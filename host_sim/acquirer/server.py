"""The acquirer host's TCP front end.

Each connection carries frames of a 2-byte big-endian length and one ISO 8583
message (docs/iso8583.md).  The server answers every request it can read, even
a malformed one: a message whose MTI decodes but whose fields do not gets the
response MTI with field 39 = 30 (format error); an MTI the host does not serve
gets field 39 = 40 (function not supported).  A frame whose MTI cannot be read,
or a length above ``max_frame``, closes that connection only; the server
keeps serving everyone else.

Without a ``processor`` the host serves network management (0800) only; with
one (``host_sim.acquirer.processor.Processor`` over the database and the
HSM) it serves card payments too: 0100, 0200, 0220, 0400, 0420, 0500 and
their repeats.  Requests on one connection are answered in order; different
connections are served concurrently.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from host_sim.acquirer import network
from host_sim.acquirer.processor import SERVED, Processor
from protocols import iso8583
from protocols.errors import DecodeError
from protocols.iso8583_specs import PAYTERM_1987

log = logging.getLogger("payterm.acquirer")

Handler = Callable[[dict[str, str]], dict[str, str]]

DEFAULT_MAX_FRAME = 8192
READ_TIMEOUT_S = 300.0
SYSTEM_MALFUNCTION = "96"
JOURNAL_SIZE = 100_000  # exchanges kept in memory; the database keeps them all


@dataclass
class Exchange:
    """One request/response pair, as the host's journal keeps it (no PAN, no
    PIN block, no track data: only what operations staff need)."""

    peer: str
    mti: str
    stan: str
    terminal: str
    response_code: str
    at: float


@dataclass
class AcquirerHost:
    spec: dict[str, dict[str, object]] = field(default_factory=lambda: PAYTERM_1987)
    max_frame: int = DEFAULT_MAX_FRAME
    network_state: network.NetworkState = field(default_factory=network.NetworkState)
    journal: deque[Exchange] = field(default_factory=lambda: deque(maxlen=JOURNAL_SIZE))
    processor: Processor | None = None

    def handlers(self) -> dict[str, Handler]:
        return {"0800": lambda req: network.handle_0800(req, self.network_state)}

    def respond(self, message: bytes, peer: str = "-") -> bytes | None:
        """The framed-less response to one message, or None when the message
        is unreadable (its MTI cannot be decoded)."""
        mti = _read_mti(message, self.spec)
        if mti is None:
            return None
        response_mti = _response_mti(mti)
        try:
            request = iso8583.decode(message, self.spec)
        except DecodeError as exc:
            log.warning("format error from %s in %s: %s", peer, mti, exc)
            response = {"t": response_mti, "39": network.FORMAT_ERROR}
            self._record(peer, mti, {}, response)
            return iso8583.encode(response, self.spec)
        handler = self.handlers().get(mti)
        if handler is None:
            response = {"t": response_mti, "39": network.NOT_SUPPORTED}
            for number in ("11", "41"):
                if number in request:
                    response[number] = request[number]
        else:
            response = handler(request)
        self._record(peer, mti, request, response)
        return iso8583.encode(response, self.spec)

    async def respond_async(self, message: bytes, peer: str = "-") -> bytes | None:
        """As ``respond``, with the card-payment messages served by the
        processor (which awaits the HSM)."""
        if self.processor is None:
            return self.respond(message, peer)
        mti = _read_mti(message, self.spec)
        if mti == "0800" and self.processor.ctx.devices is not None:
            refused = await self._network_refused(message, peer)
            if refused is not None:
                return refused
        if mti not in SERVED:
            return self.respond(message, peer)
        try:
            request = iso8583.decode(message, self.spec)
        except DecodeError:
            return self.respond(message, peer)  # the format-error path
        try:
            wire = await self.processor.process(message, request)
        except Exception:
            # Outside the handlers (which answer 96 themselves): the database
            # failing on the terminal lookup, say.  Still answer.
            log.exception("system malfunction on %s from %s", mti, peer)
            response = {"t": _response_mti(mti), "39": SYSTEM_MALFUNCTION}
            for number in ("11", "41"):
                if number in request:
                    response[number] = request[number]
            wire = iso8583.encode(response, self.spec)
            self._record(peer, mti, request, response)
            return wire
        self._record_wire(peer, mti, request, wire)
        return wire

    async def _network_refused(self, message: bytes, peer: str) -> bytes | None:
        """An 0800 from a terminal whose device the TSM does not vouch for
        is answered with the gate's code (58, or 91 failing closed) and the
        terminal is not signed on; None: served as usual."""
        assert self.processor is not None and self.processor.ctx.devices is not None
        try:
            request = iso8583.decode(message, self.spec)
        except DecodeError:
            return None  # the format-error path
        terminal = self.processor.ctx.db.terminal(request.get("41", ""))
        if terminal is None:
            return None
        what = f"0800 {request.get('70', '')} stan {request.get('11', '')}"
        code = await self.processor.ctx.devices.refusal(terminal, what)
        if code is None:
            return None
        response = {"t": "0810", "39": code}
        for number in network.ECHOED_FIELDS:
            if number in request:
                response[number] = request[number]
        self.network_state.signed_on.discard(terminal.tid)
        self._record(peer, "0800", request, response)
        return iso8583.encode(response, self.spec)

    def _record_wire(self, peer: str, mti: str, request: dict[str, str], wire: bytes) -> None:
        self._record(peer, mti, request, {"39": getattr(wire, "code", "")})

    def _record(
        self, peer: str, mti: str, request: dict[str, str], response: dict[str, str]
    ) -> None:
        entry = Exchange(
            peer=peer,
            mti=mti,
            stan=request.get("11", ""),
            terminal=request.get("41", ""),
            response_code=response.get("39", ""),
            at=time.time(),
        )
        self.journal.append(entry)
        if log.isEnabledFor(logging.INFO):
            log.info(
                "%s %s stan=%s tid=%s -> %s",
                peer, mti, entry.stan, entry.terminal, entry.response_code,
            )  # fmt: skip

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
        loop = asyncio.get_running_loop()
        return await loop.create_server(lambda: IsoConnection(self), host, port)


class IsoConnection(asyncio.Protocol):
    """One terminal connection: frames in, answers out in request order.

    Frames are cut from the byte stream as they arrive; the messages of a
    connection are answered one after the other by one task (started when a
    message arrives on an idle connection), so a terminal's requests never
    overtake each other while different terminals are served concurrently.
    A bad length or an unreadable MTI closes this connection only; so does
    ``READ_TIMEOUT_S`` without a complete frame."""

    MAX_QUEUED = 64  # stop reading a peer that sends without reading answers

    def __init__(self, host: AcquirerHost) -> None:
        self.host = host
        self.transport: asyncio.Transport | None = None
        self.peer = "-"
        self.buffer = bytearray()
        self.queue: deque[bytes] = deque()
        self.busy = False
        self.closing = False
        self.last_frame = 0.0
        self.idle_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peername = transport.get_extra_info("peername")
        if peername:
            self.peer = f"{peername[0]}:{peername[1]}"
        loop = asyncio.get_running_loop()
        self.last_frame = loop.time()
        self.idle_timer = loop.call_later(READ_TIMEOUT_S, self._idle_check)

    def _idle_check(self) -> None:
        loop = asyncio.get_running_loop()
        idle = loop.time() - self.last_frame
        if idle >= READ_TIMEOUT_S and not self.busy:
            self._close()
        else:
            self.idle_timer = loop.call_later(max(READ_TIMEOUT_S - idle, 1.0), self._idle_check)

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        buf = self.buffer
        buf += data
        pos = 0
        size = len(buf)
        while size - pos >= iso8583.FRAME_HEADER_LEN:
            length = (buf[pos] << 8) | buf[pos + 1]
            if length == 0 or length > self.host.max_frame:
                log.warning("closing %s: frame length %d", self.peer, length)
                self._close()
                return
            end = pos + iso8583.FRAME_HEADER_LEN + length
            if end > size:
                break
            self.queue.append(bytes(buf[pos + iso8583.FRAME_HEADER_LEN : end]))
            pos = end
        if pos:
            del buf[:pos]
            self.last_frame = asyncio.get_running_loop().time()
        if self.queue and not self.busy:
            self.busy = True
            asyncio.get_running_loop().create_task(self._answer())
        if len(self.queue) > self.MAX_QUEUED and self.transport is not None:
            self.transport.pause_reading()

    async def _answer(self) -> None:
        try:
            while self.queue and not self.closing:
                message = self.queue.popleft()
                response = await self.host.respond_async(message, self.peer)
                if response is None:
                    log.warning("closing %s: unreadable message type", self.peer)
                    self._close()
                    return
                if self.transport is None or self.transport.is_closing():
                    return
                self.transport.write(iso8583.frame(response))
                if len(self.queue) <= self.MAX_QUEUED:
                    self.transport.resume_reading()
        finally:
            self.busy = False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.queue.clear()
        if self.idle_timer is not None:
            self.idle_timer.cancel()

    def _close(self) -> None:
        self.closing = True
        self.queue.clear()
        if self.transport is not None:
            self.transport.close()


def _read_mti(message: bytes, spec: dict[str, dict[str, object]]) -> str | None:
    """The message type as 4 digits, or None when the bytes are not one
    (2 bytes of BCD, or 4 ASCII digits, as the spec says)."""
    if spec["t"].get("data_enc") == "bcd":
        text = message[:2].hex() if len(message) >= 2 else ""
    else:
        text = message[:4].decode("ascii", "replace") if len(message) >= 4 else ""
    return text if len(text) == 4 and text.isdigit() else None


def _response_mti(mti: str) -> str:
    # Request MTIs have an even third digit (0, 2); the response adds 10.
    function = int(mti[2])
    return mti[:2] + str(function + 1 if function % 2 == 0 else function) + mti[3]
