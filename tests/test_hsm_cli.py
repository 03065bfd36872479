"""`payterm hsm` in a subprocess: the listening line, a command over TCP,
clean exit on SIGTERM; the production LMK survives a restart; bad options
exit 2."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hsm_sim.client import HsmClient


def _start(*args: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "payterm", "hsm", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(10)
        raise AssertionError(proc.stderr.read() if proc.stderr else "no output")
    return proc, json.loads(line)


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    return err


def test_payterm_hsm_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    proc, info = _start("--db", str(tmp_path / "cli.db"), "--header-length", "6")
    try:
        assert info["host"] == "127.0.0.1"
        assert info["lmk_check"] == "809D767E968BA245"
        assert info["lmk"] == "test"
        with HsmClient(info["host"], info["port"], header=b"ABCDEF") as client:
            assert client.diagnostics().lmk_check == info["lmk_check"]
    finally:
        _stop(proc)


def test_production_lmk_from_a_passphrase_file_survives_a_restart(tmp_path: Path) -> None:
    secret = tmp_path / "lmk.pass"
    secret.write_text("a long test passphrase\n")
    db = str(tmp_path / "prod.db")
    proc, info = _start("--db", db, "--lmk", str(secret))
    try:
        assert info["lmk"] == "production"
        with HsmClient(info["host"], info["port"]) as client:
            key = client.generate_key("D0", "A3", "B")
    finally:
        err = _stop(proc)
    proc, again = _start("--db", db, "--lmk", str(secret))
    try:
        assert again["lmk_check"] == info["lmk_check"]
        with HsmClient(again["host"], again["port"]) as client:
            assert client.key_check_value(key.key) == key.kcv
    finally:
        err += _stop(proc)
    assert "passphrase" not in err


@pytest.mark.parametrize(
    ("args", "code"),
    [(["--header-length", "300"], 2), (["--lmk", "/nonexistent/pass"], 2)],
)
def test_bad_options_exit_2(args: list[str], code: int) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "payterm", "hsm", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert proc.returncode == code
    assert proc.stdout == ""


def test_wrong_passphrase_exits_1(tmp_path: Path) -> None:
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.write_text("right\n")
    bad.write_text("wrong\n")
    db = str(tmp_path / "w.db")
    proc, _info = _start("--db", db, "--lmk", str(good))
    _stop(proc)
    run = subprocess.run(
        [sys.executable, "-m", "payterm", "hsm", "--port", "0", "--db", db, "--lmk", str(bad)],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert run.returncode == 1
    assert "wrong LMK passphrase" in run.stderr


def test_two_workers_share_the_port_the_key_store_and_the_audit_log(tmp_path: Path) -> None:
    import sqlite3

    from hsm_sim.testkeys import block_under_test_lmk

    db = tmp_path / "workers.db"
    proc, info = _start("--db", str(db), "--workers", "2")
    clients = [HsmClient(info["host"], info["port"]) for _ in range(8)]
    try:
        key = block_under_test_lmk("M6", bytes(range(16)), "A")
        kcv = clients[0].store_key("W01", key)
        for client in clients:  # whichever worker serves it sees the stored key
            for _ in range(5):
                assert client.key_check_value("KW01") == kcv
    finally:
        for client in clients:
            client.close()
        _stop(proc)
    con = sqlite3.connect(db)
    rows = con.execute("SELECT command, error FROM audit").fetchall()
    con.close()
    assert sorted(rows) == sorted([("LA", "00")] + [("BU", "00")] * 40)
