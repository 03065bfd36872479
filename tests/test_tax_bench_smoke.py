"""benchmarks/bench_tax.py runs end to end on a small journal: every record
accepted (the benchmark asserts it), no alert, the backend's verifier state
after the last record, figures printed as JSON."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_tax.py"
_SPEC = importlib.util.spec_from_file_location("bench_tax", _PATH)
assert _SPEC is not None and _SPEC.loader is not None
bench_tax = importlib.util.module_from_spec(_SPEC)
sys.modules["bench_tax"] = bench_tax
_SPEC.loader.exec_module(bench_tax)


def test_bench_tax_small(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        bench_tax.main(
            ["--records", "120", "--per-z", "25", "--batch", "50", "--realtime", "3", "--json"]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["records"] == 120 and out["realtime_on_top_of"] == 120
    assert out["state_after_seq"] == 123  # the kept verifier state followed every upload
    assert out["batched_records_per_s"] > 0 and out["realtime_median_ms"] > 0
