"""The audit log writer: one row per command, written in batches.

Commands append (time, command code, caller, error code) to an in-memory
queue; a background task writes the queue to the key store every
``interval`` seconds (or when it reaches ``batch`` rows), in one transaction,
so no command waits for SQLite.  ``flush()`` writes what is queued now (the
server calls it on shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from hsm_sim.keystore import AuditRow, Keystore


class AuditLog:
    def __init__(self, store: Keystore, interval: float = 0.2, batch: int = 5000) -> None:
        self.store = store
        self.interval = interval
        self.batch = batch
        self._queue: list[AuditRow] = []
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def record(self, command: str, caller: str, error: str) -> None:
        self._queue.append((time.time(), command, caller, error))
        if len(self._queue) >= self.batch:
            self._wake.set()

    def flush(self) -> None:
        rows, self._queue = self._queue, []
        if rows:
            self.store.add_audit(rows)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.flush()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            self.flush()
