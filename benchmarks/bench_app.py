"""Card payments by the terminal application (firmware.app) under the
MicroPython unix port on the sim board, through the board runner with its
bank (HSM with the TEST keys, HSM-backed acquirer host on SQLite, SE).

1. **Card-in-field time per kernel**, link timing on (``--timing``: the
   PN532 emulator charges every UART byte at 115200 baud and every RF frame
   at 106 kbps with its frame delay times, docs/nfc.md "Timing").  The card
   sits in the field; each step of the session is one sale.  The PN532
   emulator is instrumented (its ``receive`` wrapped) and the window of a
   transaction runs from the InListPassiveTarget that finds the card to the
   InRelease that lets it go (the online leg of an online request comes
   after: the card is not needed for it).  Inside the window:

       wire      = the timing model's charges (the sleeps before each answer)
       emulator  = the emulator's CPU time (the virtual card's cryptography)
       firmware  = total - wire - emulator: the kernel (ODA's RSA included),
                   the driver, framing and the loopback hops

   The contact interface has no timing model (docs/runner.md, not done):
   its window runs from the card's first APDU to its last (the online leg
   between the two GENERATE ACs is inside: the card stays in the slot),
   measured at the virtual card; ``wire_9600_ms`` is *computed* — the APDU
   bytes plus 4 bytes of T=1 framing per block, each way, at 12 etu per
   character and 9600 bit/s (3.5712 MHz, F = 372, D = 1) — and is not part
   of the measured total.

2. **Peak heap per transaction type**: the smallest ``-X heapsize`` (KiB)
   with which a fresh firmware run of that single transaction completes
   with the expected response, for the firmware from source (the unix port
   compiles it into the heap) and from the ``payterm fw build`` tree
   (``.mpy``: no compiler, but the bytecode is still loaded into the heap);
   bisected, then every size from it up to +64 KiB in 4 KiB steps checked
   (near the limit success need not be monotonic).  The smallest board's
   cap (``stm32f4_ecr``, memory.heap) is tried as it is.

Usage: ``python -m benchmarks.bench_app [--repeat N] [--no-field] [--no-heap]
[--json]``
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boards
from host_sim.acquirer import seed
from host_sim.nfc.pn532_emulator import Output
from host_sim.runner import Emulators, RunOptions, run
from protocols import pn532 as frames
from tools.mpytest import REPO_ROOT

CONTACT_BAUD = 9600
ETU_PER_CHAR = 12
T1_FRAMING = 4  # NAD, PCB, LEN, LRC
HEAP_TOP_KIB = 1024
SMALLEST_BOARD = "stm32f4_ecr"

KERNELS = {
    "visa_qvsdc": ("tap", {"op": "sale", "amount": 30000, "card": "tap"}),
    "mastercard_cda": ("tap", {"op": "sale", "amount": 30000, "card": "tap"}),
    "contact_offline_pin": (
        "insert",
        {"op": "sale", "amount": 60000, "card": "insert", "pins": ["1234"]},
    ),
}

# transaction type -> (nfc card, contact card, steps, expected RESULT codes)
HEAP_CASES: dict[str, tuple[str | None, str | None, list[dict[str, Any]], list[str]]] = {
    "boot, sign-on (baseline)": (None, None, [{"op": "sign_on"}], ["00"]),
    "contactless Visa-like, online": ("visa_qvsdc", None, [KERNELS["visa_qvsdc"][1]], ["00"]),
    "contactless Mastercard-like, CDA, online": (
        "mastercard_cda",
        None,
        [KERNELS["mastercard_cda"][1]],
        ["00"],
    ),
    "contact, offline PIN, online": (
        None,
        "contact_offline_pin",
        [KERNELS["contact_offline_pin"][1]],
        ["00"],
    ),
    "contact, online PIN from the SE": (
        None,
        "contact_online_pin",
        [{"op": "sale", "amount": 30000, "card": "insert", "pins": ["1234"]}],
        ["00"],
    ),
    "refund by tap": (
        "visa_qvsdc",
        None,
        [{"op": "refund", "amount": 5000, "card": "tap"}],
        ["00"],
    ),
    "batch close": (None, None, [{"op": "batch_close"}], ["00"]),
}


def session_file(folder: Path, steps: list[dict[str, Any]], nfc: bool, contact: bool) -> Path:
    merchant = seed.seed_data()["merchant"]
    doc = {
        "terminal": {
            "tid": seed.tid_of(1),
            "mid": merchant["mid"],
            "name": merchant["name"],
            "name_ar": "متجر بيترم",
            "city": merchant["city"],
        },
        "keys": {"se": True, "mac": seed.terminal_mac_key(seed.tid_of(1)).hex()},
        "host_timeout_ms": 15000,
        "nfc": nfc,
        "contact": contact,
        "steps": steps,
    }
    path = folder / "session.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def results_of(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(x[7:]) for x in stdout.splitlines() if x.startswith("RESULT ")]


# -- 1. card in field ----------------------------------------------------------


class FieldMeter:
    """Windows from the InListPassiveTarget that finds the card to InRelease."""

    def __init__(self) -> None:
        self.windows: list[dict[str, float]] = []
        self._open: dict[str, float] | None = None

    def attach(self, emus: Emulators) -> None:
        emulator = emus.objects["uart1"].emulator
        original = emulator.receive

        def receive(data: bytes) -> list[Output]:
            before = len(emulator.commands)
            started = time.perf_counter()
            outputs: list[Output] = original(data)
            spent = time.perf_counter() - started
            new = emulator.commands[before:]
            charged = sum(o.delay_s for o in outputs)
            window = self._open
            if window is None:
                if frames.IN_LIST_PASSIVE_TARGET in new and emulator.field.cards():
                    self._open = {"start": started, "wire": charged, "cpu": spent, "frames": 1}
            elif frames.IN_RELEASE in new:
                window["total"] = started - window["start"]
                self.windows.append(window)
                self._open = None
            else:
                window["wire"] += charged
                window["cpu"] += spent
                window["frames"] += 1
            return outputs

        setattr(emulator, "receive", receive)  # noqa: B010 (instance instrumentation)


class ContactMeter:
    """At the virtual card: first C-APDU to last R-APDU of each transaction
    (a SELECT of the PSE starts one), its bytes, and the card's CPU time."""

    def __init__(self) -> None:
        self.windows: list[dict[str, float]] = []

    def attach(self, emus: Emulators) -> None:
        card = emus.objects["uart3"].slot.card
        inner = card.transmit

        def transmit(apdu: bytes) -> bytes:
            started = time.perf_counter()
            response = bytes(inner(apdu))
            ended = time.perf_counter()
            if apdu[:2] == b"\x00\xa4" and b"1PAY.SYS.DDF01" in apdu:
                self.windows.append(
                    {"start": started, "end": ended, "cpu": 0.0, "bytes": 0, "apdus": 0}
                )
            if self.windows:
                w = self.windows[-1]
                w["end"] = ended
                w["cpu"] += ended - started
                w["bytes"] += len(apdu) + len(response) + 2 * T1_FRAMING
                w["apdus"] += 1
            return response

        card.transmit = transmit


