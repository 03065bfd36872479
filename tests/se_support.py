"""Test support for the SE emulator: the server in a thread on 127.0.0.1,
a CPython client speaking the sim board's I2C-over-TCP framing (written here
from docs/boards.md and docs/se.md, independent of the firmware driver), and
host-side DUKPT provisioning with the TEST KBPK."""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path

from hsm_sim.crypto import dukpt_aes, tr31
from hsm_sim.se import bus
from hsm_sim.se.engine import Engine
from hsm_sim.se.service import Background
from hsm_sim.se.testkeys import TEST_KBPK
from protocols import se_frame as sf

BDK = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")
IKID = bytes.fromhex("1234567890123456")


class SeServer(Background):
    """The emulator's asyncio server on its own loop in a thread."""

    def __init__(self, state: Path, personalise: str | None = "test") -> None:
        super().__init__(Engine.open(state, personalise, "PTSE-TEST-0001"))


class Wire:
    """One I2C bus on the TCP channel (docs/boards.md, I2C framing)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)

    def close(self) -> None:
        self.sock.close()

    def _recv(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise EOFError("SE closed the bus")
            data += chunk
        return data

    def op(
        self, op: int, addr: int, payload: bytes = b"", length: int | None = None
    ) -> tuple[int, bytes]:
        n = len(payload) if length is None else length
        self.sock.sendall(struct.pack(">BBBH", op, addr, 1, n) + payload)
        status, rn = struct.unpack(">BH", self._recv(3))
        body = self._recv(rn) if op != bus.OP_WRITE and status == bus.ST_ACK else b""
        return status, body

    def write(self, frame: bytes, addr: int = 0x60) -> int:
        return self.op(bus.OP_WRITE, addr, frame)[0]

    def read(self, n: int, addr: int = 0x60) -> bytes:
        status, body = self.op(bus.OP_READ, addr, length=n)
        assert status == bus.ST_ACK
        return body

    def response(self) -> tuple[int, bytes]:
        head = self.read(3)
        status, n = sf.decode_header(head)
        return status, sf.check_body(head, self.read(n + 2))

    def request(self, cmd: int, payload: bytes = b"") -> tuple[int, bytes]:
        assert self.write(sf.encode_request(cmd, payload)) == bus.ST_ACK
        return self.response()


def dukpt_block(ikid: bytes = IKID, bdk: bytes = BDK, kbpk: bytes = TEST_KBPK) -> str:
    """The TR-31 (version D, B1) block of the terminal's initial DUKPT key,
    as a TSM would send it."""
    return tr31.dukpt_initial_key_block(kbpk, dukpt_aes.initial_key(bdk, ikid), ikid)


def secret_hexes(*keys: bytes) -> list[str]:
    """Both hex spellings of each key, for 'never in clear' checks."""
    out = []
    for key in keys:
        out += [key.hex(), key.hex().upper()]
    return out


def read_all(path: Path) -> str:
    return path.read_bytes().decode("latin-1") if os.path.exists(path) else ""
