"""The contactless read of a virtual card over the emulated PN532, with link
timing at 115200 baud, driven by the firmware's PN532 driver under the
MicroPython unix port on the sim board.

The board runner (host_sim.runner) starts the sim board's emulators with the
PN532's link timing on (``Pn532Emulator(timing=True)``: every byte costs 10
bit times at 115200 baud, every RF frame its 106 kbps time plus the frame
delay times) and the card in its field, then runs a firmware script
(MicroPython, the board's 1M heap) that per repetition:

1. activates the card (InListPassiveTarget with RATS) — not timed;
2. times, with the board clock's ``ticks_ms``: SELECT PPSE, SELECT AID (the
   first in the PPSE), GET PROCESSING OPTIONS (PDOL filled from terminal
   data), READ RECORD of every record of the AFL;
3. releases the card and switches the field off (so it is found again).

Each repetition starts from the card's initial counters (its state is
restored when the poll of the next run arrives), so every run does the same
work; without that the qVSDC card would go online after its consecutive
offline limit, and its GPO answer would shrink from 225 bytes (TC with fDDA)
to 82 (ARQC).

The emulator is instrumented (its ``receive`` wrapped) to add up, per
repetition, the wire time its timing model charged for those APDU exchanges
(InDataExchange: the command's UART bytes, the ACK, the RF frames, the
response's UART bytes) and the CPU time it spent computing the answers (the
virtual card's cryptography included).  The split of the firmware's total:

    wire      = the timing model's charges
    emulator  = the emulator's own computing time (host CPU, not the terminal's)
    firmware  = total - wire - emulator: the driver, protocols.pn532 framing,
                the script's TLV work, and the loopback TCP hops

Usage: ``python -m benchmarks.bench_nfc_exchange [--card visa_qvsdc|mastercard_cda]
[--repeat N] [--json]``
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from host_sim.nfc.pn532_emulator import Output
from host_sim.runner import Emulators, RunOptions, run
from protocols import pn532 as frames

APP = """
import json
import boards
from firmware.drivers.pn532 import for_board
from protocols import apdu, tlv

REPEAT = %(repeat)d
TERMINAL = {
    0x9F66: bytes.fromhex("36004000"),      # TTQ: contactless EMV, online capable
    0x9F02: bytes.fromhex("000000012500"),  # 12.500 JOD
    0x9F03: bytes.fromhex("000000000000"),
    0x9F1A: bytes.fromhex("0400"),
    0x5F2A: bytes.fromhex("0400"),
    0x9A: bytes.fromhex("261122"),
    0x9C: bytes.fromhex("00"),
    0x9F37: bytes.fromhex("1A2B3C4D"),
    0x95: bytes(5),
}

board = boards.open_board("sim")
clock = board.rtc()
reader = for_board(board, clock)
reader.start()


def ok(r):
    if r[-2:] != b"\\x90\\x00":
        raise ValueError("SW %%s" %% r[-2:].hex())
    return tlv.decode(r[:-2])


for rep in range(REPEAT):
    card = reader.activate()
    steps = []
    t0 = clock.ticks_ms()
    t = t0

    def step(name, cmd):
        global t
        r = card.exchange_apdu(cmd)
        now = clock.ticks_ms()
        steps.append([name, clock.ticks_diff(now, t), len(cmd), len(r)])
        t = now
        return r

    ppse = ok(step("SELECT PPSE", apdu.select_by_name(b"2PAY.SYS.DDF01")))
    aid = tlv.find(ppse, 0x4F).value
    pdol = tlv.find(ok(step("SELECT AID", apdu.select_by_name(aid))), 0x9F38)
    data = tlv.build_dol_data(pdol.value, TERMINAL) if pdol else b""
    gpo = ok(step("GPO", apdu.get_processing_options(data)))[0]
    afl = gpo.value[2:] if gpo.tag == 0x80 else tlv.find(gpo.children, 0x94).value
    for i in range(0, len(afl), 4):
        for n in range(afl[i + 1], afl[i + 2] + 1):
            ok(step("READ RECORD %%d.%%d" %% (afl[i] >> 3, n), apdu.read_record(n, afl[i] >> 3)))
    total = clock.ticks_diff(clock.ticks_ms(), t0)
    reader.release()
    reader.rf_off()
    print("REP " + json.dumps({"rep": rep, "total_ms": total, "steps": steps}))
