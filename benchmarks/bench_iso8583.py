"""ISO 8583: payterm's codec against pyiso8583 on the same messages and spec.

Two workloads, each run through both codecs in the same process:

- ``PAYTERM_1987``: the 19 dialect messages of tests/vectors/iso8583_payterm.json
  (BCD numbers and lengths, binary bitmap, EMV field 55), with pyiso8583
  given the equivalent spec from payterm.iso8583_pyiso.to_pyiso8583_spec;
- ``default_ascii``: pyiso8583's own all-ASCII starter spec, translated to
  ours by from_pyiso8583_spec, with the same messages' fields that fit it.

Before timing, both codecs must produce identical bytes for every message.
Each figure is the best of --repeat runs of --rounds passes over the set.

Usage: ``python -m benchmarks.bench_iso8583 [--rounds N] [--repeat R]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import iso8583 as pyiso
from iso8583.specs import default_ascii

from payterm.iso8583_pyiso import from_pyiso8583_spec, to_pyiso8583_doc, to_pyiso8583_spec
from protocols import iso8583
from protocols.iso8583_specs import PAYTERM_1987

VECTORS = Path(__file__).resolve().parent.parent / "tests" / "vectors" / "iso8583_payterm.json"

Spec = Mapping[str, Mapping[str, Any]]


def payterm_messages() -> list[dict[str, str]]:
    vectors = json.loads(VECTORS.read_text())
    return [
        {k: v for k, v in m["fields"].items() if k not in ("p", "1")} for m in vectors["messages"]
    ]


def fitting(doc: Mapping[str, str], spec: Spec) -> dict[str, str]:
    """The fields of doc that are valid under spec (others dropped)."""
    kept = {"t": doc["t"]}
    for key, value in doc.items():
        if key == "t" or key not in spec:
            continue
        try:
            iso8583.encode({"t": doc["t"], key: value}, spec)
        except ValueError:
            continue
        kept[key] = value
    return kept


def best_time(fn: Callable[[], object], rounds: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(rounds):
            fn()
        best = min(best, time.perf_counter() - start)
    return best / rounds


def workload(
    name: str, docs: list[dict[str, str]], spec: Spec, pyspec: Spec, rounds: int, repeat: int
) -> list[tuple[str, str, float, float]]:
    pydocs = [to_pyiso8583_doc(d, spec) for d in docs]
    wires = [iso8583.encode(d, spec) for d in docs]
    for doc, pydoc, wire in zip(docs, pydocs, wires, strict=True):
        their_wire, _ = pyiso.encode(dict(pydoc), pyspec)
        if bytes(their_wire) != wire:
            raise SystemExit(f"{name}: codecs disagree on {doc['t']}: not benchmarking")
    compiled = iso8583.compile_spec(spec)

    def ours_encode() -> None:
        for d in docs:
            iso8583.encode(d, compiled)

    def ours_decode() -> None:
        for w in wires:
            iso8583.decode(w, compiled)

    def theirs_encode() -> None:
        for d in pydocs:
            pyiso.encode(d, pyspec)  # recomputes the bitmaps it stores in d

    def theirs_decode() -> None:
        for w in wires:
            pyiso.decode(w, pyspec)

    count = len(docs)
    rows = []
    for op, ours, theirs in (
        ("encode", ours_encode, theirs_encode),
        ("decode", ours_decode, theirs_decode),
    ):
        rows.append(
            (
                name,
                op,
                best_time(ours, rounds, repeat) / count,
                best_time(theirs, rounds, repeat) / count,
            )
        )
    rows.append((name, "encode+decode", rows[0][2] + rows[1][2], rows[0][3] + rows[1][3]))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=500, help="passes over the set per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs; the best is kept")
    args = parser.parse_args(argv)

    docs = payterm_messages()
    our_ascii = from_pyiso8583_spec(default_ascii)
    ascii_docs = [fitting(d, our_ascii) for d in docs]
    pyiso_ascii = {k: v for k, v in default_ascii.items() if k != "65"}
    rows = workload(
        "PAYTERM_1987",
        docs,
        PAYTERM_1987,
        to_pyiso8583_spec(PAYTERM_1987),
        args.rounds,
        args.repeat,
    )
    rows += workload("default_ascii", ascii_docs, our_ascii, pyiso_ascii, args.rounds, args.repeat)

    print(f"Python {platform.python_version()} ({platform.python_implementation()})")
    print(f"pyiso8583 {getattr(pyiso, '__version__', '?')}; {platform.machine()}")
    print(f"{os.cpu_count()} CPUs; {len(docs)} messages per set")
    print(f"--rounds {args.rounds} --repeat {args.repeat}")
    print()
    header = (
        f"{'spec':<14} {'operation':<14} {'payterm µs':>10} {'msg/s':>9}"
        f" {'pyiso8583 µs':>12} {'msg/s':>9} {'speed-up':>8}"
    )
    print(header)
    print("-" * len(header))
    for spec_name, op, ours, theirs in rows:
        print(
            f"{spec_name:<14} {op:<14} {ours * 1e6:>10.2f} {1 / ours:>9.0f}"
            f" {theirs * 1e6:>12.2f} {1 / theirs:>9.0f} {theirs / ours:>7.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
