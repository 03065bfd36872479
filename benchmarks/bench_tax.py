"""Tax backend: record upload through the real HTTP server.

A synthetic journal of --records sale records (two lines, two tax rates,
a Z report every --per-z records) is built with protocols/ and signed with
ECDSA P-256 in the secure element's scheme.  Then, against a backend on
127.0.0.1 with a SQLite file:

1. batched: the whole journal in batches of --batch records (signed
   requests), records per second;
2. real time: --realtime more records, one request each, on top of the
   stored journal: latency per record.  The backend verifies each upload
   from the verifier state it keeps per device (docs/tax.md), so this does
   not grow with --records.

Usage: ``python -m benchmarks.bench_tax [--records N] [--batch B]
[--realtime K] [--json]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from host_sim.tax.app import Config, create_app
from host_sim.tax.client import TaxClient
from host_sim.tax.server import Running
from host_sim.tax.store import TaxStore
from protocols import fiscal_payload as fp
from protocols import fiscal_record as fr
from protocols import merkle
from tools.fiscal_softsign import SoftSigner
from tools.fiscal_verify import VerifierState

DEV = "PT-BENCH-01"
T0 = 1767225600


def journal(n: int, per_z: int, signer: SoftSigner) -> list[bytes]:
    lines = [(1600, 1000, 150, 150, "bread"), (400, 2000, 90, 180, "milk")]
    payload = fp.encode_receipt(fp.Receipt(lines, 0, 0))
    total = sum(ln[3] for ln in lines)
    prev, counters, out = fr.ZERO_HASH, fr.Counters(), []
    period_first, base, frontier, z_no, z_time = 1, fr.Counters(), merkle.Frontier(), 1, -1
    for seq in range(1, n + 1):
        t = T0 + seq
        if seq - period_first == per_z:
            rp = fp.Report(
                z_no,
                z_time if z_time >= 0 else T0,
                period_first,
                seq - 1,
                frontier.size,
                frontier.root(),
                counters.minus(base).rates,
            )
            rec = fr.Record(fr.Z_REPORT, DEV, seq, t, prev, counters.copy(), fp.encode_report(rp))
        else:
            counters.add(1600, 150, 0)
            counters.add(400, 180, 0)
            rec = fr.Record(fr.SALE, DEV, seq, t, prev, counters.copy(), payload, amount=total)
        rec.signature, rec.sig_counter = signer.sign(rec.digest())
        raw = rec.encode()
        h = hashlib.sha256(raw).digest()
        if rec.rtype == fr.Z_REPORT:
            period_first, base, frontier, z_no, z_time = (
                seq + 1,
                counters.copy(),
                merkle.Frontier(),
                z_no + 1,
                t,
            )
        else:
            frontier.append(merkle.leaf_hash(h))
        out.append(raw)
        prev = h
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=10000)
    ap.add_argument("--per-z", type=int, default=500)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--realtime", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    signer = SoftSigner(1)
    recs = journal(a.records + a.realtime, a.per_z, signer)
    tmp = Path(tempfile.mkdtemp(prefix="bench_tax"))
    store = TaxStore(str(tmp / "tax.sqlite"))
    running = Running(create_app(store, Config("bench")))
    try:
        c = TaxClient(running.url, "bench")
        assert c.register(DEV, signer.public_pem().decode()).status == 201
        t = time.perf_counter()
        for i in range(0, a.records, a.batch):
            r = c.upload(DEV, recs[i : min(i + a.batch, a.records)], signer)
            assert r.status == 200, r
        batched = time.perf_counter() - t
        lat = []
        for raw in recs[a.records :]:
            t = time.perf_counter()
            r = c.upload(DEV, [raw], signer)
            lat.append(time.perf_counter() - t)
            assert r.status == 200 and r.json()["accepted"] == 1, r
        assert not c.alerts()
        kept = store.verifier_state(DEV)
        assert kept is not None
        verified_to = VerifierState.from_json(kept).seq
        assert verified_to == len(recs), verified_to
    finally:
        running.stop()
        store.close()
    lat.sort()
    res: dict[str, Any] = {
        "python": platform.python_version(),
        "records": a.records,
        "batch": a.batch,
        "batched_s": round(batched, 3),
        "batched_records_per_s": round(a.records / batched),
        "realtime_on_top_of": a.records,
        "realtime_median_ms": round(lat[len(lat) // 2] * 1000, 1) if lat else None,
        "realtime_max_ms": round(lat[-1] * 1000, 1) if lat else None,
        "state_after_seq": verified_to,
    }
    if a.json:
        json.dump(res, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for k, v in res.items():
            print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
