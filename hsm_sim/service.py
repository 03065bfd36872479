"""Running the HSM as a service: one process, or ``workers`` processes
sharing one listening socket (the kernel hands each new connection to one of
them), each with its own event loop and its own SQLite connection to the
same key store (WAL mode; the audit log is written in batches by each).

The LMK is loaded once, before the workers start, so a production LMK's
passphrase is asked for once and the workers inherit the unwrapped LMK in
memory.  SIGTERM or SIGINT stops every worker after it has flushed its audit
rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import Callable

from hsm_sim.keystore import Keystore
from hsm_sim.lmk import Lmk
from hsm_sim.server import DEFAULT_HEADER_LENGTH, DEFAULT_MAX_FRAME, HsmServer

Ready = Callable[[str, int], None]


class _Stop(Exception):
    """SIGTERM/SIGINT in the parent of several workers."""


def listen(host: str, port: int) -> socket.socket:
    sock = socket.create_server((host, port), backlog=1024)
    sock.setblocking(False)
    return sock


async def _worker(
    sock: socket.socket,
    lmk: Lmk,
    db: str,
    header_length: int,
    max_frame: int,
    disabled: tuple[str, ...],
    shared: bool,
    ready: Ready | None,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    store = Keystore(db, shared=shared)
    server = HsmServer(lmk, store, header_length, max_frame, disabled)
    try:
        await server.start(sock=sock)
        if ready is not None:
            host, port = server.address
            ready(host, port)
        await stop.wait()
    finally:
        await server.close()
        store.close()


def run(
    lmk: Lmk,
    db: str,
    host: str = "127.0.0.1",
    port: int = 0,
    workers: int = 1,
    header_length: int = DEFAULT_HEADER_LENGTH,
    max_frame: int = DEFAULT_MAX_FRAME,
    disabled: tuple[str, ...] = (),
    ready: Ready | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT; ``ready(host, port)`` once listening."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    if workers > 1 and db == ":memory:":
        raise ValueError("several workers need a key store file (--db), not :memory:")
    sock = listen(host, port)
    if workers == 1:
        asyncio.run(_worker(sock, lmk, db, header_length, max_frame, disabled, False, ready))
        return
    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 0
            try:
                asyncio.run(_worker(sock, lmk, db, header_length, max_frame, disabled, True, None))
            except BaseException:
                code = 1
            os._exit(code)
        children.append(pid)
    bound = sock.getsockname()

    def _stop(_sig: int, _frame: object) -> None:
        raise _Stop

    previous = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        if ready is not None:
            ready(str(bound[0]), int(bound[1]))
        while children:  # a worker that dies is not replaced: the others go on
            pid, _status = os.waitpid(-1, 0)
            if pid in children:
                children.remove(pid)
    except _Stop:
        pass
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for pid in children:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        for s, handler in previous.items():
            signal.signal(s, handler)
        sock.close()
