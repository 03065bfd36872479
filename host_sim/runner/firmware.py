"""The firmware as a MicroPython unix-port process.

``firmware_command`` builds the command line and environment: the board's
heap cap (``-X heapsize=``), ``-m APP``, MICROPYPATH = the firmware tree (the
repository's sources, or a folder built by ``tools/fwbuild.py``) and any extra
folders, and ``PAYTERM_SIM_<BUS>=host:port`` for each emulated bus.
``Firmware`` runs it with its output forwarded line by line, and stops it:
SIGTERM, then SIGKILL after ``grace_s``.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal
from collections.abc import Callable
from pathlib import Path

from tools.mpytest import REPO_ROOT, micropython_binary

Writer = Callable[[str], object]
READ_SIZE = 65536


def firmware_command(
    app: str,
    heap: str,
    endpoints: dict[str, str],
    firmware_path: Path = REPO_ROOT,
    extra_path: tuple[Path, ...] = (),
    app_args: tuple[str, ...] = (),
    base_env: dict[str, str] | None = None,
) -> tuple[list[str], dict[str, str]]:
    env = dict(os.environ if base_env is None else base_env)
    for key in [k for k in env if k.startswith("PAYTERM_SIM_") and k != "PAYTERM_SIM_CLOCK"]:
        del env[key]  # only the buses this run wires
    env["MICROPYPATH"] = os.pathsep.join(str(p) for p in (firmware_path, *extra_path))
    for bus, endpoint in endpoints.items():
        env["PAYTERM_SIM_" + bus.upper()] = endpoint
    cmd = [micropython_binary(), "-X", "heapsize=" + heap, "-m", app, *app_args]
    return cmd, env


class Firmware:
    def __init__(self, cmd: list[str], env: dict[str, str], cwd: Path, grace_s: float = 2.0):
        self.cmd = cmd
        self.env = env
        self.cwd = cwd
        self.grace_s = grace_s
        self.proc: asyncio.subprocess.Process | None = None
        self._pumps: list[asyncio.Task[None]] = []

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    async def start(self, out: Writer, err: Writer) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.cmd,
            cwd=str(self.cwd),
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self._pumps = [
            asyncio.ensure_future(_pump(self.proc.stdout, out)),
            asyncio.ensure_future(_pump(self.proc.stderr, err)),
        ]

    async def wait(self) -> int:
        assert self.proc is not None
        code = await self.proc.wait()
        await self._drain()
        return code

    async def stop(self) -> int | None:
        """Terminate (then kill) the process if it still runs; its exit code."""
        proc = self.proc
        if proc is None:
            return None
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), self.grace_s)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        await self._drain()
        return proc.returncode

    async def _drain(self) -> None:
        pumps, self._pumps = self._pumps, []
        if pumps:
            await asyncio.gather(*pumps, return_exceptions=True)


async def _pump(stream: asyncio.StreamReader, write: Writer) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    while True:
        chunk = await stream.read(READ_SIZE)
        write(decoder.decode(chunk, final=not chunk))
        if not chunk:
            return
