"""A tiny run of benchmarks/bench_app.py: one tap per contactless kernel and
one insert, each timed inside its card-in-field window with the PN532's link
timing on; one heap probe at the sim board's cap and one far below it; the
heap search's walk-up on a non-monotonic predicate."""

from __future__ import annotations

from benchmarks import bench_app
from tools.mpytest import REPO_ROOT


def test_card_in_field_windows_split_wire_and_firmware() -> None:
    for card, kernel in (("visa_qvsdc", 3), ("mastercard_cda", 2)):
        result = bench_app.card_in_field(card, 2)
        assert result["kernel"] == kernel and result["outcome"] == "online request"
        assert len(result["runs"]) == 2  # one window per sale
        for run in result["runs"]:
            # the timing model's sleeps: at 115200 baud 7+ exchanges cost > 100 ms
            assert run["wire_ms"] > 100
            assert run["firmware_ms"] > 0
            parts = run["wire_ms"] + run["emulator_ms"] + run["firmware_ms"]
            assert abs(parts - run["total_ms"]) < 0.5
    contact = bench_app.card_in_field("contact_offline_pin", 1)
    (run,) = contact["runs"]
    assert run["apdus"] >= 10 and run["wire_ms"] == 0 and run["wire_9600_ms"] > 500


def test_heap_probe_needs_a_heap() -> None:
    assert bench_app.completes("contactless Visa-like, online", 1024, REPO_ROOT)
    assert not bench_app.completes("contactless Visa-like, online", 64, REPO_ROOT)


def test_smallest_heap_walks_past_a_non_monotonic_failure() -> None:
    works = {k for k in range(0, 1025, 4) if k >= 200} - {212}
    assert bench_app.smallest_heap(lambda k: k in works) == 216
    assert bench_app.smallest_heap(lambda k: k >= 100) == 100
    assert bench_app.smallest_heap(lambda _k: False) is None
