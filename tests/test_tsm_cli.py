"""`payterm tsm` through its entry point (``python -m payterm tsm``): it prints where it
listens, serves over HTTP with a SQLite file, stops on SIGTERM; bad options
exit 2."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

ENTRY = [sys.executable, "-m", "payterm", "tsm"]
PACKAGE = [*ENTRY, "package", "--board", "sim", "--version", "1", "--build"]


def test_serve_prints_where_it_listens_and_stops_on_sigterm(tmp_path: Path) -> None:
    db, keys = tmp_path / "tsm.db", tmp_path / "keys"
    proc = subprocess.Popen(
        [*ENTRY, "--port", "0", "--db", str(db), "--keys", str(keys)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert info["host"] == "127.0.0.1" and info["port"] > 0
        assert info["url"] == f"http://127.0.0.1:{info['port']}"
        assert info["admin_token"]
        assert info["ca"] == (keys / "ca.pem").read_text()
        with urllib.request.urlopen(info["url"] + "/v1/ca", timeout=10) as r:
            assert json.loads(r.read())["release_key"] == info["release_key"]
        with urllib.request.urlopen(info["openapi"], timeout=10) as r:
            paths = json.loads(r.read())["paths"]
        assert "/v1/certs/{cert_serial}/status" in paths and "/v1/enrol" in paths
        req = urllib.request.Request(
            info["url"] + "/v1/params",
            data=json.dumps({"aids": [], "capks": [], "limits": {}, "tax_rates": []}).encode(),
            method="PUT",
            headers={
                "Authorization": "Bearer " + info["admin_token"],
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            assert json.loads(r.read())["version"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    assert db.stat().st_size > 0


def test_bad_options_exit_2(tmp_path: Path) -> None:
    r = subprocess.run([*ENTRY, "--cert-days", "0", "--port", "0"], capture_output=True, text=True)
    assert r.returncode == 2 and "--cert-days" in r.stderr
    out = tmp_path / "o.pkg"
    r = subprocess.run(
        [*PACKAGE, str(tmp_path), "--key", str(tmp_path / "none.pem"), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "cannot read" in r.stderr
    (tmp_path / "k.pem").write_text("not a key")
    r = subprocess.run(
        [*PACKAGE, str(tmp_path), "--key", str(tmp_path / "k.pem"), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2
    assert not out.exists()
