"""Acquirer host authorisations per second with ARQC verification through the
HSM, with `payterm host load` at 64 terminals (docs/benchmarks.md).

Three processes on this machine, as they would be deployed:

1. the HSM: ``payterm hsm --port 0`` (test LMK, in-memory key store) —
   or, with ``--hsms N``, N of them, which the host uses as a cluster;
2. the host: ``payterm host --port 0 --hsm … --db FILE`` on a database
   seeded by ``payterm host seed`` (64 terminals, 1024 synthetic CVN 18
   cards);
3. the load: ``payterm host load --terminals 64 --seconds S`` — 64 simulated
   terminals, each on its own TCP connection, one request in flight each,
   every request MACed (AES-CMAC), every answer's MAC checked.

Every authorisation is checked end to end: the host verifies the request
MAC (the seeded terminals MAC under AES DUKPT: HSM GY with the KSN of field
53), the ARQC (HSM KQ), the online PIN where there is one (HSM G0 + EC),
posts it in SQLite (WAL) with its journal row, and MACs its answer (HSM GW,
the request's KSN).  Reported: the load tool's JSON (messages/s, ARQC
authorisations/s, p50, p95, p99) for each run with the 1-minute load
average before and after it (the machine may be shared: the figure tracks
what other processes leave free), best and median of the runs.

    python -m benchmarks.bench_host [--seconds 10] [--runs 3] [--terminals 64] [--hsms 1]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

PAYTERM = (sys.executable, "-m", "payterm")


def _payterm(*args: str) -> list[str]:
    return [*PAYTERM, *args]


def _start(*args: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    proc = subprocess.Popen(
        _payterm(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(10)
        raise RuntimeError(proc.stderr.read() if proc.stderr else "no output")
    return proc, json.loads(line)


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()


def run(
    seconds: float, runs: int, terminals: int, connections: int, hsms: int = 1
) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "host.db")
        subprocess.run(
            _payterm("host", "seed", "--db", db, "--terminals", str(terminals),
                     "--load-cards", str(terminals * 16)),
            check=True, capture_output=True,
        )  # fmt: skip
        started = [_start("hsm", "--port", "0") for _ in range(hsms)]
        try:
            hsm_addr = ",".join(f"{i['host']}:{i['port']}" for _p, i in started)
            host, info = _start(
                "host", "--port", "0", "--hsm", hsm_addr, "--db", db,
                "--hsm-connections", str(connections),
            )  # fmt: skip
            try:
                for index in range(runs):
                    load_before = os.getloadavg()[0]
                    out = subprocess.run(
                        _payterm("host", "load", "--port", str(info["port"]),
                                 "--terminals", str(terminals), "--seconds", str(seconds),
                                 "--seed", str(index + 1)),
                        check=True, capture_output=True, text=True,
                    )  # fmt: skip
                    report = json.loads(out.stdout)
                    report["loadavg_1min"] = [load_before, os.getloadavg()[0]]
                    results.append(report)
                    print(json.dumps(_summary(report)), file=sys.stderr)
            finally:
                _stop(host)
        finally:
            for proc, _info in started:
                _stop(proc)
    rates = [r["arqc_authorisations_per_second"] for r in results]
    best = max(results, key=lambda r: r["arqc_authorisations_per_second"])
    return {
        "terminals": terminals,
        "hsm_processes": hsms,
        "seconds_per_run": seconds,
        "runs": [_summary(r) for r in results],
        "best": _summary(best),
        "median_arqc_authorisations_per_second": statistics.median(rates),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
    }


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "messages_per_second": report["messages_per_second"],
        "arqc_authorisations_per_second": report["arqc_authorisations_per_second"],
        "latency_ms": report["latency_ms"],
        "arqc_latency_ms": report["arqc_latency_ms"],
        "response_codes": report["response_codes"],
        "errors": report["errors"],
        "mac_failures": report["mac_failures"],
        "loadavg_1min_before_after": [round(x, 2) for x in report["loadavg_1min"]],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--terminals", type=int, default=64)
    parser.add_argument("--hsm-connections", type=int, default=2, help="per HSM")
    parser.add_argument("--hsms", type=int, default=1, help="HSM processes (a cluster)")
    args = parser.parse_args()
    result = run(args.seconds, args.runs, args.terminals, args.hsm_connections, args.hsms)
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
