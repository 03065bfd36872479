"""Compliance monitoring: a terminal offline for three simulated days
catches up with no duplicate and only the alert that should fire (device
silent); missing Z reports are named at upload and by the monitor; the
background monitor runs by itself; the backend's audit log is hash-chained
and an edited or deleted entry is named."""

from __future__ import annotations

import itertools
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tax_support import DAY, T0, Backend, backend, offline_export, records_of, timeline_export

from tools.fiscal_softsign import SoftSigner

DEV = "PT-OFF-0001"


@pytest.fixture
def be(tmp_path: Path) -> Iterator[Backend]:
    yield from backend(tmp_path)


def _kinds(be: Backend, dev: str = DEV) -> list[tuple[str, int | None]]:
    return [(a["kind"], a["seq"]) for a in be.client.alerts(dev)]


def test_three_days_offline_then_catch_up(be: Backend, tmp_path: Path) -> None:
    s = SoftSigner(3)
    recs = records_of(offline_export(tmp_path, DEV, s, days=3))
    assert len(recs) == 15
    r = be.client.register(DEV, s.public_pem().decode(), silent_limit_s=2 * DAY)
    assert r.status == 201
    be.clock.now = T0 + DAY
    assert be.client.monitor().json()["raised"] == []
    # the terminal stays offline: day 3, the monitor names it, once
    be.clock.now = T0 + 3 * DAY + 60
    raised = be.client.monitor().json()["raised"]
    assert [(a["kind"], a["seq"]) for a in raised] == [("device_silent", 0)]
    assert be.client.monitor().json()["raised"] == []
    # it comes back and uploads three days at once
    r = be.client.upload(DEV, recs, s)
    assert r.status == 200, r
    out = r.json()
    assert (out["accepted"], out["already_submitted"], out["rejected"]) == (15, 0, 0)
    assert out["alerts"] == []
    # an interrupted upload re-sent: no duplicate
    r = be.client.upload(DEV, recs[10:], s)
    assert r.status == 200 and r.json()["already_submitted"] == 5
    assert len(be.store.records(DEV)) == 15
    assert [x.seq for x in be.store.records(DEV)] == list(range(1, 16))
    # every day closed with a Z report, the device is back: nothing new
    be.clock.now += 3600
    assert be.client.monitor().json()["raised"] == []
    assert _kinds(be) == [("device_silent", 0)]
    st = be.client.device(DEV).json()
    assert st["last_seq"] == 15 and st["open_alerts"] == 1
    # the operator closes it
    aid = be.client.alerts(DEV)[0]["id"]
    r = be.client.admin("POST", f"/v1/alerts/{aid}/close?note=back+online")
    assert r.status == 200 and r.json()["open"] is False
    assert be.client.alerts(DEV, open_only=True) == []


def test_missing_z_report_at_upload_and_by_the_monitor(be: Backend, tmp_path: Path) -> None:
    s = SoftSigner(4)
    # a terminal configured for 3 days sells for 36 h without a Z report
    steps = [("sale", 100), ("sale", 3600), ("sale", DAY + 3600), ("sale", DAY + 12 * 3600)]
    steps += [("z", DAY + 13 * 3600), ("sale", DAY + 14 * 3600)]
    recs = records_of(timeline_export(tmp_path, DEV, s, steps, z_limit=3 * DAY))
    assert be.client.register(DEV, s.public_pem().decode()).status == 201
    be.clock.now = T0 + 2 * DAY
    r = be.client.upload(DEV, recs, s)
    assert r.status == 200, r
    out = r.json()
    assert out["accepted"] == 6  # the records are genuine
    assert len(out["alerts"]) == 1
    al = be.client.alerts(DEV)
    assert [(a["kind"], a["seq"]) for a in al] == [("missing_z_report", 1)]
    assert "receipt seq 3" in al[0]["detail"]
    # the next period (from seq 6) has a sale and no Z report for 24 h
    be.clock.now = T0 + DAY + 13 * 3600 + DAY - 10
    assert be.client.monitor().json()["raised"] == []
    be.clock.now = T0 + DAY + 13 * 3600 + DAY + 10
    raised = be.client.monitor().json()["raised"]
    assert [(a["kind"], a["seq"]) for a in raised] == [("missing_z_report", 6)]


def test_a_period_without_receipts_needs_no_z(be: Backend, tmp_path: Path) -> None:
    s = SoftSigner(5)
    recs = records_of(timeline_export(tmp_path, DEV, s, [("sale", 10), ("z", 20)]))
    assert be.client.register(DEV, s.public_pem().decode()).status == 201
    assert be.client.upload(DEV, recs, s).status == 200
    be.clock.now = T0 + 2 * DAY
    assert be.client.monitor().json()["raised"] == []


def test_background_monitor(tmp_path: Path) -> None:
    gen = backend(tmp_path, monitor_interval_s=0.05, silent_limit_s=60)
    be = next(gen)
    try:
        s = SoftSigner(6)
        assert be.client.register(DEV, s.public_pem().decode()).status == 201
        be.clock.now = T0 + 61
        deadline = time.monotonic() + 5
        while not be.client.alerts(DEV) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _kinds(be) == [("device_silent", 0)]
    finally:
        gen.close()


def test_audit_log_is_hash_chained(be: Backend, tmp_path: Path) -> None:
    s = SoftSigner(7)
    recs = records_of(offline_export(tmp_path, DEV, s, days=1))
    assert be.client.register(DEV, s.public_pem().decode()).status == 201
    for raw in recs:
        assert be.client.upload(DEV, [raw], s).status == 200
    be.clock.now = T0 + 10 * DAY
    be.client.monitor()
    entries = be.client.admin("GET", "/v1/audit").json()
    events = [e["event"] for e in entries]
    assert events == ["device_registered"] + ["records_accepted"] * len(recs) + ["alert_raised"]
    for a, b in itertools.pairwise(entries):
        assert b["prev"] == a["hash"]
    ok = be.client.admin("GET", "/v1/audit/verify").json()
    assert ok == {
        "entries": len(entries),
        "valid": True,
        "first_bad": None,
        "head": entries[-1]["hash"],
    }
    page = be.client.admin("GET", "/v1/audit?after=2&limit=2").json()
    assert [e["id"] for e in page] == [3, 4]
    # someone edits the database behind the backend's back
    db = sqlite3.connect(be.store.path)
    db.execute(
        "UPDATE audit SET detail = replace(detail, '\"count\":1', '\"count\":2') WHERE id = 3"
    )
    db.commit()
    bad = be.client.admin("GET", "/v1/audit/verify").json()
    assert bad["valid"] is False and bad["first_bad"] == 3
    db.execute(
        "UPDATE audit SET detail = replace(detail, '\"count\":2', '\"count\":1') WHERE id = 3"
    )
    db.execute("DELETE FROM audit WHERE id = 5")
    db.commit()
    db.close()
    bad = be.client.admin("GET", "/v1/audit/verify").json()
    assert bad["valid"] is False and bad["first_bad"] == 6
