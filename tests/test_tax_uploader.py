"""The terminal's tax uploader end to end: firmware/fiscal/uploader.py under
the real MicroPython unix port on the sim board (the journal on the
board's littlefs fiscal flash, records and requests signed by the SE
emulator on the board's I2C bus), posting over the board's ``net2`` link
(boards.sim.net.Dialer) to the real tax backend (host_sim/tax served by
uvicorn on 127.0.0.1, SQLite file), the device registered with the SE's
public key through the admin API.

(a) real time: each sale uploaded right after its append, accepted;
(b) three simulated days offline (the backend unreachable), sales and a Z
    report a day, then one catch-up call: all accepted in batches, each seq
    stored once, and exactly one alert, ``device_silent``, raised by the
    monitor while the terminal was silent for more than 72 h;
(c) an answer lost after the backend stored the records (a relay that
    drops the response): the next call gets ``already_submitted`` and
    advances;
(d) power cut at each flash write of the state update after the answer
    (PowerCutDevice): the records are sent again, idempotently.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from http_support import HttpRelay, RefusingPort, read_http_request
from se_support import SeServer
from tax_support import DAY, T0, Backend, backend

import boards
from tools import mpytest

DEV = "PT-SIM-0042"
HEAP = boards.load("sim")["memory"]["heap"]
# the catch-up in a small heap (most of it is the source-compiled firmware);
# 256K passed here but failed once on a clean CI clone (a receive buffer at
# the fragmentation edge), so the test keeps 64K of slack above that
CATCH_UP_HEAP = "320K"

HEADER = """
import json, sys, boards
from boards.sim.net import Dialer
from firmware.drivers.se import SecureElement
from firmware.secure import SecureElementApp
from firmware.fiscal.journal import Journal
from firmware.fiscal.uploader import Uploader
from firmware.net.http import HttpClient
DEV = %r
BREAD = (1600, 2000, 150, 300, "bread")
TEA = (1600, 3000, 25, 75, "tea")
MILK = (400, 1000, 90, 90, "milk")
board = boards.open_board("sim")
clock = board.rtc()
se = SecureElementApp(SecureElement(board.bus_for("secure_element"),
                      board.device("secure_element")["addr"], clock))
net = Dialer(board, board.device("tax")["bus"])
def out(x):
    print("OUT " + json.dumps(x))
def mount(device=None):
    return board.fiscal_fs(device=device)
def journal(fs):
    return Journal.open(fs.sub("journal"), se, clock.now())
def uploader(fs, j, **kw):
    http = HttpClient(net, net.authority, clock, 30000, peer="tax backend")
    return Uploader(http, j, se, DEV, fs, **kw)
def at(t):
    clock.set(t)
    return t
def finish(fs):
    fs.umount()
    board.deinit()
"""

SETUP = """
fs = mount()
out({"public": se.generate_key().hex()})
fs.mkdir("journal")
Journal.format(fs.sub("journal"), DEV, clock.now())
finish(fs)
"""

REAL_TIME = """
fs = mount()
j = journal(fs)
up = uploader(fs, j)
for i, dt in enumerate((3600, 3700, 3800, 80000)):
    at(T + dt)
    rec = j.z_report(clock.now()) if dt == 80000 else j.sale([BREAD, TEA], clock.now(), i % 2)
    t0 = clock.ticks_ms()
    res = up.upload(clock.now())
    res["ms"] = clock.ticks_diff(clock.ticks_ms(), t0)
    res["seq"] = rec.seq
    out(res)
finish(fs)
"""

OFFLINE = """
net.spec = dict(net.spec)
net.spec["connect_timeout_ms"] = 100  # no retrying a link that is down for 3 s a sale
fs = mount()
j = journal(fs)
up = uploader(fs, j)
for day in DAYS:
    base = T + day * 86400
    for k in range(5):
        at(base + 3600 + k * 600)
        j.sale([BREAD, MILK] if k % 2 else [TEA], clock.now(), k % 3)
        res = up.upload(clock.now())
        out({"day": day, "error": res["error"]["kind"], "pending": res["pending"]})
    at(base + 80000)
    j.z_report(clock.now())
    res = up.upload(clock.now())
    out({"day": day, "error": res["error"]["kind"], "pending": res["pending"]})
