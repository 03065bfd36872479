"""The board runner: every emulator the board data names, then the firmware
under the MicroPython unix port, wired together on loopback (docs/runner.md).

    from host_sim.runner import RunOptions, run
    code = run(RunOptions(board="sim", app="firmware.demo", timeout=60))
"""

from host_sim.runner.bank import Bank
from host_sim.runner.emulators import Emulators, start_emulators
from host_sim.runner.firmware import Firmware, firmware_command
from host_sim.runner.runner import EXIT_TIMEOUT, RunOptions, run, run_async

__all__ = [
    "EXIT_TIMEOUT",
    "Bank",
    "Emulators",
    "Firmware",
    "RunOptions",
    "firmware_command",
    "run",
    "run_async",
    "start_emulators",
]
