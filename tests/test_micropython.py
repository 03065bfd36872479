"""Drive the MicroPython-side tests (tests/mpy/) and the mpy-cross compile gate
from pytest, so the one test command covers CPython and real MicroPython."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tools import mpycompile, mpytest


@pytest.mark.parametrize("path", mpytest.discover(), ids=lambda p: p.name)
def test_under_micropython(path: Path) -> None:
    result = mpytest.run_file(path, heap=mpytest.DEFAULT_HEAP)
    assert result.ok, result.output


def test_device_trees_compile_with_mpy_cross() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        failures = mpycompile.compile_all(Path(tmp))
    assert mpycompile.device_sources(), "no device sources found"
    assert failures == {}, failures


def test_runner_reports_failures(tmp_path: Path) -> None:
    # The runner must not be able to pass a failing file.
    bad = tmp_path / "test_bad.py"
    bad.write_text("def test_fails():\n    assert 1 == 2\n\ndef test_ok():\n    pass\n")
    result = mpytest.run_file(bad)
    assert not result.ok
    assert result.failed and result.failed[0].startswith("test_fails")
    assert result.passed == ["test_ok"]


def test_runner_enforces_heap_cap(tmp_path: Path) -> None:
    hog = tmp_path / "test_hog.py"
    hog.write_text("def test_alloc():\n    x = bytearray(200 * 1024)\n")
    assert mpytest.run_file(hog, heap="256K").ok
    assert not mpytest.run_file(hog, heap="64K").ok