def card_in_field(card: str, repeat: int) -> dict[str, Any]:
    interface, step = KERNELS[card]
    tap = interface == "tap"
    meter: FieldMeter | ContactMeter = FieldMeter() if tap else ContactMeter()
    out: list[str] = []
    err: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = session_file(Path(tmp), [step] * repeat, nfc=tap, contact=not tap)
        code = run(
            RunOptions(
                app="firmware.app",
                app_args=(str(path),),
                nfc_cards=[card] if tap else [],
                contact_card=None if tap else card,
                nfc_timing=True,
                timeout=600,
                handle_signals=False,
            ),
            out=out.append,
            err=err.append,
            on_emulators=meter.attach,
        )
    results = results_of("".join(out))
    if code != 0 or [r.get("code") for r in results] != ["00"] * repeat:
        raise RuntimeError(f"{card}: exit {code}, {results}: {''.join(err)[-1500:]}")
    rows = []
    for w in meter.windows:
        if tap:
            total, wire, cpu = w["total"] * 1000, w["wire"] * 1000, w["cpu"] * 1000
            rows.append(
                {
                    "total_ms": round(total, 1),
                    "wire_ms": round(wire, 1),
                    "emulator_ms": round(cpu, 1),
                    "firmware_ms": round(total - wire - cpu, 1),
                    "pn532_frames": int(w["frames"]),
                }
            )
        else:
            total, cpu = (w["end"] - w["start"]) * 1000, w["cpu"] * 1000
            rows.append(
                {
                    "total_ms": round(total, 1),
                    "wire_ms": 0.0,
                    "emulator_ms": round(cpu, 1),
                    "firmware_ms": round(total - cpu, 1),
                    "apdus": int(w["apdus"]),
                    "wire_9600_ms": round(w["bytes"] * ETU_PER_CHAR / CONTACT_BAUD * 1000, 1),
                }
            )
    keys = ["total_ms", "wire_ms", "emulator_ms", "firmware_ms"]
    if not tap:
        keys.append("wire_9600_ms")
    return {
        "card": card,
        "interface": interface,
        "kernel": results[0].get("kernel"),
        "outcome": results[0].get("outcome") or results[0].get("contact_outcome"),
        "runs": rows,
        "median": {k: round(statistics.median(r[k] for r in rows), 1) for k in keys},
    }


# -- 2. heap ----------------------------------------------------------------------


RESIDENT_APP = """
import gc
import sys
try:
    import firmware.app.__main__
except SystemExit:
    pass
gc.collect()
print("RESIDENT " + str(gc.mem_alloc()))
"""


