"""A tiny run of benchmarks/bench_hsm.py against an in-process HSM: every
workload's requests are answered with 00 and the direct calls run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from hsm_support import running_hsm

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_hsm.py"
_SPEC = importlib.util.spec_from_file_location("bench_hsm", _PATH)
assert _SPEC is not None and _SPEC.loader is not None
bench_hsm = importlib.util.module_from_spec(_SPEC)
sys.modules["bench_hsm"] = bench_hsm
_SPEC.loader.exec_module(bench_hsm)


def test_bench_hsm_smoke() -> None:
    with running_hsm() as hsm:
        results = bench_hsm.run(clients=2, seconds=0.05, repeat=1, port=hsm.port)
    assert [r["command"] for r in results] == ["CA", "CI (AES DUKPT)", "KQ", "M6"]
    for r in results:
        assert r["errors"] == 0
        assert r["hsm_per_s"] > 0
        assert r["direct_per_s"] > 0
