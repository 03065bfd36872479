"""The SE on the sim board's I2C-over-TCP bus (boards/sim/i2c.py, docs/boards.md).

Each TCP connection is one I2C bus with the secure element at ``addr``
(0x60).  Operations, integers big-endian:

    request : op u8 | addr u8 | flags u8 | length u16 | payload (writes only)
    response: status u8 | length u16 | payload (reads and scans only)

A write to the SE is one request frame (docs/se.md): the engine answers it
at once and the response is held with a read pointer.  A 3-byte read starts
the response from the top once the whole response has been read (any other
read continues where the last stopped); reads are padded with FF past its
end.  RESEND rewinds without running anything.
Before any request a read answers NO_RESPONSE.  Other addresses NACK; an
unknown op gets a bus error and the connection is closed (its length field
cannot be trusted).
"""

from __future__ import annotations

import asyncio
import logging
import struct

from hsm_sim.se.engine import Engine
from protocols import se_frame as sf
from protocols.errors import DecodeError

log = logging.getLogger("hsm_sim.se.bus")

OP_WRITE = 0x57
OP_READ = 0x52
OP_SCAN = 0x53
ST_ACK = 0
ST_NACK = 1
ST_BUS_ERROR = 2
DEFAULT_ADDR = 0x60
NO_RESPONSE = sf.encode_response(sf.ST_NO_RESPONSE)


class Target:
    """One bus's view of the SE: the held response and its read pointer."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.response = NO_RESPONSE
        self.pointer = 0

    def write(self, data: bytes) -> None:
        if not data:
            return  # an address probe
        try:
            cmd = sf.decode(data)[0]
        except DecodeError:
            cmd = -1
        if cmd != sf.CMD_RESEND:
            self.response = self.engine.handle(data)
        self.pointer = 0

    def read(self, n: int) -> bytes:
        # A 3-byte read after the whole response starts it again from the top
        # (docs/se.md); right after the header it is the body of a response
        # with a 1-byte payload (RANDOM of 1, DATA_UNWRAP of 1 byte).
        if n == sf.HEADER and self.pointer >= len(self.response):
            self.pointer = 0
        out = self.response[self.pointer : self.pointer + n]
        self.pointer += n
        return out + b"\xff" * (n - len(out))


async def serve_connection(
    engine: Engine, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, addr: int
) -> None:
    target = Target(engine)
    try:
        while True:
            try:
                head = await reader.readexactly(5)
            except asyncio.IncompleteReadError:
                return
            op, dev, _flags, length = struct.unpack(">BBBH", head)
            if op == OP_WRITE:
                data = await reader.readexactly(length)
                if dev != addr:
                    writer.write(bytes((ST_NACK, 0, 0)))
                else:
                    target.write(data)
                    writer.write(bytes((ST_ACK,)) + struct.pack(">H", length))
            elif op == OP_READ:
                if dev != addr:
                    writer.write(bytes((ST_NACK, 0, 0)))
                else:
                    writer.write(bytes((ST_ACK,)) + struct.pack(">H", length) + target.read(length))
            elif op == OP_SCAN:
                writer.write(bytes((ST_ACK, 0, 1, addr)))
            else:
                log.info("unknown I2C op %02X: closing the bus", op)
                writer.write(bytes((ST_BUS_ERROR, 0, 0)))
                await writer.drain()
                return
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


async def start(
    engine: Engine, host: str = "127.0.0.1", port: int = 0, addr: int = DEFAULT_ADDR
) -> asyncio.Server:
    """Listen; every connection is a bus with the SE at ``addr``."""

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_connection(engine, reader, writer, addr)

    return await asyncio.start_server(on_connect, host, port)
