"""Record upload to the tax backend over real HTTP on 127.0.0.1 with a real
SQLite file: journals written by the firmware journal under MicroPython,
uploaded one record at a time (real time) and in batches, re-sent
(idempotent), and tampered with (each tamper refused and raising the alert
it should, the valid prefix kept)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tax_support import DEV_A, Backend, backend, records_of, scenario_export
from test_fiscal_verify import _resign_from

from protocols import fiscal_payload as fp
from protocols import fiscal_record as fr
from tools.fiscal_softsign import SoftSigner


@pytest.fixture(scope="module")
def journals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    tmp = tmp_path_factory.mktemp("taxj")
    a, b = SoftSigner(1), SoftSigner(2)
    exp_a = scenario_export(tmp, DEV_A, a)
    exp_b = scenario_export(tmp, "PT-SIM-0002", b)
    return {
        "a": a,
        "b": b,
        "exp_a": exp_a,
        "recs_a": records_of(exp_a),
        "recs_b": records_of(exp_b),
    }


@pytest.fixture
def be(tmp_path: Path) -> Iterator[Backend]:
    yield from backend(tmp_path)


def _signer(j: dict[str, object]) -> SoftSigner:
    s = j["a"]
    assert isinstance(s, SoftSigner)
    return s


def _recs(j: dict[str, object], k: str = "recs_a") -> list[bytes]:
    r = j[k]
    assert isinstance(r, list)
    return r


def _register(be: Backend, signer: SoftSigner, dev: str = DEV_A) -> None:
    r = be.client.register(dev, signer.public_pem().decode())
    assert r.status == 201, r
    assert r.json()["status"] == "registered"


def test_real_time_then_resend_is_idempotent(be: Backend, journals: dict[str, object]) -> None:
    s, recs = _signer(journals), _recs(journals)
    _register(be, s)
    for i, raw in enumerate(recs):
        r = be.client.upload(DEV_A, [raw], s)
        assert r.status == 200, r
        out = r.json()
        assert (out["accepted"], out["already_submitted"], out["rejected"]) == (1, 0, 0)
        assert out["last_seq"] == i + 1
        assert out["last_hash"] == hashlib.sha256(raw).hexdigest()
    # the terminal lost its acknowledgements and sends everything again
    r = be.client.upload(DEV_A, recs, s)
    assert r.status == 200, r
    out = r.json()
    assert (out["accepted"], out["already_submitted"], out["rejected"]) == (0, 16, 0)
    assert [x["status"] for x in out["results"]] == ["already_submitted"] * 16
    st = be.client.device(DEV_A).json()
    assert st["records"] == 16 and st["last_seq"] == 16 and st["open_alerts"] == 0
    assert be.client.alerts() == []
    # what is stored is byte for byte what the terminal wrote
    assert [x.raw for x in be.store.records(DEV_A)] == recs
    audit = be.client.admin("GET", "/v1/audit/verify").json()
    assert audit["valid"] and audit["entries"] == 1 + 16  # registration + 16 uploads


def test_batches_overlapping_and_continuing(be: Backend, journals: dict[str, object]) -> None:
    s, recs = _signer(journals), _recs(journals)
    _register(be, s)
    r = be.client.upload(DEV_A, recs[:7], s)
    assert r.status == 200 and r.json()["accepted"] == 7
    # a batch that repeats 5..7 and continues: the chain, counters and the
    # open period's Merkle tree carry over from the stored records
    r = be.client.upload(DEV_A, recs[4:], s)
    assert r.status == 200, r
    st = [x["status"] for x in r.json()["results"]]
    assert st == ["already_submitted"] * 3 + ["accepted"] * 9
    assert be.store.records(DEV_A)[-1].seq == 16
    assert be.client.alerts() == []


def _tampered(j: dict[str, object], k: int, change: Callable[[fr.Record], None]) -> list[bytes]:
    """Record k changed and everything after re-chained and re-signed with the
    device's own key (an attacker holding the SE)."""
    s = SoftSigner(1)
    s.counter = 10_000
    exp = j["exp_a"]
    assert isinstance(exp, bytes)
    return records_of(_resign_from(exp, k, s, change))


