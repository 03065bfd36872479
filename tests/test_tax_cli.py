"""`payterm tax` as a process: prints where it listens as JSON, serves the
API with its SQLite file, stops cleanly on SIGTERM, and the file keeps the
devices for the next start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from host_sim.tax.client import TaxClient
from tools.fiscal_softsign import SoftSigner


def _start(
    args: list[str], env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], dict[str, object]]:
    p = subprocess.Popen(
        [sys.executable, "-m", "payterm", "tax", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert p.stdout is not None
    line = p.stdout.readline()
    assert line, p.stderr.read() if p.stderr else ""
    return p, json.loads(line)


def _stop(p: subprocess.Popen[str]) -> int:
    p.send_signal(signal.SIGTERM)
    try:
        return p.wait(10)
    finally:
        if p.stdout:
            p.stdout.close()
        if p.stderr:
            p.stderr.close()


def test_serve_register_sigterm_and_restart(tmp_path: Path) -> None:
    db = tmp_path / "tax.sqlite"
    p, info = _start(["--port", "0", "--db", str(db)])
    try:
        assert info["host"] == "127.0.0.1" and isinstance(info["port"], int) and info["port"] > 0
        assert info["openapi"] == f"{info['url']}/openapi.json"
        token = info["admin_token"]
        assert isinstance(token, str) and len(token) >= 24
        c = TaxClient(str(info["url"]), token)
        assert c.request("GET", "/v1/health").status == 200
        s = SoftSigner(1)
        assert c.register("PT-CLI-1", s.public_pem().decode()).status == 201
        assert c.request("GET", "/openapi.json").status == 200
    finally:
        assert _stop(p) == 0
    # the token from the environment, the device still there
    env = dict(os.environ, PAYTERM_TAX_ADMIN_TOKEN="let-me-in")
    p, info = _start(["--port", "0", "--db", str(db)], env)
    try:
        assert "admin_token" not in info
        c = TaxClient(str(info["url"]), "let-me-in")
        r = c.device("PT-CLI-1")
        assert r.status == 200 and r.json()["device_id"] == "PT-CLI-1"
        audit = c.admin("GET", "/v1/audit/verify").json()
        assert audit["valid"] and audit["entries"] == 1
    finally:
        assert _stop(p) == 0


def test_bad_options_exit_2(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "payterm", "tax", "--ca", str(tmp_path / "missing.pem")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 2 and "missing.pem" in r.stderr
