"""Power cut at every block write of a representative fiscal sequence, under
real MicroPython on littlefs (the sim board's PowerCutDevice).

For each write N of the sequence (power-on, sales, a refund, a void, an X
report, a sale, a Z report and the first sale of the next period), one
MicroPython process runs the firmware journal on ``PowerCutDevice(cut_at=N)``
and prints ``ACK <seq>`` each time an append returned.  A fresh MicroPython
process then powers the flash back on, opens the journal (recovery), exports
it and appends a record.  The host checks: the export verifies (chain,
counters, Z/X roots, ECDSA signatures, signed trailer), it holds every
acknowledged record, and at most the one record in flight beyond them,
complete; the header was not reformatted.  Clean cuts and torn programs.

The suite sweeps a 64 KiB littlefs of 512-byte blocks (78 writes, clean and
torn by 7 bytes: about 15 s).  PAYTERM_FISCAL_SWEEP=full adds torn lengths
1, 33, 200 and 511, and the sim board's own geometry (4096-byte blocks,
1 MiB) clean and torn (several minutes).
"""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tools import fiscal_verify as fv
from tools.fiscal_softsign import SoftSigner, run

DEV = "PT-SIM-0001"
FULL = os.environ.get("PAYTERM_FISCAL_SWEEP") == "full"
SMALL = (512, 128)
BOARD = (4096, 256)
CASES = [(SMALL, t) for t in ((0, 1, 7, 33, 200, 511) if FULL else (0, 7))]
if FULL:
    CASES += [(BOARD, 0), (BOARD, 7)]


def _code(call: str) -> str:
    return "import fiscal_scenario as S\n" + call + "\n"


Base = tuple[Path, int, list[int], tuple[int, int]]
_bases: dict[tuple[int, int], Base] = {}


def _base(tmp: Path, geo: tuple[int, int]) -> Base:
    if geo in _bases:
        return _bases[geo]
    bs, count = geo
    img = tmp / f"base_{bs}.img"
    r = run(_code(f"S.make_image({str(img)!r}, {DEV!r}, {bs}, {count})"), SoftSigner())
    assert r.returncode == 0, r.stderr
    work = tmp / f"count_{bs}.img"
    shutil.copy(img, work)
    r = run(_code(f"S.powercut_run({str(work)!r}, None, 0, {bs}, {count})"), SoftSigner())
    assert r.returncode == 0 and "DONE" in r.lines, r.stderr
    _bases[geo] = (img, int(r.value("WRITES") or 0), r.acked, geo)
    return _bases[geo]


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cut")


@pytest.fixture(scope="module")
def base(tmp: Path) -> Base:
    return _base(tmp, SMALL)


def _one(b: Base, n: int, torn: int) -> str | None:
    base_img, _w, full, (bs, count) = b
    work = base_img.parent / f"w{bs}_{n}_{torn}.img"
    exp = base_img.parent / f"w{bs}_{n}_{torn}.exp"
    try:
        shutil.copy(base_img, work)
        signer = SoftSigner()
        r = run(_code(f"S.powercut_run({str(work)!r}, {n}, {torn}, {bs}, {count})"), signer)
        if r.returncode != 0 or r.value("CUT") is None:
            return f"cut {n}/{torn}: run failed or no cut: {r.lines[-3:]} {r.stderr[-500:]}"
        acked = r.acked
        if acked != full[: len(acked)]:
            return f"cut {n}/{torn}: acked {acked}"
        r2 = run(_code(f"S.check_after_cut({str(work)!r}, {str(exp)!r}, {bs}, {count})"), signer)
        if r2.returncode != 0 or "OK" not in r2.lines:
            return f"cut {n}/{torn}: recovery failed: {r2.lines[-3:]} {r2.stderr[-800:]}"
        if r2.value("HEADER_OK") != "True":
            return f"cut {n}/{torn}: header lost"
        seq = int(r2.value("SEQ") or -1)
        if not len(acked) <= seq <= len(acked) + 1:
            return f"cut {n}/{torn}: journal holds {seq} records, {len(acked)} acknowledged"
        res = fv.verify(exp.read_bytes(), fv.load_public_key(signer.public_pem()))
        if not res.ok:
            return f"cut {n}/{torn}: export does not verify: {res.problem}"
        if res.last_seq != seq:
            return f"cut {n}/{torn}: export ends at {res.last_seq}, journal at {seq}"
        if r2.value("TORN") != "None":
            return f"cut {n}/{torn}: littlefs let a torn frame through: {r2.value('TORN')}"
        return None
    finally:
        for p in (work, exp):
            p.unlink(missing_ok=True)


def test_sequence_is_representative(base: Base) -> None:
    _img, writes, acked, _geo = base
    assert acked == list(range(1, 11))
    assert writes > 3 * len(acked)


@pytest.mark.parametrize(("geo", "torn"), CASES)
def test_power_cut_at_every_write(tmp: Path, geo: tuple[int, int], torn: int) -> None:
    b = _base(tmp, geo)
    writes = b[1]
    with ThreadPoolExecutor(max(2, os.cpu_count() or 2)) as ex:
        problems = [p for p in ex.map(lambda n: _one(b, n, torn), range(1, writes + 1)) if p]
    assert not problems, "\n".join(problems[:10])
