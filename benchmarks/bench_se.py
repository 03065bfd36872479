"""Secure-element throughput: SIGN, PIN_BLOCK and MAC round trips driven by
the firmware (``firmware.secure.SecureElementApp`` over the channel driver)
under the MicroPython unix port on the sim board, over the I2C-over-TCP bus
to the SE emulator (hsm_sim/se) on 127.0.0.1; and the emulator's own rate
(``Engine.execute``, no bus, no firmware) for comparison.

Every SIGN and every PIN_BLOCK writes the SE state file (fsynced) before it
answers, so the figures depend on the disk.  Usage:

    python benchmarks/bench_se.py [--count N] [--state-dir DIR]

prints one JSON object: per operation the count, the elapsed milliseconds
(board clock, ``ticks_ms``) and the rate per second.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import boards  # noqa: E402
from hsm_sim.crypto import dukpt_aes, tr31  # noqa: E402
from hsm_sim.se.engine import Engine  # noqa: E402
from hsm_sim.se.service import Background  # noqa: E402
from hsm_sim.se.testkeys import TEST_KBPK  # noqa: E402
from protocols import se_app  # noqa: E402
from tools import mpytest  # noqa: E402

BDK = bytes.fromhex("FEDCBA9876543210F1F1F1F1F1F1F1F1")
IKID = bytes.fromhex("1234567890123456")
PAN = "4761739001010010"

FIRMWARE = """
import json, time, boards
from firmware.drivers.se import SecureElement
from firmware.secure import SecureElementApp
board = boards.open_board("sim")
rtc = board.rtc()
se = SecureElementApp(SecureElement(board.bus_for("secure_element"),
                                    board.device("secure_element")["addr"], rtc))
se.generate_key()
se.load_dukpt(KEY_BLOCK)
out = {}
t0 = time.ticks_ms()
for i in range(COUNT):
    se.sign(bytes([i & 0xFF]) * 32)
out["sign"] = time.ticks_diff(time.ticks_ms(), t0)
t0 = time.ticks_ms()
for i in range(COUNT):
    se.pin_block(bytearray(b"1234"), PAN)
out["pin_block"] = time.ticks_diff(time.ticks_ms(), t0)
data = bytes(200)
t0 = time.ticks_ms()
for i in range(COUNT):
    se.mac(data)
out["mac"] = time.ticks_diff(time.ticks_ms(), t0)
print("OUT " + json.dumps(out))
board.deinit()
"""


def key_block() -> str:
    header = tr31.Header(
        key_usage="B1", algorithm="A", mode_of_use="X", blocks=[("IK", IKID.hex())]
    )
    return tr31.wrap(TEST_KBPK, header, dukpt_aes.initial_key(BDK, IKID))


def _rate(count: int, ms: float) -> dict[str, Any]:
    return {"count": count, "ms": round(ms, 1), "per_s": round(count * 1000 / max(ms, 0.001), 1)}


def firmware_run(count: int, state_dir: Path) -> dict[str, Any]:
    server = Background(Engine.open(state_dir / "fw-se.json"))
    try:
        script = state_dir / "bench_se_fw.py"
        head = f"COUNT = {count}\nKEY_BLOCK = {key_block()!r}\nPAN = {PAN!r}\n"
        script.write_text(head + FIRMWARE)
        env = dict(os.environ)
        env["MICROPYPATH"] = str(REPO_ROOT)
        env["PAYTERM_SIM_I2C0"] = f"127.0.0.1:{server.port}"
        heap = str(boards.load("sim")["memory"]["heap"])
        proc = subprocess.run(
            [mpytest.micropython_binary(), "-X", "heapsize=" + heap, str(script)],
            cwd=str(state_dir),
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        server.close()
    if proc.returncode != 0:
        raise RuntimeError(proc.stdout + proc.stderr)
    line = next(x for x in proc.stdout.splitlines() if x.startswith("OUT "))
    times = json.loads(line[4:])
    return {name: _rate(count, float(ms)) for name, ms in sorted(times.items())}


def engine_run(count: int, state_dir: Path) -> dict[str, Any]:
    engine = Engine.open(state_dir / "direct-se.json")
    engine.execute(se_app.CMD_GENERATE_KEY, b"\x00")
    t0 = time.perf_counter()
    for i in range(count):
        status, _ = engine.execute(se_app.CMD_SIGN, b"\x00\x00" + bytes([i & 0xFF]) * 32)
        if status:
            raise RuntimeError(f"SIGN status {status}")
    return {"sign": _rate(count, (time.perf_counter() - t0) * 1000)}


def run(count: int, state_dir: Path) -> dict[str, Any]:
    return {
        "micropython_over_sim_i2c": firmware_run(count, state_dir),
        "emulator_direct": engine_run(count, state_dir),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--state-dir", default=None, help="where the SE state files go")
    args = parser.parse_args()
    if args.state_dir:
        result = run(args.count, Path(args.state_dir))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            result = run(args.count, Path(tmp))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
