"""Firmware build and deploy: mpy-cross the device tree of one board into a
folder with a manifest, and copy that folder to a board with mpremote.

What goes in (paths as on the device, relative to its filesystem root):

- ``firmware/**.py`` and ``protocols/**.py``, compiled to ``.mpy``, except
  the freeze manifests (``manifest.py``: build-time files for a frozen
  MicroPython image, not modules);
- ``boards/__init__.py``, ``boards/common/**.py`` and ``boards/<board>/**.py``
  compiled; ``boards/<board>/board.json`` copied (the HAL reads it at run
  time).

``manifest.json`` beside them: board, port, heap, build time (UTC), git
revision (and whether the tree had uncommitted changes), the mpy-cross
version, the .mpy format version read from the files' headers, and per file
its path, size and sha256, and the source it came from with the source's
sha256.  Bytecode only (no ``-march``): the same .mpy files load on every
port with that .mpy version.

    python -m tools.fwbuild build --board sim [--out DIR]
    python -m tools.fwbuild deploy --board esp32s3_pos --port /dev/ttyACM0 [--out DIR] [--dry-run]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boards
from tools.mpycompile import REPO_ROOT, mpy_cross_binary

MANIFEST = "manifest.json"
MANIFEST_KIND = "payterm-firmware"
SKIP_NAMES = ("manifest.py",)
TOP_DIRS = ("boards", "firmware", "protocols")


class BuildError(RuntimeError):
    """A file did not compile, or the output folder cannot be used."""


def sources_for(board: str, root: Path = REPO_ROOT) -> tuple[list[Path], list[Path]]:
    """(Python sources to compile, data files to copy) for ``board``."""
    boards.board_path(board)  # refuses a bad name
    if not (root / "boards" / board / "board.json").is_file():
        raise BuildError(f"no board {board!r} in {root / 'boards'}")
    py: list[Path] = []
    for tree in ("firmware", "protocols", "boards/common", "boards/" + board):
        py.extend(p for p in sorted((root / tree).rglob("*.py")) if p.name not in SKIP_NAMES)
    py.append(root / "boards" / "__init__.py")
    data = [root / "boards" / board / "board.json"]
    return sorted(set(py)), data


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def mpy_cross_version() -> str:
    proc = subprocess.run(
        [mpy_cross_binary(), "--version"], capture_output=True, text=True, check=False
    )
    return (proc.stdout + proc.stderr).strip()


def mpy_format(path: Path) -> str:
    """The .mpy format of a compiled file: "major.sub" from its header."""
    head = path.read_bytes()[:4]
    if len(head) < 4 or head[0] != ord("M"):
        raise BuildError(f"{path}: not an .mpy file")
    return f"{head[1]}.{head[2] & 3}"


def git_revision(root: Path = REPO_ROOT) -> dict[str, Any] | None:
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", *TOP_DIRS],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"revision": rev, "dirty": bool(status.strip())}


def _prepare_out(out: Path) -> None:
    if out.exists():
        if not out.is_dir():
            raise BuildError(f"{out} exists and is not a folder")
        entries = list(out.iterdir())
        if entries and not (out / MANIFEST).is_file():
            raise BuildError(f"{out} is not empty and holds no {MANIFEST}: not overwriting it")
        if entries:
            try:
                kind = json.loads((out / MANIFEST).read_text(encoding="utf-8")).get("kind")
            except (OSError, ValueError, AttributeError):
                kind = None
            if kind != MANIFEST_KIND:
                raise BuildError(f"{out}/{MANIFEST} is not a payterm build: not overwriting it")
            shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def build(board: str, out: Path) -> dict[str, Any]:
    """Compile ``board``'s device tree (of this repository) into ``out``;
    returns the manifest."""
    root = REPO_ROOT
    cfg = boards.load(board)
    py, data = sources_for(board, root)
    _prepare_out(out)
    files: list[dict[str, Any]] = []
    failures: list[str] = []
    formats: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        # snapshot the sources first: the manifest's source hashes are those
        # of the bytes compiled, even if someone edits a file meanwhile
        snap = Path(tmp) / "src"
        staged: list[tuple[Path, Path, str]] = []
        for source in [*py, *data]:
            rel = source.relative_to(root)
            copy = snap / rel
            copy.parent.mkdir(parents=True, exist_ok=True)
            body = source.read_bytes()
            copy.write_bytes(body)
            staged.append((rel, copy, hashlib.sha256(body).hexdigest()))
        compiled = Path(tmp) / "out"
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 4) as pool:
            problems = list(pool.map(lambda item: _compile(item[0], item[1], compiled), staged))
        for (rel, _copy, _h), problem in zip(staged, problems, strict=True):
            if problem is not None:
                failures.append(f"{rel}: {problem}")
        if failures:
            raise BuildError("mpy-cross failed:\n" + "\n".join(failures))
        for rel, copy, source_hash in staged:
            if rel.suffix == ".py":
                made, dest = compiled / rel.with_suffix(".mpy"), rel.with_suffix(".mpy")
            else:
                made, dest = copy, rel
            target = out / dest
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(made, target)
            if dest.suffix == ".mpy":
                formats.add(mpy_format(target))
            files.append(_entry(dest, target, rel, source_hash))
    files.sort(key=lambda f: f["path"])
    manifest: dict[str, Any] = {
        "kind": MANIFEST_KIND,
        "board": board,
        "port": cfg["port"],
        "heap": cfg["memory"]["heap"],
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "git": git_revision(root),
        "mpy_cross": mpy_cross_version(),
        "mpy_version": sorted(formats)[0] if len(formats) == 1 else sorted(formats),
        "files": files,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def _compile(rel: Path, source: Path, out_dir: Path) -> str | None:
    """mpy-cross one file (named ``rel`` in tracebacks); None, or the complaint."""
    if rel.suffix != ".py":
        return None
    target = out_dir / rel.with_suffix(".mpy")
    target.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [mpy_cross_binary(), "-s", rel.as_posix(), "-o", str(target), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return (proc.stdout + proc.stderr).strip() or f"exit {proc.returncode}"
    return None


def _entry(dest: Path, target: Path, rel: Path, source_hash: str) -> dict[str, Any]:
    return {
        "path": dest.as_posix(),
        "size": target.stat().st_size,
        "sha256": sha256_file(target),
        "source": rel.as_posix(),
        "source_sha256": source_hash,
    }


def verify(out: Path) -> list[str]:
    """Problems with a built folder: files missing, changed or unlisted."""
    try:
        manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"{MANIFEST}: {exc}"]
    problems = []
    listed = set()
    for entry in manifest.get("files", []):
        path = out / entry["path"]
        listed.add(entry["path"])
        if not path.is_file():
            problems.append(f"{entry['path']}: missing")
        elif sha256_file(path) != entry["sha256"]:
            problems.append(f"{entry['path']}: sha256 differs")
    for path in sorted(out.rglob("*")):
        rel = path.relative_to(out).as_posix()
        if path.is_file() and rel != MANIFEST and rel not in listed:
            problems.append(f"{rel}: not in the manifest")
    return problems


def deploy_commands(
    port: str, out: Path, mpremote: str = "mpremote", resume: bool = False
) -> list[list[str]]:
    """The mpremote command lines that copy a built folder to a board's
    working directory, its filesystem root after boot (run with ``cwd=out``,
    so remote paths equal local ones): the trees recursively into ``:./``
    (a bare ``:`` would spill each tree's contents into the root), then the
    manifest as ``payterm-manifest.json``.
    ``resume``: no soft reset before (mpremote's ``resume``), for a target
    that has none, such as the unix port's REPL."""
    if not port:
        raise ValueError("a serial port is needed (e.g. /dev/ttyACM0, COM3, or 'auto')")
    tops = [d for d in TOP_DIRS if (out / d).is_dir()]
    if not tops or not (out / MANIFEST).is_file():
        raise BuildError(f"{out} is not a built firmware folder (run build first)")
    connect = [mpremote, "connect", port, *(["resume"] if resume else [])]
    return [
        [*connect, "fs", "cp", "-r", *tops, ":./"],
        [*connect, "fs", "cp", MANIFEST, ":payterm-manifest.json"],
    ]


def mpremote_binary() -> str:
    here = Path(sys.executable).parent / "mpremote"
    if here.exists():
        return str(here)
    return shutil.which("mpremote") or "mpremote"


def deploy(
    port: str, out: Path, dry_run: bool = False, resume: bool = False, timeout: float = 300
) -> list[list[str]]:
    """Check ``out`` against its manifest, then copy it with mpremote (or,
    with ``dry_run``, only return the command lines)."""
    problems = verify(out)
    if problems:
        raise BuildError(f"{out} does not match its manifest: " + "; ".join(problems[:5]))
    commands = deploy_commands(port, out, resume=resume)
    if not dry_run:
        binary = mpremote_binary()
        if shutil.which(binary) is None:
            raise BuildError("mpremote not found: pip install mpremote")
        for cmd in commands:
            subprocess.run([binary, *cmd[1:]], cwd=str(out), check=True, timeout=timeout)
    return commands


def default_out(board: str) -> Path:
    return Path("build") / "fw" / board


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="action", required=True)
    b = sub.add_parser("build")
    b.add_argument("--board", required=True)
    b.add_argument("--out", type=Path)
    d = sub.add_parser("deploy")
    d.add_argument("--board", required=True)
    d.add_argument("--port", required=True)
    d.add_argument("--out", type=Path)
    d.add_argument("--dry-run", action="store_true")
    d.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    out = args.out or default_out(args.board)
    if args.action == "build":
        manifest = build(args.board, out)
        print(json.dumps({"out": str(out), "files": len(manifest["files"])}))
        return 0
    print(json.dumps({"commands": deploy(args.port, out, args.dry_run, args.resume)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
