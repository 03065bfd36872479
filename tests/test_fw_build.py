"""Firmware build and deploy (tools/fwbuild.py, ``payterm fw build/deploy``).

Proves: for sim, esp32s3_pos and stm32f4_ecr every device source of the
board is compiled by mpy-cross (no source left in the output), board.json is
copied, the manifest lists every file with its sha256 (recomputed here), the
.mpy format the unix port loads, the board and the git revision; a changed
file is caught; the built sim tree runs under MicroPython with only the
output folder on MICROPYPATH: firmware.selftest imported from .mpy passes
every known-answer test, and ``payterm fw run --firmware OUT`` runs the demo;
deploy builds the mpremote command lines (no hardware here: nothing is run
against a board), refuses a folder built for another board or altered.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from payterm import cli
from tools import fwbuild
from tools.mpycompile import REPO_ROOT
from tools.mpytest import micropython_binary

BOARDS = ["sim", "esp32s3_pos", "stm32f4_ecr"]
BUILD_STARTED: list[float] = []
CONNECT = ("mpremote", "connect", "/dev/ttyACM0")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("fw")
    BUILD_STARTED.append(time.time())
    return {b: _build(root / b, b) for b in BOARDS}


def _build(out: Path, board: str) -> Path:
    fwbuild.build(board, out)
    return out


def _unix_port_mpy() -> int:
    proc = subprocess.run(
        [micropython_binary(), "-c", "import sys; print(sys.implementation._mpy)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(proc.stdout)


@pytest.mark.parametrize("board", BOARDS)
def test_every_file_compiled_and_hashed(built: dict[str, Path], board: str) -> None:
    out = built[board]
    manifest = json.loads((out / "manifest.json").read_text())
    py, data = fwbuild.sources_for(board)
    expected = {p.relative_to(REPO_ROOT).with_suffix(".mpy").as_posix() for p in py}
    expected |= {p.relative_to(REPO_ROOT).as_posix() for p in data}
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} - {
        "manifest.json"
    }
    assert on_disk == expected == {f["path"] for f in manifest["files"]}
    assert not [p for p in out.rglob("*.py")]
    assert f"boards/{board}/board.json" in on_disk
    assert f"boards/{board}/hal.mpy" in on_disk
    others = [b for b in BOARDS if b != board]
    assert not [p for p in on_disk if any(p.startswith(f"boards/{o}/") for o in others)]
    assert not [p for p in on_disk if p.endswith("manifest.mpy")]
    for entry in manifest["files"]:
        body = (out / entry["path"]).read_bytes()
        assert hashlib.sha256(body).hexdigest() == entry["sha256"], entry["path"]
        assert len(body) == entry["size"]
        source = REPO_ROOT / entry["source"]
        if source.stat().st_mtime < BUILD_STARTED[0]:  # not edited since (shared checkout)
            assert hashlib.sha256(source.read_bytes()).hexdigest() == entry["source_sha256"]
        if entry["path"].endswith(".mpy"):
            assert body[:1] == b"M"
    assert manifest["board"] == board
    assert manifest["kind"] == "payterm-firmware"
    major = int(str(manifest["mpy_version"]).split(".")[0])
    assert major == _unix_port_mpy() & 0xFF
    assert "mpy-cross" in manifest["mpy_cross"]
    git = manifest["git"]
    if git is not None:  # HEAD moves as people commit: the revision is in its history
        rev = git["revision"]
        check = ["git", "-C", str(REPO_ROOT), "merge-base", "--is-ancestor", rev, "HEAD"]
        assert len(rev) == 40 and subprocess.run(check, check=False).returncode == 0
    assert fwbuild.verify(out) == []


def test_verify_catches_changes(built: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "sim"
    shutil.copytree(built["sim"], out)
    assert fwbuild.verify(out) == []
    (out / "firmware" / "demo.mpy").write_bytes(b"M\x06\x00\x1f tampered")
    (out / "protocols" / "extra.mpy").write_bytes(b"M")
    (out / "boards" / "sim" / "board.json").unlink()
    problems = fwbuild.verify(out)
    assert "firmware/demo.mpy: sha256 differs" in problems
    assert "protocols/extra.mpy: not in the manifest" in problems
    assert "boards/sim/board.json: missing" in problems
    with pytest.raises(fwbuild.BuildError):
        fwbuild.deploy("/dev/ttyACM0", out, dry_run=True)


SELFTEST = """
import json, sys
import boards
from firmware import selftest
from protocols.crypto.cryptolib_aes import CryptolibAes
print(json.dumps({
    "file": selftest.__file__,
    "board": boards.load("sim")["name"],
    "results": selftest.run(CryptolibAes),
    "path": sys.path,
}))
"""


def test_built_sim_tree_runs_the_selftest(built: dict[str, Path], tmp_path: Path) -> None:
    out = built["sim"]
    env = dict(os.environ)
    env["MICROPYPATH"] = str(out)
    proc = subprocess.run(
        [micropython_binary(), "-X", "heapsize=1M", "-c", SELFTEST],
        cwd=str(tmp_path),  # not the repository: nothing but the build to import
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["file"] == str(out / "firmware" / "selftest.mpy")
    assert got["board"] == "sim"
    assert got["results"] and all(ok for _name, ok, _detail in got["results"]), got
    assert [n for n, _ok, _d in got["results"]] == ["crc16", "tlv", "iso8583", "aes_cmac"]


def test_fw_run_from_the_built_tree(
    built: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = built["sim"]
    assert cli.main(["fw", "run", "--firmware", str(out), "--timeout", "60"]) == 0
    captured = capsys.readouterr()
    info = json.loads(captured.err.splitlines()[0])
    assert info["micropypath"] == str(out.resolve())
    report = json.loads(captured.out.strip().splitlines()[-1])
    assert report["sign_on"]["response_code"] == "00"


def test_cli_build_and_deploy_dry_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ecr"
    assert cli.main(["fw", "build", "--board", "stm32f4_ecr", "--out", str(out)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["out"] == str(out) and result["files"] == len(result["manifest"]["files"])
    assert result["manifest"]["port"] == "stm32" and result["manifest"]["heap"] == "96K"
    argv = ["deploy", "--board", "stm32f4_ecr", "--port", "/dev/ttyACM0", "--out", str(out)]
    assert cli.main(["fw", *argv, "--dry-run"]) == 0
    deployed = json.loads(capsys.readouterr().out)
    assert deployed["commands"] == [
        [*CONNECT, "fs", "cp", "-r", "boards", "firmware", "protocols", ":./"],
        [*CONNECT, "fs", "cp", "manifest.json", ":payterm-manifest.json"],
    ]
    # built for another board: refused
    assert cli.main(["fw", "deploy", "--board", "sim", "--port", "x", "--out", str(out)]) == 2
    # a second build replaces the first; a folder that is not a build is left alone
    assert cli.main(["fw", "build", "--board", "stm32f4_ecr", "--out", str(out)]) == 0
    capsys.readouterr()
    stranger = tmp_path / "photos"
    stranger.mkdir()
    (stranger / "cat.jpg").write_bytes(b"\xff\xd8")
    assert cli.main(["fw", "build", "--board", "sim", "--out", str(stranger)]) == 1
    assert (stranger / "cat.jpg").exists()
    assert cli.main(["fw", "build", "--board", "nosuch", "--out", str(tmp_path / "x")]) == 2


def test_deploy_command_lines() -> None:
    out = REPO_ROOT  # a folder with boards/, firmware/, protocols/ but no manifest
    with pytest.raises(fwbuild.BuildError):
        fwbuild.deploy_commands("COM3", out)
    with pytest.raises(ValueError):
        fwbuild.deploy_commands("", out)


def _wait_for(path: Path, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return True
        time.sleep(0.02)
    return False


def _processes_in(folder: Path) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if Path(os.readlink(proc / "cwd")) == folder:
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


@pytest.mark.skipif(shutil.which("socat") is None, reason="socat not installed")
def test_deploy_with_mpremote_to_the_unix_port_through_a_pty(
    built: dict[str, Path], tmp_path: Path
) -> None:
    """No hardware here: the 'board' is the MicroPython unix port's REPL on a
    pty (socat), its filesystem a fresh folder.  mpremote enters its raw REPL
    like a board's; the unix port has no soft reset, hence ``resume``."""
    device = tmp_path / "device"
    device.mkdir()
    link = tmp_path / "board-pty"
    env = dict(os.environ)
    env["MICROPYPATH"] = ""  # the REPL imports from its working directory only
    socat = subprocess.Popen(
        [
            "socat",
            f"pty,link={link},raw,echo=0",
            f"EXEC:{micropython_binary()},pty,raw,echo=0,stderr,setsid,ctty",
        ],
        cwd=str(device),
        env=env,
    )
    try:
        assert _wait_for(link)
        commands = fwbuild.deploy(str(link), built["sim"], resume=True, timeout=120)
        assert [c[:4] for c in commands] == [["mpremote", "connect", str(link), "resume"]] * 2
        manifest = json.loads((built["sim"] / "manifest.json").read_text())
        for entry in manifest["files"]:
            body = (device / entry["path"]).read_bytes()
            assert hashlib.sha256(body).hexdigest() == entry["sha256"], entry["path"]
        on_device = json.loads((device / "payterm-manifest.json").read_text())
        assert on_device == manifest
        # and the deployed tree runs on the "board"
        proc = subprocess.run(
            [fwbuild.mpremote_binary(), "connect", str(link), "resume", "exec", SELFTEST],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        got = json.loads(proc.stdout.strip().splitlines()[-1])
        assert got["file"].endswith("firmware/selftest.mpy")
        assert all(ok for _n, ok, _d in got["results"])
    finally:
        socat.terminate()
        socat.wait(10)
    deadline = time.monotonic() + 5
    while _processes_in(device) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_in(device) == []  # the MicroPython behind the pty is gone too
