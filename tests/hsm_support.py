"""Helpers for the HSM tests: a server on 127.0.0.1 in a thread of its own
(real TCP, real SQLite), and key blocks built independently of the server
with the published test LMK."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from hsm_sim import lmk as lmk_mod
from hsm_sim.crypto import keys, tr31
from hsm_sim.keystore import Keystore
from hsm_sim.server import HsmServer
from hsm_sim.testkeys import block_under_test_lmk

TEST_LMK = bytes.fromhex(lmk_mod.TEST_LMK_HEX)


# ``S`` + a version D key block under the test LMK (usage, key, algorithm,
# mode, export, version), as the HSM's own test-key import makes it
lmk_block = block_under_test_lmk


def unwrap_lmk(block: str) -> tuple[tr31.Header, bytes]:
    assert block.startswith("S")
    return tr31.unwrap(TEST_LMK, block[1:])


def tdes_key(seed: int, length: int = 16) -> bytes:
    raw = bytes((seed * 37 + i * 11) & 0xFF for i in range(length))
    return keys.adjust_parity(raw)


@dataclass
class RunningHsm:
    server: HsmServer
    host: str
    port: int
    loop: asyncio.AbstractEventLoop

    def flush_audit(self) -> None:
        asyncio.run_coroutine_threadsafe(_flush(self.server), self.loop).result(5)


async def _flush(server: HsmServer) -> None:
    server.audit.flush()


@contextlib.contextmanager
def running_hsm(
    db: str | Path = ":memory:",
    passphrase: str | None = None,
    header_length: int = 4,
    max_frame: int = 32768,
    disabled: tuple[str, ...] = (),
) -> Iterator[RunningHsm]:
    store = Keystore(db)
    lmk = lmk_mod.load(store, passphrase)
    server = HsmServer(lmk, store, header_length, max_frame, disabled)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start("127.0.0.1", 0), loop).result(5)
    host, port = server.address
    try:
        yield RunningHsm(server, host, port, loop)
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
        store.close()


def raw_exchange(sock: socket.socket, body: bytes) -> bytes:
    sock.sendall(len(body).to_bytes(2, "big") + body)
    return read_frame(sock)


def read_frame(sock: socket.socket) -> bytes:
    head = recv_exactly(sock, 2)
    return recv_exactly(sock, int.from_bytes(head, "big"))


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return bytes(data)