def completes(case: str, heap_kib: int, firmware: Path) -> bool:
    return case_run(case, f"{heap_kib}K", firmware)[0]


def resident_kib(case: str, firmware: Path) -> float | None:
    """gc.mem_alloc() after the run, collected: what stays in the heap once
    the transaction's objects are garbage (the modules: their bytecode,
    constants and globals)."""
    ok, stdout = case_run(case, "1M", firmware, resident=True)
    found = [x for x in stdout.splitlines() if x.startswith("RESIDENT ")]
    return round(int(found[-1][9:]) / 1024, 1) if ok and found else None


def case_run(case: str, heap: str, firmware: Path, resident: bool = False) -> tuple[bool, str]:
    nfc_card, contact_card, steps, want = HEAP_CASES[case]
    out: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = session_file(Path(tmp), steps, nfc=nfc_card is not None,
                            contact=contact_card is not None)  # fmt: skip
        (Path(tmp) / "bench_resident.py").write_text(RESIDENT_APP)
        code = run(
            RunOptions(
                app="bench_resident" if resident else "firmware.app",
                extra_path=(Path(tmp),),
                app_args=(str(path),),
                nfc_cards=[nfc_card] if nfc_card else [],
                contact_card=contact_card,
                heap=heap,
                firmware_path=firmware,
                timeout=120,
                handle_signals=False,
            ),
            out=out.append,
            err=lambda _text: None,
        )
    stdout = "".join(out)
    return code == 0 and [r.get("code") for r in results_of(stdout)] == want, stdout


def smallest_heap(ok: Callable[[int], bool], top: int = HEAP_TOP_KIB) -> int | None:
    """Bisect (4 KiB grain), then make sure every size up to +64 KiB works."""
    if not ok(top):
        return None
    lo, hi = 0, top  # lo fails (or is 0), hi works
    while hi - lo > 4:
        mid = (lo + hi) // 2 // 4 * 4
        if mid in (lo, hi):
            break
        if ok(mid):
            hi = mid
        else:
            lo = mid
    found = hi
    for size in range(found + 4, min(found + 64, top) + 1, 4):
        if not ok(size):
            found = size + 4
    return found


def probe(case: str, firmware: Path) -> Callable[[int], bool]:
    def ok(heap_kib: int) -> bool:
        return completes(case, heap_kib, firmware)

    return ok


def heap_table(cases: list[str]) -> dict[str, Any]:
    from tools import fwbuild

    cap = boards.load(SMALLEST_BOARD)["memory"]["heap"]
    cap_kib = int(cap.rstrip("Kk"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        built = Path(tmp) / "fw"
        fwbuild.build("sim", built)
        for case in cases:
            row: dict[str, Any] = {"case": case}
            for tree, path in (("source", REPO_ROOT), ("mpy", built)):
                row[f"{tree}_kib"] = smallest_heap(probe(case, path))
                row[f"{tree}_fits_{cap}"] = completes(case, cap_kib, path)
                row[f"{tree}_resident_kib"] = resident_kib(case, path)
            rows.append(row)
    return {"smallest_board": SMALLEST_BOARD, "cap": cap, "rows": rows}


# -- report -----------------------------------------------------------------------


def report(result: dict[str, Any]) -> str:
    lines = []
    for f in result.get("field", []):
        m = f["median"]
        lines.append(
            f"{f['card']} ({f['interface']}, kernel {f['kernel']}, {f['outcome']}): "
            f"total {m['total_ms']} ms, wire {m['wire_ms']}, emulator {m['emulator_ms']}, "
            f"firmware {m['firmware_ms']}"
            + (f", computed wire at 9600 baud {m['wire_9600_ms']}" if "wire_9600_ms" in m else "")
            + f"  (runs: {[r['total_ms'] for r in f['runs']]})"
        )
    heap = result.get("heap")
    if heap:
        cap = heap["cap"]
        lines.append(f"smallest heap (KiB); fits {heap['smallest_board']}'s {cap}?")
        for row in heap["rows"]:
            lines.append(
                f"  {row['case']}: source {row['source_kib']} ({row[f'source_fits_{cap}']},"
                f" resident {row['source_resident_kib']}), mpy {row['mpy_kib']}"
                f" ({row[f'mpy_fits_{cap}']}, resident {row['mpy_resident_kib']})"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="sales per kernel")
    parser.add_argument("--card", action="append", choices=sorted(KERNELS))
    parser.add_argument("--case", action="append", choices=sorted(HEAP_CASES))
    parser.add_argument("--no-field", action="store_true")
    parser.add_argument("--no-heap", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result: dict[str, Any] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    if not args.no_field:
        result["field"] = [card_in_field(c, args.repeat) for c in args.card or list(KERNELS)]
    if not args.no_heap:
        result["heap"] = heap_table(args.case or list(HEAP_CASES))
    print(json.dumps(result, indent=2, ensure_ascii=False) if args.json else report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
