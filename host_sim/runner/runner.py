"""Run a board: its emulators, then the firmware, then a clean shutdown.

``run(options)`` starts every emulator the board's data names (each on a free
loopback port), reports where they listen (``on_ready``), runs the firmware
under the MicroPython unix port with the board's heap, forwards its output,
and waits.  Whatever ends the run — the firmware exits or crashes,
``timeout`` passes, SIGINT or SIGTERM arrives — the firmware process is
stopped (SIGTERM, then SIGKILL) and every emulator closed before ``run``
returns.  The result is the firmware's exit code; ``EXIT_TIMEOUT`` (124)
after a timeout, 128 + the signal number after a signal.

Behind the board's acquirer link and secure element stands a ``Bank``
(bank.py): the HSM with the TEST keys imported, the acquirer host on a
seeded SQLite file in the run folder (``db_path`` keeps it elsewhere), and
the SE emulator with the terminal's DUKPT key.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boards
from host_sim.runner.bank import Bank
from host_sim.runner.emulators import Emulators, start_emulators
from host_sim.runner.firmware import Firmware, Writer, firmware_command
from tools.mpytest import REPO_ROOT

EXIT_TIMEOUT = 124
DEFAULT_APP = "firmware.demo"
DEFAULT_NFC_CARD = "visa_qvsdc"
DEFAULT_CONTACT_CARD = "contact_offline_pin"
RUNNABLE_PORTS = ("unix",)


@dataclass
class RunOptions:
    board: str = "sim"
    app: str = DEFAULT_APP
    app_args: tuple[str, ...] = ()
    nfc_cards: list[str] = field(default_factory=lambda: [DEFAULT_NFC_CARD])
    contact_card: str | None = DEFAULT_CONTACT_CARD
    contact_protocol: str | None = None
    nfc_timing: bool = False
    timeout: float | None = None
    firmware_path: Path = REPO_ROOT
    extra_path: tuple[Path, ...] = ()
    workdir: Path | None = None
    grace_s: float = 2.0
    handle_signals: bool = True
    bank: bool = True  # HSM + seeded host + SE; False: a bare host, i2c0 unconnected
    db_path: Path | None = None  # keep the host's database there (default: the run folder)
    se_state: Path | None = None  # the SE's state file (default: the run folder)
    heap: str | None = None  # -X heapsize (default: the board's memory.heap)
    # more buses wired to services the caller runs, e.g. {"net2": "127.0.0.1:8470"}
    endpoints: dict[str, str] = field(default_factory=dict)


def _default_out(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _default_err(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()


def board_config(name: str) -> dict[str, Any]:
    """The board's data, if it can run here (the unix port); ValueError otherwise."""
    cfg = boards.load(name)
    if cfg["port"] not in RUNNABLE_PORTS:
        raise ValueError(
            f"board {name} is a {cfg['port']} board: build and deploy it (payterm fw build/"
            "deploy); only unix-port boards run here"
        )
    return cfg


async def run_async(
    options: RunOptions,
    on_ready: Callable[[dict[str, Any]], None] | None = None,
    out: Writer = _default_out,
    err: Writer = _default_err,
    on_emulators: Callable[[Emulators], None] | None = None,
) -> int:
    """``on_ready(info)``: where everything listens, once the firmware is
    started; ``on_emulators(emus)``: the emulator objects themselves (for a
    test to look at what the firmware did to them)."""
    cfg = board_config(options.board)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    got_signal: list[int] = []

    def on_signal(signum: int) -> None:
        got_signal.append(signum)
        stop.set()

    installed: list[int] = []
    if options.handle_signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, on_signal, int(sig))
                installed.append(int(sig))
            except (RuntimeError, ValueError, NotImplementedError):
                pass  # not the main thread: the caller handles signals
    emus: Emulators | None = None
    firmware: Firmware | None = None
    bank: Bank | None = None
    with contextlib.ExitStack() as stack:
        workdir = options.workdir
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="payterm-fw-")))
        try:
            if options.bank:
                bank = await Bank.start(workdir, options.db_path, se_state=options.se_state)
            emus = await start_emulators(
                cfg,
                options.nfc_cards,
                options.contact_card,
                options.contact_protocol,
                options.nfc_timing,
                bank,
            )
            heap = options.heap or cfg["memory"]["heap"]
            cmd, env = firmware_command(
                options.app,
                heap,
                {**emus.endpoints, **options.endpoints},
                options.firmware_path,
                options.extra_path,
                options.app_args,
            )
            if on_emulators is not None:
                on_emulators(emus)
            firmware = Firmware(cmd, env, workdir, options.grace_s)
            await firmware.start(out, err)
            if on_ready is not None:
                on_ready(
                    {
                        "board": options.board,
                        "heap": heap,
                        "app": options.app,
                        "firmware": {"pid": firmware.pid, "cmd": cmd, "cwd": str(workdir)},
                        "micropypath": env["MICROPYPATH"],
                        "buses": emus.describe(),
                    }
                )
            return await _wait(firmware, stop, got_signal, options.timeout, err)
        finally:
            if firmware is not None:
                await firmware.stop()
            if emus is not None:
                await emus.close()
            if bank is not None:
                await bank.close()
            for signum in installed:
                loop.remove_signal_handler(signum)


async def _wait(
    firmware: Firmware,
    stop: asyncio.Event,
    got_signal: list[int],
    timeout: float | None,
    err: Writer,
) -> int:
    done_task = asyncio.ensure_future(firmware.wait())
    stop_task = asyncio.ensure_future(stop.wait())
    try:
        done, _ = await asyncio.wait(
            {done_task, stop_task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        stop_task.cancel()
    if done_task in done:
        code = done_task.result()
        return 128 - code if code < 0 else code  # killed by a signal: the shell's way
    done_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await done_task
    if got_signal:
        err(f"payterm fw run: {signal.Signals(got_signal[0]).name}: stopping the firmware\n")
        return 128 + got_signal[0]
    err(f"payterm fw run: the firmware did not finish in {timeout:g} s: stopped\n")
    return EXIT_TIMEOUT


def run(
    options: RunOptions,
    on_ready: Callable[[dict[str, Any]], None] | None = None,
    out: Writer = _default_out,
    err: Writer = _default_err,
    on_emulators: Callable[[Emulators], None] | None = None,
) -> int:
    return asyncio.run(run_async(options, on_ready, out, err, on_emulators))