board.deinit()
"""


class Meter:
    """Per repetition (counted by InListPassiveTarget): the charges of the
    timing model and the emulator's CPU time for InDataExchange commands."""

    def __init__(self) -> None:
        self.wire_s: list[float] = []
        self.cpu_s: list[float] = []
        self.exchanges: list[int] = []
        self.step_wire_s: list[list[float]] = []

    def attach(self, emus: Emulators) -> None:
        emulator = emus.objects["uart1"].emulator
        original = emulator.receive
        present = emulator.field.cards()[0]
        card = getattr(present, "card", present)  # host_sim.cards.Card behind the type A identity
        fresh = card.state()

        def receive(data: bytes) -> list[Output]:
            before = len(emulator.commands)
            started = time.perf_counter()
            outputs: list[Output] = original(data)
            spent = time.perf_counter() - started
            new = emulator.commands[before:]
            if frames.IN_LIST_PASSIVE_TARGET in new:
                # every run from the profile's counters: the same work each time
                card.restore(fresh)
                self.wire_s.append(0.0)
                self.cpu_s.append(0.0)
                self.exchanges.append(0)
                self.step_wire_s.append([])
            elif frames.IN_DATA_EXCHANGE in new and self.wire_s:
                charged = sum(o.delay_s for o in outputs)
                self.wire_s[-1] += charged
                self.cpu_s[-1] += spent
                self.exchanges[-1] += 1
                self.step_wire_s[-1].append(charged)
            return outputs

        setattr(emulator, "receive", receive)  # noqa: B010 (instance instrumentation)


def measure(card: str, repeat: int) -> dict[str, Any]:
    meter = Meter()
    out: list[str] = []
    err: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "bench_nfc_app.py").write_text(APP % {"repeat": repeat})
        code = run(
            RunOptions(
                app="bench_nfc_app",
                extra_path=(Path(tmp),),
                nfc_cards=[card],
                nfc_timing=True,
                timeout=300,
                handle_signals=False,
            ),
            out=out.append,
            err=err.append,
            on_emulators=meter.attach,
        )
    if code != 0:
        raise RuntimeError(f"firmware exit {code}: {''.join(err)[-2000:]}")
    reps = [json.loads(line[4:]) for line in "".join(out).splitlines() if line.startswith("REP ")]
    rows = []
    per_run = zip(reps, meter.wire_s, meter.cpu_s, meter.exchanges, strict=True)
    for i, (rep, wire, cpu, n) in enumerate(per_run):
        total = float(rep["total_ms"])
        steps = rep["steps"]
        if n == len(steps):  # one InDataExchange per APDU (no chaining here)
            for step, charged in zip(steps, meter.step_wire_s[i], strict=True):
                step.append(round(charged * 1000, 2))
        wire_ms, cpu_ms = wire * 1000, cpu * 1000
        rows.append(
            {
                "total_ms": total,
                "wire_ms": round(wire_ms, 2),
                "emulator_ms": round(cpu_ms, 2),
                "firmware_ms": round(total - wire_ms - cpu_ms, 2),
                "exchanges": n,
                "steps": steps,
            }
        )
    return {
        "card": card,
        "repeat": repeat,
        "baud": 115200,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "runs": rows,
        "median": {
            key: statistics.median(r[key] for r in rows)
            for key in ("total_ms", "wire_ms", "emulator_ms", "firmware_ms")
        },
    }


def report(result: dict[str, Any]) -> str:
    lines = [
        f"card {result['card']}, PN532 HSU at {result['baud']} baud, {result['repeat']} runs",
        "run | total ms | wire ms | emulator ms | firmware ms | APDUs",
    ]
    for i, r in enumerate(result["runs"]):
        lines.append(
            f"{i + 1} | {r['total_ms']:.0f} | {r['wire_ms']:.1f} | {r['emulator_ms']:.1f} | "
            f"{r['firmware_ms']:.1f} | {r['exchanges']}"
        )
    m = result["median"]
    lines.append(
        f"median | {m['total_ms']:.0f} | {m['wire_ms']:.1f} | {m['emulator_ms']:.1f} | "
        f"{m['firmware_ms']:.1f} |"
    )
    lines.append("steps of the last run: ms measured by the firmware (wire ms), APDU bytes")
    for name, ms, sent, got, *wire in result["runs"][-1]["steps"]:
        charged = f" ({wire[0]:.1f} wire)" if wire else ""
        lines.append(f"  {name}: {ms} ms{charged}, {sent} -> {got} bytes")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--card", default="visa_qvsdc", choices=("visa_qvsdc", "mastercard_cda"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = measure(args.card, args.repeat)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
