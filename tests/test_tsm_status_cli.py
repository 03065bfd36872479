"""``payterm tax --tsm`` and ``payterm host --tsm`` as processes next to
``payterm tsm`` and ``payterm hsm``: the seeded demo terminal's device
(PTSE-SIM-0001) enrolled at the TSM by a software SE's proof and revoked
through the admin API; the host declines its sign-on 58 and signs on a
terminal that is not mapped; the tax backend refuses to register it (403);
with the TSM stopped, registration fails closed (503) and the known
revocation still holds. Bad ``--tsm`` options exit 2."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tsm_status_support import point

from host_sim.acquirer.terminal_sim import transmission_time
from hsm_sim.tsm.app import pop_digest
from protocols import iso8583
from protocols.iso8583_specs import PAYTERM_1987
from tools.fiscal_softsign import SoftSigner

PAYTERM = (sys.executable, "-m", "payterm")
DEMO_SERIAL = "PTSE-SIM-0001"  # seed_data.json: PT000001's device at the TSM


def start(*args: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    proc = subprocess.Popen(
        [*PAYTERM, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(10)
        raise AssertionError(proc.stderr.read() if proc.stderr else "no output")
    return proc, json.loads(line)


def stop(proc: subprocess.Popen[str]) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    return err


def http(
    url: str, method: str = "GET", body: Any = None, token: str | None = None
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def enrol(tsm: str, se: SoftSigner, serial: str) -> dict[str, Any]:
    _s, ch = http(tsm + "/v1/challenge", "POST", {"serial": serial, "purpose": "enrol"})
    sig, counter = se.sign(pop_digest("enrol", serial, bytes.fromhex(ch["challenge"])))
    body = {"serial": serial, "public_key": point(se), "challenge": ch["challenge"], "slot": 0,
            "counter": counter, "signature": sig.hex()}  # fmt: skip
    status, ans = http(tsm + "/v1/enrol", "POST", body)
    assert status == 201, ans
    return dict(ans)


def sign_on(port: int, tid: str) -> str:
    msg = {"t": "0800", "7": transmission_time(), "11": "000001", "24": "003", "41": tid,
           "42": "000000000123456", "70": "001"}  # fmt: skip
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(iso8583.frame(iso8583.encode(msg, PAYTERM_1987)))
        head = s.recv(2, socket.MSG_WAITALL)
        body = s.recv(int.from_bytes(head, "big"), socket.MSG_WAITALL)
    return iso8583.decode(body, PAYTERM_1987)["39"]


def test_tax_and_host_processes_check_the_tsm(tmp_path: Path) -> None:
    db = tmp_path / "host.db"
    seed = [*PAYTERM, "host", "seed", "--db", str(db), "--terminals", "2", "--load-cards", "0"]
    seeded = subprocess.run(seed, capture_output=True, text=True, timeout=60)
    assert seeded.returncode == 0, seeded.stderr
    tsm, tsm_info = start("tsm", "--port", "0", "--db", str(tmp_path / "tsm.db"))
    procs = [tsm]
    try:
        url, token = tsm_info["url"], tsm_info["admin_token"]
        se, other = SoftSigner(71), SoftSigner(72)
        cert = enrol(url, se, DEMO_SERIAL)["certificate"]
        other_cert = enrol(url, other, "PTSE-SIM-0002")["certificate"]  # stays active
        status, ans = http(f"{url}/v1/devices/{DEMO_SERIAL}/revoke", "POST", {"reason": "stolen"},
                           token)  # fmt: skip
        assert status == 200 and ans["status"] == "revoked"

        hsm, hsm_info = start("hsm", "--port", "0")
        procs.append(hsm)
        host, host_info = start("host", "--port", "0", "--db", str(db), "--hsm",
                                f"{hsm_info['host']}:{hsm_info['port']}", "--tsm", url,
                                "--tsm-fail", "closed")  # fmt: skip
        procs.append(host)
        assert host_info["tsm"] == url
        ca = tmp_path / "ca.pem"
        ca.write_text(tsm_info["ca"])
        tax, tax_info = start("tax", "--port", "0", "--ca", str(ca), "--tsm", url,
                              "--admin-token-file", str(_token(tmp_path)))  # fmt: skip
        procs.append(tax)
        assert tax_info["tsm"] == url

        assert sign_on(host_info["port"], "PT000001") == "58"  # the revoked demo terminal
        assert sign_on(host_info["port"], "PT000002") == "00"  # not mapped: not checked
        reg = {"device_id": "PT-SIM-0001", "public_key": point(se), "certificate": cert}
        status, err = http(tax_info["url"] + "/v1/devices", "POST", reg, "tax-token")
        assert (status, err["error"]["code"]) == (403, "device_revoked")

        stop(tsm)  # the TSM goes away
        procs.remove(tsm)
        status, err = http(tax_info["url"] + "/v1/devices", "POST",
                           {"device_id": "PT-SIM-0002", "public_key": point(other),
                            "certificate": other_cert}, "tax-token")  # fmt: skip
        assert (status, err["error"]["code"]) == (503, "tsm_unreachable")  # fails closed
        status, err = http(tax_info["url"] + "/v1/devices", "POST", reg, "tax-token")
        assert (status, err["error"]["code"]) == (403, "device_revoked")  # known: kept
        assert sign_on(host_info["port"], "PT000001") == "58"
        stop(host)
        procs.remove(host)
        stop(tax)
        procs.remove(tax)
    finally:
        for p in procs:
            p.kill()
            p.communicate(timeout=20)


def _token(tmp: Path) -> Path:
    f = tmp / "tax-token"
    f.write_text("tax-token")
    return f


def test_bad_tsm_options_exit_2(tmp_path: Path) -> None:
    for cmd in (("tax", "--tsm", "ftp://tsm"), ("tax", "--tsm", "http://x", "--tsm-timeout", "0"),
                ("host", "--tsm", "tsm:8480"), ("host", "--tsm", "http://x", "--tsm-fail", "maybe"),
                ("host", "--tsm", "http://x", "--tsm-ttl", "-1")):  # fmt: skip
        r = subprocess.run([*PAYTERM, *cmd], capture_output=True, text=True, timeout=60)
        assert r.returncode == 2, (cmd, r.stderr)
        assert "tsm" in r.stderr, r.stderr
