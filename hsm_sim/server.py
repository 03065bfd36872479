"""The HSM's TCP front end: payShield-style host command framing.

A frame is a 2-byte big-endian length, then the message: a header of
``header_length`` characters (echoed back unchanged), the two-character
command code and the command's fields.  The response is the header, the
response code (the command code with its second character advanced: NC → ND,
A0 → A1, KQ → KR), a two-digit error code and the response fields.

Every frame whose length is within ``max_frame`` gets a well-formed answer:
a message too short to hold the header and a command code, or a command
code that is not two printable alphanumerics, gets response code ``ZZ`` and
error 15; an unknown command gets error 67 (not licensed / not implemented),
a disabled one 68; bad fields, bad key blocks, wrong parity or key usage get
their error codes (docs/hsm.md).  A length of 0 or above ``max_frame`` closes
that connection only.  One audit row per answered frame (command code,
caller, error code, time); logs carry the same and never a field.

The server is an ``asyncio.Protocol``: commands are CPU-bound and run
synchronously as frames arrive (several frames in one read are answered in
order), so a connection costs no task and no stream objects.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

from hsm_sim import errors as errs
from hsm_sim.audit import AuditLog
from hsm_sim.commands import COMMANDS, Context, Reader
from hsm_sim.errors import HsmError
from hsm_sim.keystore import Keystore
from hsm_sim.lmk import Lmk

log = logging.getLogger("payterm.hsm")

DEFAULT_HEADER_LENGTH = 4
DEFAULT_MAX_FRAME = 32768
INVALID_CODE = "ZZ"
MAX_RESPONSE = 0xFFFF


def response_code(code: str) -> str:
    """The command code with its second character advanced (A0 → A1, NC → ND)."""
    last = code[1]
    if last in "9Zz":
        return INVALID_CODE
    return code[0] + chr(ord(last) + 1)


class HsmServer:
    def __init__(
        self,
        lmk: Lmk,
        store: Keystore,
        header_length: int = DEFAULT_HEADER_LENGTH,
        max_frame: int = DEFAULT_MAX_FRAME,
        disabled: tuple[str, ...] = (),
    ) -> None:
        if not 0 <= header_length <= 255:
            raise ValueError("header length must be 0 to 255")
        self.lmk = lmk
        self.store = store
        self.header_length = header_length
        self.max_frame = max_frame
        self.disabled = frozenset(disabled)
        self.context = Context(lmk, store)
        self.audit = AuditLog(store)
        self._server: asyncio.Server | None = None

    # -- one message ------------------------------------------------------------

    def respond(self, message: bytes, caller: str = "-") -> bytes:
        hl = self.header_length
        header = message[:hl]
        if len(message) < hl + 2:
            self._finish("??", caller, errs.INVALID_INPUT)
            return header.ljust(hl, b" ") + (INVALID_CODE + errs.INVALID_INPUT).encode()
        code = message[hl : hl + 2].decode("latin-1")
        if not (code.isascii() and code.isalnum()):
            self._finish("??", caller, errs.INVALID_INPUT)
            return header + (INVALID_CODE + errs.INVALID_INPUT).encode()
        handler = COMMANDS.get(code)
        out = ""
        if code in self.disabled:
            error = errs.DISABLED
        elif handler is None:
            error = errs.NOT_LICENSED
        else:
            try:
                out = handler(
                    self.context, Reader(message[hl + 2 :].decode("latin-1"), self.context)
                )
                error = errs.OK
            except HsmError as exc:
                error = exc.code
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("%s from %s: error %s (%s)", code, caller, error, exc.reason)
            except Exception as exc:  # an HSM answers even its own bugs
                error = errs.INTERNAL_ERROR
                log.error("%s from %s: internal error %s", code, caller, type(exc).__name__)
        if len(header) + 4 + len(out) > MAX_RESPONSE:
            error, out = errs.INVALID_INPUT, ""  # the answer would not fit a 2-byte length
        self._finish(code, caller, error)
        return header + (response_code(code) + error + out).encode("latin-1")

    def _finish(self, code: str, caller: str, error: str) -> None:
        self.audit.record(code, caller, error)
        if log.isEnabledFor(logging.INFO):
            log.info("%s %s -> %s", caller, code, error)

    # -- serving ----------------------------------------------------------------------

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, sock: socket.socket | None = None
    ) -> asyncio.Server:
        """Listen on ``host``:``port``, or on an already bound ``sock``."""
        loop = asyncio.get_running_loop()
        self.audit.start()
        if sock is not None:
            self._server = await loop.create_server(lambda: _Connection(self), sock=sock)
        else:
            self._server = await loop.create_server(lambda: _Connection(self), host, port)
        return self._server

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError("server not started")
        sock = self._server.sockets[0].getsockname()
        return str(sock[0]), int(sock[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        await self.audit.stop()


class _Connection(asyncio.Protocol):
    def __init__(self, server: HsmServer) -> None:
        self.server = server
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.caller = "-"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer: Any = transport.get_extra_info("peername")
        if peer:
            self.caller = f"{peer[0]}:{peer[1]}"

    def data_received(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        buf = self.buffer
        buf += data
        out: list[bytes] = []
        pos = 0
        max_frame = self.server.max_frame
        while len(buf) - pos >= 2:
            length = (buf[pos] << 8) | buf[pos + 1]
            if length == 0 or length > max_frame:
                log.warning("closing %s: frame length %d", self.caller, length)
                if out:
                    transport.write(b"".join(out))
                transport.close()
                buf.clear()
                return
            if len(buf) - pos - 2 < length:
                break
            message = bytes(buf[pos + 2 : pos + 2 + length])
            pos += 2 + length
            reply = self.server.respond(message, self.caller)
            out.append(len(reply).to_bytes(2, "big") + reply)
        if pos:
            del buf[:pos]
        if out:
            transport.write(b"".join(out))

    def pause_writing(self) -> None:
        # A client that sends without reading: stop reading its requests.
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.transport is not None:
            self.transport.resume_reading()
