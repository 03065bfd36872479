"""A tiny run of benchmarks/bench_se.py: the firmware under MicroPython does
every operation against the emulator and each rate is measured."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_se.py"
_SPEC = importlib.util.spec_from_file_location("bench_se", _PATH)
assert _SPEC is not None and _SPEC.loader is not None
bench_se = importlib.util.module_from_spec(_SPEC)
sys.modules["bench_se"] = bench_se
_SPEC.loader.exec_module(bench_se)


def test_bench_se_smoke(tmp_path: Path) -> None:
    result = bench_se.run(3, tmp_path)
    fw = result["micropython_over_sim_i2c"]
    assert sorted(fw) == ["mac", "pin_block", "sign"]
    for figures in fw.values():
        assert figures["count"] == 3 and figures["per_s"] > 0
    assert result["emulator_direct"]["sign"]["count"] == 3
    # the runs signed for real: each state's counter moved
    from hsm_sim.se.storage import Storage

    assert Storage.open(tmp_path / "fw-se.json").data["slots"]["0"]["counter"] == 3
    assert Storage.open(tmp_path / "direct-se.json").data["slots"]["0"]["counter"] == 3