def _skim(rec: fr.Record) -> None:
    rate, sales, refunds = rec.counters.rates[0]
    rec.counters.rates[0] = (rate, sales - 100, refunds)
    rec.grand_total = rec.counters.grand_total()


def _bad_root(rec: fr.Record) -> None:
    rp = fp.decode_report(rec.payload)
    rp.root = bytes(32)
    rec.payload = fp.encode_report(rp)


def _prev(rec: fr.Record) -> None:
    rec.prev_hash = bytes(32)


def _time_back(rec: fr.Record) -> None:
    rec.time -= 1000


@pytest.mark.parametrize(
    ("k", "change", "kind", "words"),
    [
        (5, _skim, "totals_mismatch", "turnover counters"),
        (8, _bad_root, "merkle_root_mismatch", "Merkle root"),
        (5, _prev, "chain_break", "previous-record hash"),
        (5, _time_back, "clock_went_back", "time"),
    ],
)
def test_tamper_refused_with_alert(
    be: Backend,
    journals: dict[str, object],
    k: int,
    change: Callable[[fr.Record], None],
    kind: str,
    words: str,
) -> None:
    s, recs = _signer(journals), _recs(journals)
    _register(be, s)
    bad = _tampered(journals, k, change)
    assert bad[:k] == recs[:k] and bad[k] != recs[k]
    r = be.client.upload(DEV_A, bad, s)
    assert r.status == 409, r
    out = r.json()
    st = [x["status"] for x in out["results"]]
    assert st == ["accepted"] * k + ["rejected"] * (len(bad) - k)
    first = out["results"][k]
    assert first["alert"] == kind and words in first["reason"], first
    assert out["last_seq"] == k and len(be.store.records(DEV_A)) == k
    al = be.client.alerts(DEV_A, open_only=True)
    assert [(a["kind"], a["seq"]) for a in al] == [(kind, k + 1)]
    assert out["alerts"] == [al[0]["id"]]
    # the genuine records still go in after the refused ones
    r = be.client.upload(DEV_A, recs, s)
    assert r.status == 200, r
    assert r.json()["accepted"] == 16 - k


def test_gap_forged_signature_fork_and_foreign_record(
    be: Backend, journals: dict[str, object]
) -> None:
    s, recs = _signer(journals), _recs(journals)
    _register(be, s)
    assert be.client.upload(DEV_A, recs[:3], s).status == 200
    # seq 4 missing: a counter gap
    r = be.client.upload(DEV_A, recs[4:6], s)
    assert r.status == 409
    res = r.json()["results"]
    assert res[0]["alert"] == "counter_gap" and "sequence 5 after 3" in res[0]["reason"]
    assert res[1]["status"] == "rejected" and "after the refused seq 5" in res[1]["reason"]
    # seq 4 signed with another key
    rec = fr.decode(recs[3])
    other = SoftSigner(7)
    other.counter = rec.sig_counter - 1
    rec.signature, rec.sig_counter = other.sign(rec.digest())
    r = be.client.upload(DEV_A, [rec.encode()], s)
    assert r.status == 409
    assert r.json()["results"][0]["alert"] == "bad_signature"
    # a different record 3 than the one stored: a fork of the chain
    rec3 = fr.decode(recs[2])
    rec3.time += 1
    rec3.signature, rec3.sig_counter = s.sign(rec3.digest())
    r = be.client.upload(DEV_A, [rec3.encode()], s)
    assert r.status == 409
    out = r.json()["results"][0]
    assert out["alert"] == "chain_break" and "differs from the record already" in out["reason"]
    # a record of another terminal uploaded under this one
    r = be.client.upload(DEV_A, [_recs(journals, "recs_b")[3]], s)
    assert r.status == 409 and r.json()["results"][0]["alert"] == "foreign_record"
    kinds = sorted(a["kind"] for a in be.client.alerts(DEV_A))
    assert kinds == ["bad_signature", "chain_break", "counter_gap", "foreign_record"]
    # nothing of that was stored; the genuine continuation is accepted
    assert len(be.store.records(DEV_A)) == 3
    r = be.client.upload(DEV_A, recs[3:], s)
    assert r.status == 200 and r.json()["accepted"] == 13
    assert be.client.admin("GET", "/v1/audit/verify").json()["valid"]


