"""Fiscal memory: appends on the sim board, host verification, Merkle proofs.

1. Appends per second under MicroPython (unix port, -X heapsize=1M) on the
   sim board's fiscal flash geometry (littlefs on a FileBlockDevice, 4096 x
   256), --appends sales of two lines each, with
   - an in-process hash "signer" (the cost of encoding, hashing and littlefs
     alone), and
   - a software ECDSA P-256 signer on the host reached over a pipe
     (tests/mpy/pipe_signer.py: the shape of an external secure element).
   Also the Z report after them and the journal's open (recovery scan).
2. Host verification (tools/fiscal_verify.py) of a synthetic export of
   --records records built with protocols/ and signed with ECDSA P-256:
   per record and in total, one process and --jobs processes.
3. RFC 6962 proofs over --leaves leaves (protocols/merkle.py): tree build,
   inclusion proof size and time, consistency proof, verification.

Usage: ``python -m benchmarks.bench_fiscal [--appends N] [--records N]
[--leaves N] [--jobs J] [--json]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from protocols import fiscal_payload as fp
from protocols import fiscal_record as fr
from protocols import merkle
from protocols.se_app import signed_message
from tools import fiscal_verify as fv
from tools.fiscal_softsign import SoftSigner, run

SIGNERS: dict[bool | str, str] = {
    False: "in-process hash (no ECDSA)",
    True: "software ECDSA P-256 on the host, over a pipe",
    "se": "secure-element emulator over the sim I2C channel",
}


def bench_appends(n: int, pipe: bool | str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        img = Path(tmp) / "fiscal.img"
        code = "import fiscal_scenario as S\n"
        code += f"S.bench_appends({str(img)!r}, {n}, {pipe!r}, 4096, 256)\n"
        server = None
        env: dict[str, str] = {}
        if pipe == "se":
            from hsm_sim.se.engine import Engine
            from hsm_sim.se.service import Background

            server = Background(Engine.open(Path(tmp) / "se.json"))
            env["PAYTERM_SIM_I2C0"] = f"127.0.0.1:{server.port}"
        try:
            r = run(code, SoftSigner(), heap="1M", timeout=600, extra_env=env)
        finally:
            if server is not None:
                server.close()
    if r.returncode != 0:
        raise RuntimeError("\n".join(r.lines[-5:]) + r.stderr)
    us = int(r.value("US") or 0)
    return {
        "signer": SIGNERS[pipe],
        "appends": n,
        "appends_per_s": round(n / (us / 1e6), 1),
        "ms_per_append": round(us / n / 1000, 3),
        "block_writes_per_append": round(int(r.value("WRITES") or 0) / n, 2),
        "z_report_ms": round(int(r.value("ZUS") or 0) / 1000, 1),
        "open_ms": round(int(r.value("OPENUS") or 0) / 1000, 1),
    }


def bench_capacity() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        img = Path(tmp) / "fiscal.img"
        code = f"import fiscal_scenario as S\nS.bench_capacity({str(img)!r}, 4096, 256)\n"
        r = run(code, SoftSigner(), heap="1M", timeout=900)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    return {
        "flash_bytes": 4096 * 256,
        "sales_before_refusal": int(r.value("CAPACITY") or 0),
        "warned_at_sale": int(r.value("WARNED") or 0),
        "free_bytes_at_refusal": int(r.value("FREE") or 0),
        "message": r.value("REFUSED"),
    }


LINES = [(1600, 2000, 150, 300, "bread"), (400, 1000, 90, 90, "milk")]


def build_export(n: int) -> tuple[bytes, ec.EllipticCurvePublicKey]:
    """n records as the firmware writes them: sales, a Z report every 1000."""
    key = ec.derive_private_key(0xBE4C4, ec.SECP256R1())
    algo = ec.ECDSA(hashes.SHA256())
    dev = "PT-BENCH-01"
    t0 = 1767225600
    hdr_body = b"PTFJ\x01" + bytes([len(dev)]) + dev.encode() + t0.to_bytes(4, "big")
    header = hdr_body + hashlib.sha256(hdr_body).digest()
    out = [b"PTFX\x01", len(header).to_bytes(2, "big"), header]
    rc = fp.Receipt(LINES, 1, 0)
    payload = fp.encode_receipt(rc)
    counters = fr.Counters()
    base = fr.Counters()
    prev = fr.ZERO_HASH
    frontier = merkle.Frontier()
    z_number, z_time, first = 1, t0, 1
    for seq in range(1, n + 1):
        t = t0 + seq
        if seq % 1000 == 0:
            rp = fp.Report(
                z_number,
                z_time,
                first,
                seq - 1,
                frontier.size,
                frontier.root(),
                counters.minus(base).rates,
            )
            rec = fr.Record(fr.Z_REPORT, dev, seq, t, prev, counters.copy(), fp.encode_report(rp))
        else:
            c2 = counters.copy()
            for rate, total in rc.totals():
                c2.add(rate, total, 0)
            rec = fr.Record(fr.SALE, dev, seq, t, prev, c2, payload, amount=rc.total())
        r, s = decode_dss_signature(key.sign(signed_message(rec.digest(), seq, 0), algo))
        rec.signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        rec.sig_counter = seq
        raw = rec.encode()
        out.append(len(raw).to_bytes(2, "big") + raw + hashlib.sha256(raw).digest()[:4])
        prev = hashlib.sha256(raw).digest()
        counters = rec.counters
        if rec.rtype == fr.Z_REPORT:
            z_number, z_time, first = z_number + 1, t, seq + 1
            base = counters
            frontier = merkle.Frontier()
        else:
            frontier.append(merkle.leaf_hash(prev))
    body = b"PTFE" + bytes([len(dev)]) + dev.encode() + n.to_bytes(4, "big") + prev
    body += (t0 + n + 1).to_bytes(4, "big")
    msg = signed_message(hashlib.sha256(body).digest(), n + 1, 0)
    r, s = decode_dss_signature(key.sign(msg, algo))
    tail = (n + 1).to_bytes(4, "big") + b"\x40" + r.to_bytes(32, "big") + s.to_bytes(32, "big")
    out.append(b"\x00\x00" + body + tail)
    return b"".join(out), key.public_key()


def bench_verify(n: int, jobs: int) -> dict[str, Any]:
    t = time.perf_counter()
    data, pub = build_export(n)
    build_s = time.perf_counter() - t
    res: dict[str, Any] = {"records": n, "export_bytes": len(data), "build_s": round(build_s, 1)}
    for j in sorted({1, jobs}):
        t = time.perf_counter()
        r = fv.verify(data, pub, jobs=j)
        dt = time.perf_counter() - t
        assert r.ok and r.records == n, r.problem
        res[f"verify_s_jobs{j}"] = round(dt, 2)
        res[f"us_per_record_jobs{j}"] = round(dt / n * 1e6, 1)
    t = time.perf_counter()
    v = fv.Verifier(data)
    v.run(True)
    res["structural_pass_s"] = round(time.perf_counter() - t, 2)
    return res


def bench_merkle(n: int) -> dict[str, Any]:
    t = time.perf_counter()
    lh = [merkle.leaf_hash(i.to_bytes(8, "big")) for i in range(n)]
    leaves_s = time.perf_counter() - t
    t = time.perf_counter()
    tree = merkle.Tree(lh)
    build_s = time.perf_counter() - t
    root = tree.root()
    t = time.perf_counter()
    f = merkle.Frontier()
    for h in lh:
        f.append(h)
    assert f.root() == root
    frontier_s = time.perf_counter() - t
    idx = [(i * 7919) % n for i in range(1000)]
    t = time.perf_counter()
    proofs = [tree.inclusion_proof(i) for i in idx]
    gen_us = (time.perf_counter() - t) / len(idx) * 1e6
    t = time.perf_counter()
    for i, p in zip(idx, proofs, strict=True):
        assert merkle.verify_inclusion(lh[i], i, n, p, root)
    ver_us = (time.perf_counter() - t) / len(idx) * 1e6
    m = n // 3
    t = time.perf_counter()
    cp = tree.consistency_proof(m)
    cgen_us = (time.perf_counter() - t) * 1e6
    assert merkle.verify_consistency(m, n, tree.range_root(0, m), root, cp)
    return {
        "leaves": n,
        "leaf_hashing_s": round(leaves_s, 2),
        "tree_build_s": round(build_s, 2),
        "frontier_root_s": round(frontier_s, 2),
        "inclusion_proof_hashes": max(len(p) for p in proofs),
        "inclusion_proof_bytes": 32 * max(len(p) for p in proofs),
        "inclusion_proof_us": round(gen_us, 1),
        "inclusion_verify_us": round(ver_us, 1),
        "consistency_proof_hashes": len(cp),
        "consistency_proof_us": round(cgen_us, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--appends", type=int, default=500)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--leaves", type=int, default=1_000_000)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    out: dict[str, Any] = {
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
        "appends": [
            bench_appends(a.appends, False),
            bench_appends(a.appends, True),
            bench_appends(a.appends, "se"),
        ],
        "capacity": bench_capacity(),
        "merkle": bench_merkle(a.leaves),
        "verify": bench_verify(a.records, a.jobs),
    }
    if a.json:
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for k, v in out.items():
            print(k, json.dumps(v))
    return 0


if __name__ == "__main__":
    sys.exit(main())
