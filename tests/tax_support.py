"""Helpers of the tax-backend tests: journals written by the real firmware
journal under MicroPython (tests/mpy/fiscal_scenario.py, signed by a
software SE, tools/fiscal_softsign.py), split into records; a backend on
127.0.0.1 with a real SQLite file and an adjustable clock."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

from host_sim.tax.app import Config, create_app
from host_sim.tax.client import TaxClient
from host_sim.tax.server import Running
from host_sim.tax.store import TaxStore
from tools.fiscal_softsign import SoftSigner, run

T0 = 1767225600  # fiscal_scenario.T0
DAY = 86400
DEV_A = "PT-SIM-0001"  # test_fiscal_verify.DEV: its re-signing helper writes this trailer


def records_of(export: bytes) -> list[bytes]:
    """The canonical record encodings of an export (docs/fiscal.md, Export)."""
    hl = int.from_bytes(export[5:7], "big")
    pos = 7 + hl
    out = []
    while True:
        n = int.from_bytes(export[pos : pos + 2], "big")
        if n == 0:
            return out
        out.append(export[pos + 2 : pos + 2 + n])
        pos += n + 6


def scenario_export(tmp: Path, dev: str, signer: SoftSigner) -> bytes:
    """fiscal_scenario.export_scenario: sales, refund, void, X, Z, training,
    config change, a signer failure, a second Z, a last sale (16 records)."""
    img, exp = tmp / f"{dev}.img", tmp / f"{dev}.exp"
    code = f"import fiscal_scenario as S\nS.export_scenario({str(img)!r}, {str(exp)!r}, {dev!r})\n"
    signer.fail_calls = {13}
    r = run(code, signer)
    assert r.returncode == 0, r.stderr
    return exp.read_bytes()


OFFLINE_DAYS = """
import fiscal_scenario as S
from pipe_signer import PipeSigner
from protocols import fiscal_record as fr
S.make_image({img!r}, {dev!r})
d, _dev, j = S.open_journal({img!r}, PipeSigner(), S.T0)
S.ack(j.event(fr.POWER_ON, S.T0 + 5, 1, "boot"))
for day in range({days}):
    t = S.T0 + day * 86400
    S.ack(j.sale([S.BREAD, S.MILK], t + 3600))
    S.ack(j.sale([S.TEA], t + 7200, 1))
    if day == 1:
        S.ack(j.refund([S.MILK], t + 9000, 3))
        S.ack(j.x_report(t + 10000))
    S.ack(j.sale([S.BREAD, S.TEA], t + 30000, 2))
    S.ack(j.z_report(t + 80000))
with open({exp!r}, "wb") as out:
    print("TRAILER %s" % j.export(out, S.T0 + {days} * 86400))
import os
os.umount(S.MP)
d.close()
"""


def offline_export(tmp: Path, dev: str, signer: SoftSigner, days: int = 3) -> bytes:
    """A terminal that sold for ``days`` days, one Z report a day, offline."""
    img, exp = tmp / f"{dev}-off.img", tmp / f"{dev}-off.exp"
    r = run(OFFLINE_DAYS.format(img=str(img), exp=str(exp), dev=dev, days=days), signer)
    assert r.returncode == 0, r.stderr
    assert r.value("TRAILER") == "True"
    return exp.read_bytes()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Backend:
    def __init__(self, db: Path, clock: Clock, **kw: object) -> None:
        self.token = secrets.token_urlsafe(16)
        self.clock = clock
        self.store = TaxStore(str(db))
        self.config = Config(self.token, clock=clock, **kw)  # type: ignore[arg-type]
        self.running = Running(create_app(self.store, self.config))
        self.client = TaxClient(self.running.url, self.token)

    def close(self) -> None:
        self.running.stop()
        self.store.close()


def backend(tmp: Path, now: float = T0, **kw: object) -> Iterator[Backend]:
    b = Backend(tmp / "tax.sqlite", Clock(now), **kw)
    try:
        yield b
    finally:
        b.close()


TIMELINE = """
import fiscal_scenario as S
from pipe_signer import PipeSigner
from firmware.fiscal.journal import Journal
S.make_image({img!r}, {dev!r})
d, _dev, _j = S.open_journal({img!r}, PipeSigner(), S.T0)
j = Journal.open(S.FS, PipeSigner(), S.T0, z_limit_s={z_limit})
for kind, dt in {steps!r}:
    t = S.T0 + dt
    if kind == "sale":
        S.ack(j.sale([S.BREAD], t))
    else:
        S.ack(j.z_report(t))
with open({exp!r}, "wb") as out:
    j.export(out, t + 1)
import os
os.umount(S.MP)
d.close()
"""


def timeline_export(
    tmp: Path, dev: str, signer: SoftSigner, steps: list[tuple[str, int]], z_limit: int = DAY
) -> bytes:
    """Sales and Z reports at T0 + dt, by a journal opened with ``z_limit``
    (a terminal configured with a longer limit than the authority's)."""
    img, exp = tmp / f"{dev}-tl.img", tmp / f"{dev}-tl.exp"
    code = TIMELINE.format(img=str(img), exp=str(exp), dev=dev, steps=steps, z_limit=z_limit)
    r = run(code, signer)
    assert r.returncode == 0, r.stderr
    return exp.read_bytes()