finish(fs)
"""

CATCH_UP = """
fs = mount()
j = journal(fs)
up = uploader(fs, j, max_records=MAX_RECORDS)
at(T)
import gc
gc.collect()
free = gc.mem_free()
t0 = clock.ticks_ms()
res = up.upload(clock.now())
res["ms"] = clock.ticks_diff(clock.ticks_ms(), t0)
res["heap_free_before"] = free
res["journal_seq"] = j.seq
out(res)
finish(fs)
"""

SALE_AND_UPLOAD = """
fs = mount()
j = journal(fs)
at(T)
rec = j.sale([TEA], clock.now())
res = uploader(fs, j).upload(clock.now())
res["seq"] = rec.seq
out(res)
finish(fs)
"""

UPLOAD = """
fs = mount()
j = journal(fs)
up = uploader(fs, j)
at(T)
before = up.state()[0]
res = up.upload(clock.now())
res["state_before"] = before
res["journal_seq"] = j.seq
out(res)
finish(fs)
"""

# a sale on the good flash; then the flash behind a power-cut wrapper: the
# upload's answer arrives and the state update is cut at flash write CUT
SALE_THEN_CUT = """
from boards.sim.flash import PowerCut, PowerCutDevice
fs = mount()
j = journal(fs)
at(T)
j.sale([BREAD], clock.now())
fs.umount()
cut = PowerCutDevice(board.flash(), CUT)
fs = mount(cut)
j = journal(fs)
up = uploader(fs, j)
before = up.state()[0]
try:
    res = up.upload(clock.now())
    res["cut"] = False
except PowerCut:
    res = {"cut": True}
res["writes"] = cut.writes
res["state_before"] = before
res["journal_seq"] = j.seq
out(res)
if not res["cut"]:
    finish(fs)
