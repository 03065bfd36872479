"""`payterm host` as processes: `payterm hsm` and `payterm host` in
subprocesses, the spec from `payterm host spec --json` driving a pyiso8583
client (with its MAC from the `cryptography` package) that talks to the host
unchanged, `payterm host seed` and a short `payterm host load`."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import iso8583
import pytest
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.cmac import CMAC

from host_sim.acquirer import seed
from host_sim.acquirer.terminal_sim import SimCard, transmission_time
from hsm_sim.crypto import dukpt_aes
from protocols.crypto import aes_dukpt

PAYTERM = (sys.executable, "-m", "payterm")


def payterm(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PAYTERM, *args], capture_output=True, text=True, timeout=timeout)


def start(*args: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    proc = subprocess.Popen(
        [*PAYTERM, *args],
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


def stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    return err


@pytest.fixture
def services(tmp_path: Path) -> Iterator[tuple[dict[str, Any], Path]]:
    db = tmp_path / "host.db"
    seeded = payterm("host", "seed", "--db", str(db), "--terminals", "3", "--load-cards", "8")
    assert seeded.returncode == 0, seeded.stderr
    assert json.loads(seeded.stdout) == {
        "merchant": "000000000123456",
        "terminals": ["PT000001", "PT000003"],
        "accounts": 6 + 8,
    }
    hsm, hsm_info = start("hsm", "--port", "0")
    try:
        hsm_addr = f"{hsm_info['host']}:{hsm_info['port']}"
        host, info = start("host", "--port", "0", "--hsm", hsm_addr, "--db", str(db))
        try:
            assert info["hsm"] == hsm_addr and info["db"] == str(db)
            yield info, db
        finally:
            stop(host)
    finally:
        stop(hsm)


def cmac8(key: bytes, data: bytes) -> bytes:
    mac = CMAC(algorithms.AES(key))
    mac.update(data)
    return mac.finalize()[:8]


def exchange(sock: socket.socket, data: bytes) -> bytes:
    sock.sendall(len(data).to_bytes(2, "big") + data)
    header = sock.recv(2, socket.MSG_WAITALL)
    return sock.recv(int.from_bytes(header, "big"), socket.MSG_WAITALL)


def test_pyiso8583_client_from_the_spec_json_talks_to_the_host(
    services: tuple[dict[str, Any], Path],
) -> None:
    info, db = services
    out = payterm("host", "spec", "--json")
    assert out.returncode == 0, out.stderr
    spec = json.loads(out.stdout)
    assert spec["t"]["data_enc"] == "b" and spec["2"]["len_count"] == "nibbles"
    tid = "PT000002"
    # The seeded terminals MAC under AES DUKPT: the MAC generation key of the
    # KSN named in field 53 (FF: no PIN block, 02: AES DUKPT), derived here
    # from the TEST BDK as the terminal's initial key holds it.
    ksn = seed.dukpt_ikid(2) + (5).to_bytes(4, "big")
    conn = sqlite3.connect(db, isolation_level=None)
    try:  # the scheme of the seeded terminals, whatever the seed's default
        conn.execute("UPDATE terminals SET mac_scheme = 'dukpt' WHERE tid = ?", (tid,))
    finally:
        conn.close()
    key = dukpt_aes.working_key(seed.test_bdk(), ksn, aes_dukpt.USAGE_MAC_GENERATION)
    card = SimCard.load_card(5)
    field55 = card.arqc_field55(4_200, "00", b"\x12\x34\x56\x78", bytes.fromhex("261122"))
    doc = {
        "t": "0200",
        "2": card.pan,
        "3": "000000",
        "4": "000000004200",
        "7": transmission_time(),
        "11": "000777",
        "14": card.expiry,
        "22": "051",
        "23": "001",
        "24": "003",
        "25": "00",
        "41": tid,
        "42": "000000000123456",
        "49": "400",
        "53": "FF02" + ksn.hex().upper(),
        "55": field55,
        "60": "000001",
        "64": "00" * 8,
    }
    raw, _ = iso8583.encode(doc, spec)
    raw = bytes(raw[:-8]) + cmac8(key, bytes(raw[:-8]))
    with socket.create_connection((info["host"], info["port"]), timeout=10) as sock:
        reply_raw = exchange(sock, raw)
        reply, _ = iso8583.decode(reply_raw, spec)
        assert reply["t"] == "0210" and reply["39"] == "00" and reply["11"] == "000777"
        assert reply["55"].startswith("9108")
        assert bytes.fromhex(reply["64"]) == cmac8(key, reply_raw[:-8])
        echo = {"t": "0800", "7": transmission_time(), "11": "000778", "24": "003",
                "41": tid, "70": "301"}  # fmt: skip
        echo_raw, _ = iso8583.encode(echo, spec)
        reply, _ = iso8583.decode(exchange(sock, bytes(echo_raw)), spec)
        assert (reply["t"], reply["39"], reply["70"]) == ("0810", "00", "301")


def test_load_reports_throughput_and_percentiles(services: tuple[dict[str, Any], Path]) -> None:
    info, db = services
    out = payterm(
        "host", "load", "--port", str(info["port"]), "--terminals", "3", "--seconds", "1.5",
        "--cards", "2",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["terminals"] == 3 and report["messages"] > 20
    assert report["errors"] == 0 and report["mac_failures"] == 0
    assert report["arqc_authorisations"] > 0
    assert set(report["mix"]) <= {"purchase", "auth", "purchase_pin", "reversal", "echo"}
    assert report["response_codes"].get("00", 0) == report["messages"]
    p = report["latency_ms"]
    assert 0 < p["p50"] <= p["p95"] <= p["p99"]
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT COUNT(*) FROM transactions").fetchone()[0]
    finally:
        conn.close()
    assert rows == report["messages"] - report["mix"].get("echo", 0)


def test_bad_options(tmp_path: Path) -> None:
    assert payterm("host", "--hsm", "nowhere").returncode == 2
    assert payterm("host", "--seed").returncode == 2  # an in-memory DB cannot be seeded
    down = payterm("host", "--port", "0", "--hsm", "127.0.0.1:1", "--db", str(tmp_path / "x.db"))
    assert down.returncode == 1 and "HSM" in down.stderr
    assert payterm("host", "load", "--terminals", "0").returncode == 2


def test_serve_with_seed_writes_the_test_data_first(tmp_path: Path) -> None:
    db = tmp_path / "seeded.db"
    hsm, hsm_info = start("hsm", "--port", "0")
    try:
        hsm_addr = f"{hsm_info['host']}:{hsm_info['port']}"
        host, info = start(
            "host", "--port", "0", "--hsm", hsm_addr, "--db", str(db), "--seed",
            "--terminals", "1", "--load-cards", "1",
        )  # fmt: skip
        try:
            import asyncio

            from host_sim.acquirer.terminal_sim import Link, SimTerminal
            from protocols import iso8583 as codec
            from protocols.iso8583_specs import PAYTERM_1987

            async def purchase() -> str:
                term = SimTerminal(1)
                link = await Link.open(info["host"], info["port"])
                try:
                    msg = term.financial("0200", "00", 900, SimCard.load_card(0), pin="1234")
                    return codec.decode(await link.send_raw(term.encode(msg)), PAYTERM_1987)["39"]
                finally:
                    await link.close()

            assert asyncio.run(purchase()) == "00"
        finally:
            stop(host)
    finally:
        stop(hsm)


def test_bench_host_runs_the_three_processes_and_reports_each_run() -> None:
    """``benchmarks.bench_host`` end to end, small: HSM, host and load as
    processes; every answer 00 and MAC-checked, the load average noted."""
    from benchmarks import bench_host

    result = bench_host.run(seconds=1.0, runs=1, terminals=4, connections=1)
    (only,) = result["runs"]
    assert only["errors"] == 0 and only["mac_failures"] == 0
    assert set(only["response_codes"]) == {"00"}
    assert only["arqc_authorisations_per_second"] > 0
    assert len(only["loadavg_1min_before_after"]) == 2
    assert result["median_arqc_authorisations_per_second"] == only["arqc_authorisations_per_second"]
