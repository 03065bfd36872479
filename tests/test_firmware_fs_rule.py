"""DESIGN.md: only boards/*/ touches files. The fiscal journal and OTA get a
boards.common.fs.Files from the board; their sources hold no ``open(`` call
and no ``os`` import. And opening the sim board (what the payment app does)
does not load the filesystem modules: they come with the first mount."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tools import mpytest

REPO = Path(__file__).resolve().parent.parent
TREES = ("firmware/fiscal", "firmware/ota")

# builtin open( (not fs.open(, not "def open(" of Journal.open), any os/uos
# import, io.open
OPEN_CALL = re.compile(r"(?<![\w.])open\(|\bio\.open\(")
OS_IMPORT = re.compile(r"^\s*(import\s+(os|uos)\b|from\s+(os|uos)\s+import\b)")


def offences(text: str) -> list[str]:
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        code = line.split("#", 1)[0]
        opens = OPEN_CALL.search(code) and not re.search(r"\bdef\s+open\(", code)
        imports = OS_IMPORT.search(code) or re.search(r"\bimport\s+[\w, ]*\bu?os\b", code)
        if opens or imports:
            out.append(f"{n}: {line.strip()}")
    return out


def sources() -> list[Path]:
    files = [p for t in TREES for p in sorted((REPO / t).rglob("*.py"))]
    assert len(files) >= 6, files  # the trees are there: the scan is not empty
    return files


@pytest.mark.parametrize(
    "line",
    [
        "    with open(path, 'rb') as f:",
        "f = open(p)",
        "import os",
        "    import os",
        "from os import stat",
        "import uos",
        "import json, os",
        "x = io.open(p)",
    ],
)
def test_the_scan_catches_what_it_forbids(line: str) -> None:
    assert offences(line), line


@pytest.mark.parametrize(
    "line",
    [
        "    with self.fs.open(name, 'rb') as f:",
        "    def open(cls, fs, signer):",
        "j = Journal.open(fs, signer, now)",
        "# open(x) in a comment",
        "import ossify",
    ],
)
def test_the_scan_lets_files_calls_through(line: str) -> None:
    assert not offences(line), line


def test_fiscal_and_ota_sources_touch_no_files() -> None:
    found = {str(p.relative_to(REPO)): offences(p.read_text()) for p in sources()}
    assert not {k: v for k, v in found.items() if v}


def test_opening_the_sim_board_loads_no_filesystem_module(tmp_path: Path) -> None:
    code = (
        "import sys, boards\n"
        "b = boards.open_board('sim')\n"
        "print(' '.join(sorted(k for k in sys.modules if k.startswith('boards'))))\n"
        "fs = b.fiscal_fs('/fz')\n"
        "print(' '.join(sorted(k for k in sys.modules if k.startswith('boards'))))\n"
        "fs.umount()\n"
        "b.deinit()\n"
    )
    proc = subprocess.run(
        [mpytest.micropython_binary(), "-X", "heapsize=1M", "-c", code],
        cwd=REPO,
        env={"MICROPYPATH": str(REPO), "PAYTERM_SIM_FLASH": str(tmp_path / "f.img")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    opened, mounted = (set(ln.split()) for ln in proc.stdout.splitlines()[:2])
    assert "boards.sim.hal" in opened
    assert not {"boards.common.fs", "boards.sim.flash"} & opened
    assert {"boards.common.fs", "boards.sim.flash"} <= mounted