"""


class DropRelay(HttpRelay):
    """Forwards each request to the backend, reads the whole answer, and
    closes the terminal's connection without sending any of it: the answer
    is lost after the backend stored the records."""

    def __init__(self, upstream: int) -> None:
        self.answers: list[bytes] = []
        super().__init__(upstream)

    def _one(self, conn: socket.socket) -> None:
        self.answers.append(self.forward(conn))


class Terminal:
    """Runs firmware scripts on the sim board: the SE on i2c0, the fiscal
    flash in this test's folder, the tax backend on net2."""

    def __init__(self, tmp: Path, se_port: int, tax_port: int) -> None:
        self.tmp = tmp
        self.env = {
            "PAYTERM_SIM_I2C0": f"127.0.0.1:{se_port}",
            "PAYTERM_SIM_FLASH": str(tmp / "fiscal.img"),
            "PAYTERM_SIM_OTA": str(tmp / "ota.img"),
        }
        self.tax = f"127.0.0.1:{tax_port}"

    def run(
        self, code: str, t: int, net2: str | None = None, heap: str = HEAP, **consts: Any
    ) -> list[Any]:
        script = self.tmp / "tax_uploader_fw.py"
        head = HEADER % DEV + f"T = {t}\n" + "".join(f"{k} = {v!r}\n" for k, v in consts.items())
        script.write_text(head + code)
        env = dict(self.env, PAYTERM_SIM_NET2=net2 or self.tax, PAYTERM_SIM_CLOCK=str(t))
        proc = mpytest.run_script(script, heap, env=env, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return mpytest.json_lines(proc.stdout)


@pytest.fixture
def se_server(tmp_path: Path) -> Iterator[SeServer]:
    srv = SeServer(tmp_path / "se.json")
    yield srv
    srv.close()


@pytest.fixture
def tax(tmp_path: Path) -> Iterator[Backend]:
    yield from backend(tmp_path, T0)


def _kinds(b: Backend) -> list[tuple[str, int | None]]:
    return [(a["kind"], a["seq"]) for a in b.client.alerts(DEV)]


def _stored_once(b: Backend, last: int) -> None:
    """Each seq 1..last stored exactly once, and accepted exactly once in
    the audit log (records_accepted ranges tile 1..last)."""
    rows = b.store.db.execute(
        "SELECT seq, COUNT(*) FROM records WHERE device_id = ? GROUP BY seq ORDER BY seq", (DEV,)
    ).fetchall()
    assert rows == [(s, 1) for s in range(1, last + 1)]
    audit = b.client.admin("GET", "/v1/audit?after=0&limit=1000").json()
    seqs: list[int] = []
    for e in audit:
        if e["event"] == "records_accepted" and e["device_id"] == DEV:
            d = e["detail"]
            seqs += list(range(d["first_seq"], d["last_seq"] + 1))
    assert seqs == list(range(1, last + 1))


def _registered(b: Backend, term: Terminal) -> None:
    (setup,) = term.run(SETUP, T0)
    r = b.client.register(DEV, setup["public"], slot=0)
    assert r.status == 201, r


def test_real_time_offline_days_lost_answer_power_cut(
    tmp_path: Path, se_server: SeServer, tax: Backend
) -> None:
    term = Terminal(tmp_path, se_server.port, tax.running.port)
    _registered(tax, term)

    # (a) real time, day 0: each record uploaded right after its append
    tax.clock.now = T0 + 3600
    rt = term.run(REAL_TIME, T0)
    assert [r["seq"] for r in rt] == [1, 2, 3, 4]
    for r in rt:
        counts = (r["sent"], r["accepted"], r["already_submitted"], r["rejected"])
        assert counts == (1, 1, 0, 0), r
        assert (r["last_seq"], r["pending"], r["refused"], r["error"]) == (r["seq"], 0, None, None)
    assert _kinds(tax) == []
    print(f"\nreal-time upload (one record, SE-signed request): {[r['ms'] for r in rt]} ms")
    tax.clock.now = T0 + 80000

    # (b) three days offline: the backend is unreachable (nothing listens)
    with RefusingPort() as away:  # the backend is away: the link is refused
        off = term.run(OFFLINE, T0, net2=f"127.0.0.1:{away.port}", DAYS=[1, 2, 3])
    assert len(off) == 18
    assert {r["error"] for r in off} == {"unreachable"}
    assert [r["pending"] for r in off] == list(range(1, 19))  # the journal is the queue
    assert tax.store.device(DEV) is not None and len(tax.store.records(DEV)) == 4
    # the authority's monitor sees a terminal silent for more than 72 h
    tax.clock.now = T0 + 4 * DAY + 3600
    raised = tax.client.monitor().json()["raised"]
    assert [(a["kind"], a["seq"]) for a in raised] == [("device_silent", 4)]
    # back online: one call catches up, in batches of at most 8 records
    (cu,) = term.run(CATCH_UP, T0 + 4 * DAY + 3600, heap=CATCH_UP_HEAP, MAX_RECORDS=8)
    assert (cu["sent"], cu["accepted"], cu["already_submitted"], cu["rejected"]) == (18, 18, 0, 0)
    assert (cu["batches"], cu["last_seq"], cu["pending"], cu["error"]) == (3, 22, 0, None), cu
    assert cu["journal_seq"] == 22
    _stored_once(tax, 22)
    st = tax.client.device(DEV).json()
    assert (st["records"], st["last_seq"]) == (22, 22)
    # every day closed with a Z report, the terminal spoke again: nothing new
    assert tax.client.monitor().json()["raised"] == []
    assert _kinds(tax) == [("device_silent", 4)]
    print(
        f"catch-up: 18 records in 3 batches, {cu['ms']} ms,"
        f" heap free before: {cu['heap_free_before']} B of {CATCH_UP_HEAP}"
    )

    # (c) the answer is lost after the backend stored the records
    t = T0 + 4 * DAY + 7200
    tax.clock.now = t
    relay = DropRelay(tax.running.port)
    try:
        (lost,) = term.run(SALE_AND_UPLOAD, t, net2=f"127.0.0.1:{relay.port}")
    finally:
        relay.close()
    assert lost["seq"] == 23 and lost["error"]["kind"] == "truncated", lost
    assert (lost["last_seq"], lost["pending"]) == (22, 1)
    assert len(relay.answers) == 1 and relay.answers[0].startswith(b"HTTP/1.1 200 ")
    assert len(tax.store.records(DEV)) == 23  # stored, though the terminal never heard
    (again,) = term.run(SALE_AND_UPLOAD, t + 60)
    assert (again["seq"], again["already_submitted"], again["accepted"]) == (24, 1, 1), again
    assert (again["last_seq"], again["pending"], again["error"]) == (24, 0, None)
    _stored_once(tax, 24)

    # (d) power cut at each flash write of the state update after the answer
    cuts: list[dict[str, Any]] = []
    t += 600
    for n in range(1, 20):
        t += 60
        tax.clock.now = t
        (r,) = term.run(SALE_THEN_CUT, t, CUT=n)
        stored_before = len(tax.store.records(DEV))
        (nxt,) = term.run(UPLOAD, t + 1)
        cuts.append({"cut_at": n, "cut": r["cut"], "writes": r["writes"]})
        # what the state kept is exactly what is not sent as new again
        assert nxt["already_submitted"] == stored_before - nxt["state_before"], (r, nxt)
        assert nxt["accepted"] == nxt["journal_seq"] - stored_before
        assert (nxt["last_seq"], nxt["pending"], nxt["error"]) == (nxt["journal_seq"], 0, None)
        if r["cut"]:
            assert stored_before == r["journal_seq"]  # the backend had it before the cut
        if not r["cut"]:
            assert r["last_seq"] == r["journal_seq"] and nxt["sent"] == 0
            break
    assert cuts[0]["cut"] and not cuts[-1]["cut"], cuts
    resent = [c for c in cuts if c["cut"]]
    print(f"power cut swept over the {len(resent)} flash writes of the state update")
    last = len(tax.store.records(DEV))
    _stored_once(tax, last)
    assert _kinds(tax) == [("device_silent", 4)]
    assert tax.client.admin("GET", "/v1/audit/verify").json()["valid"] is True


def test_backend_gone_mid_catch_up(tmp_path: Path, se_server: SeServer, tax: Backend) -> None:
    """A catch-up interrupted by the backend going away after its first
    batch keeps what was acknowledged; the next call sends only the rest."""
    term = Terminal(tmp_path, se_server.port, tax.running.port)
    _registered(tax, term)
    tax.clock.now = T0 + 3600
    with RefusingPort() as away:
        off = term.run(OFFLINE, T0, net2=f"127.0.0.1:{away.port}", DAYS=[0])
    assert [r["pending"] for r in off] == [1, 2, 3, 4, 5, 6]
    # the backend goes away after the first batch: a relay that serves one
    # request and then nothing listens
    relay = OneShotRelay(tax.running.port)
    try:
        (part,) = term.run(CATCH_UP, T0 + 81000, net2=f"127.0.0.1:{relay.port}", MAX_RECORDS=4)
    finally:
        relay.close()
    assert (part["sent"], part["accepted"], part["batches"]) == (6, 4, 2), part
    assert (part["last_seq"], part["pending"], part["error"]["kind"]) == (4, 2, "truncated")
    (rest,) = term.run(UPLOAD, T0 + 81100)
    assert (rest["state_before"], rest["accepted"], rest["last_seq"]) == (4, 2, 6), rest
    _stored_once(tax, 6)
    assert _kinds(tax) == []


class OneShotRelay(HttpRelay):
    """Passes the first request and its answer; later connections are
    accepted and closed with no answer (the backend went away)."""

    def _one(self, conn: socket.socket) -> None:
        if self.seen:
            self.seen.append(read_http_request(conn))
            return
        conn.sendall(self.forward(conn))