def test_concurrent_uploads_of_one_device(be: Backend, journals: dict[str, object]) -> None:
    """Requests signed in order but sent at once: each is either served or
    refused as out of order (counter below the last seen), never a 5xx,
    and every record is stored exactly once."""
    import base64
    import json
    from concurrent.futures import ThreadPoolExecutor

    from host_sim.tax.app import COUNTER_HEADER, DEVICE_HEADER, SIGNATURE_HEADER, request_digest

    s, recs = _signer(journals), _recs(journals)
    _register(be, s)
    path = f"/v1/devices/{DEV_A}/records"
    reqs = []
    for k in range(8):
        body = json.dumps({"records": [base64.b64encode(r).decode() for r in recs[: 8 + k]]})
        sig, c = s.sign(request_digest("POST", path, body.encode()))
        h = {DEVICE_HEADER: DEV_A, COUNTER_HEADER: str(c), SIGNATURE_HEADER: sig.hex()}
        reqs.append((body.encode(), h))
    with ThreadPoolExecutor(8) as ex:
        got = list(ex.map(lambda bh: be.client.request("POST", path, *bh), reqs))
    assert all(r.status in (200, 401) for r in got), got
    ok = [r.json() for r in got if r.status == 200]
    assert ok and sum(o["accepted"] for o in ok) == max(o["last_seq"] for o in ok)
    for r in got:
        if r.status == 401:
            assert r.json()["error"]["code"] == "replayed"
    stored = [x.raw for x in be.store.records(DEV_A)]
    assert stored == recs[: len(stored)] and len(stored) >= 8


def test_whole_export_upload(be: Backend, journals: dict[str, object]) -> None:
    s, recs = _signer(journals), _recs(journals)
    exp = journals["exp_a"]
    assert isinstance(exp, bytes)
    _register(be, s)
    # five records went up in real time before the terminal went offline
    assert be.client.upload(DEV_A, recs[:5], s).status == 200
    r = be.client.upload_export(DEV_A, exp, s)
    assert r.status == 200, r
    out = r.json()
    assert (out["accepted"], out["already_submitted"], out["rejected"]) == (11, 5, 0)
    assert out["export"] == {
        "valid": True,
        "records": 16,
        "signed_trailer": True,
        "first_failure": None,
    }
    assert be.client.upload_export(DEV_A, exp, s).json()["already_submitted"] == 16
    assert be.client.alerts() == []
    # an export cut at a record boundary, its trailer gone: the records are
    # genuine and kept, the export is named as cut short
    cut = exp[: exp.rindex(b"\x00\x00PTFE")]
    r = be.client.upload_export(DEV_A, cut, s)
    assert r.status == 409, r
    out = r.json()
    assert out["already_submitted"] == 16 and out["export"]["valid"] is False
    assert "no signed trailer" in out["export"]["first_failure"]["reason"]
    assert [(a["kind"], a["seq"]) for a in be.client.alerts(DEV_A)] == [("export_invalid", 16)]
    assert be.client.upload_export(DEV_A, cut, s).json()["alerts"] == []  # raised once
    r = be.client.upload_export(DEV_A, b"not an export", s)
    assert r.status == 400 and r.json()["error"]["code"] == "bad_export"


def test_stored_journal_edited_behind_the_backend(be: Backend, journals: dict[str, object]) -> None:
    """Uploads go on from the kept verifier state; a record swapped in the
    database is named by the monitor's full pass, and an edited last record
    (where the state joins the stored journal) refuses the next upload."""
    import sqlite3

    from host_sim.tax import ingest

    s, recs = _signer(journals), _recs(journals)
    _register(be, s)
    assert be.client.upload(DEV_A, recs[:6], s).status == 200
    db = sqlite3.connect(be.store.path)
    db.execute("UPDATE records SET raw = ? WHERE device_id = ? AND seq = 3", (recs[3], DEV_A))
    db.commit()
    # the genuine continuation is still verified from the kept state
    r = be.client.upload(DEV_A, recs[6:8], s)
    assert r.status == 200 and r.json()["accepted"] == 2, r.json()
    now = int(be.clock.now)
    raised = ingest.monitor(be.store, now)
    damaged = [a for a in be.client.alerts(DEV_A) if a["kind"] == "store_damaged"]
    assert len(damaged) == 1 and damaged[0]["id"] in raised
    assert "record #3 (seq 4)" in damaged[0]["detail"], damaged
    assert not any(a in raised for a in ingest.monitor(be.store, now))  # raised once
    # the last stored record changed: the next upload is refused, nothing stored
    db.execute("UPDATE records SET raw = ? WHERE device_id = ? AND seq = 8", (recs[6], DEV_A))
    db.commit()
    db.close()
    r = be.client.upload(DEV_A, recs[8:10], s)
    assert r.status == 409
    first = r.json()["results"][0]
    assert first["alert"] == "store_damaged" and "no longer matches" in first["reason"], first
    assert len(be.store.records(DEV_A)) == 8


def test_store_without_verifier_state(be: Backend, journals: dict[str, object]) -> None:
    """Records stored before the backend kept a state (or with the state
    row lost): one full pass rebuilds it, the upload goes on; a state that
    disagrees with the stored journal is named by the monitor."""
    import sqlite3

    from host_sim.tax import ingest
    from tools import fiscal_verify as fv

    s, recs = _signer(journals), _recs(journals)
    _register(be, s)
    assert be.client.upload(DEV_A, recs[:5], s).status == 200
    kept = be.store.verifier_state(DEV_A)
    assert kept is not None and fv.VerifierState.from_json(kept).seq == 5
    db = sqlite3.connect(be.store.path)
    db.execute("DELETE FROM verifier_state WHERE device_id = ?", (DEV_A,))
    db.commit()
    r = be.client.upload(DEV_A, recs[5:9], s)
    assert r.status == 200 and r.json()["accepted"] == 4, r.json()
    kept = be.store.verifier_state(DEV_A)
    assert kept is not None
    assert (
        fv.VerifierState.from_json(kept).to_dict()
        == ingest.full_pass(
            be.store,
            be.store.device(DEV_A),  # type: ignore[arg-type]
        ).state.to_dict()
    )  # type: ignore[union-attr]
    assert ingest.monitor(be.store, int(be.clock.now)) == []
    # a state edited to skip the counters of a sale: the monitor names it
    st = fv.VerifierState.from_json(kept)
    st.counters = [(t[0], t[1] - 1, t[2]) for t in st.counters]
    db.execute("UPDATE verifier_state SET state = ? WHERE device_id = ?", (st.to_json(), DEV_A))
    db.commit()
    db.close()
    ingest.monitor(be.store, int(be.clock.now))
    damaged = [a for a in be.client.alerts(DEV_A) if a["kind"] == "store_damaged"]
    assert len(damaged) == 1 and "does not match the verifier state" in damaged[0]["detail"]


def test_alert_kinds_by_problem_code() -> None:
    from host_sim.tax import ingest
    from tools import fiscal_verify as fv

    assert set(ingest.KINDS) <= set(fv.PROBLEM_CODES)
    assert ingest.classify("seq_gap") == ingest.COUNTER_GAP
    assert ingest.classify("merkle_root_mismatch") == ingest.MERKLE
    assert ingest.classify("decode_error") == ingest.INVALID


def test_upload_does_not_read_the_stored_journal(
    be: Backend, journals: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a kept state, an upload reads no stored record but the last one
    (and those it resends): its cost does not grow with the journal."""
    s, recs = _signer(journals), _recs(journals)
    _register(be, s)
    assert be.client.upload(DEV_A, recs[:8], s).status == 200

    def no_full_read(device_id: str) -> list[object]:
        raise AssertionError("an upload read the whole stored journal")

    monkeypatch.setattr(be.store, "records", no_full_read)
    for k in range(8, len(recs)):
        r = be.client.upload(DEV_A, recs[k - 1 : k + 1], s)  # one resent, one new
        assert r.status == 200, r.json()
        assert r.json()["accepted"] == 1 and r.json()["already_submitted"] == 1
    assert be.client.alerts(DEV_A) == []
