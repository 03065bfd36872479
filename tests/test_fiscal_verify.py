"""The host verifier on journals exported from real MicroPython runs (the
firmware journal on littlefs, signed with a software ECDSA P-256 key): a
valid export verifies; every byte flipped, records deleted, reordered,
duplicated, truncated, spliced from another device, forged signatures,
rolled-back counters, wrong Merkle roots and totals are each detected and
the first bad record is named."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from payterm import cli
from protocols import fiscal_payload as fp
from protocols import fiscal_qr
from protocols import fiscal_record as fr
from tools import fiscal_verify as fv
from tools.fiscal_softsign import SoftSigner, run

DEV = "PT-SIM-0001"


def _export(tmp: Path, dev: str, signer: SoftSigner) -> bytes:
    img, exp = tmp / f"{dev}.img", tmp / f"{dev}.exp"
    code = f"import fiscal_scenario as S\nS.export_scenario({str(img)!r}, {str(exp)!r}, {dev!r})\n"
    signer.fail_calls = {13}
    r = run(code, signer)
    assert r.returncode == 0, r.stderr
    assert "REFUSED SignerFailed" in r.lines and r.value("TRAILER") == "True"
    return exp.read_bytes()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    tmp = tmp_path_factory.mktemp("fiscal")
    a, b = SoftSigner(1), SoftSigner(2)
    return {"a": a, "b": b, "exp_a": _export(tmp, DEV, a), "exp_b": _export(tmp, "PT-SIM-0002", b)}


def _split(data: bytes) -> tuple[bytes, list[bytes], bytes]:
    """prefix (magic+header), frames (with length and check), trailer (from 00 00)."""
    hl = int.from_bytes(data[5:7], "big")
    pos = 7 + hl
    prefix, frames = data[:pos], []
    while True:
        n = int.from_bytes(data[pos : pos + 2], "big")
        if n == 0:
            return prefix, frames, data[pos:]
        frames.append(data[pos : pos + n + 6])
        pos += n + 6


def _frame(raw: bytes) -> bytes:
    return len(raw).to_bytes(2, "big") + raw + hashlib.sha256(raw).digest()[:4]


def _verify(data: bytes, signer: SoftSigner, **kw: object) -> fv.Result:
    return fv.verify(data, fv.load_public_key(signer.public_pem()), **kw)  # type: ignore[arg-type]


def _resign_from(
    data: bytes,
    k: int,
    signer: SoftSigner,
    change: Callable[[fr.Record], None],
    counter_back: int = 0,
) -> bytes:
    """Rewrite record k with ``change`` and re-chain, re-sign (device key:
    the attacker holds the secure element) everything after, trailer too."""
    prefix, frames, _trailer = _split(data)
    recs = [fr.decode(f[2:-4]) for f in frames]
    if counter_back:  # an SE whose counter was set back
        signer.counter = max(r.sig_counter for r in recs[:k]) - counter_back
    prev = hashlib.sha256(frames[k - 1][2:-4]).digest() if k else fr.ZERO_HASH
    out = list(frames[:k])
    for i in range(k, len(recs)):
        rec = recs[i]
        rec.prev_hash = prev
        if i == k:
            change(rec)
        if rec.signature:
            rec.signature, rec.sig_counter = signer.sign(rec.digest())
        raw = rec.encode()
        out.append(_frame(raw))
        prev = hashlib.sha256(raw).digest()
    last = recs[-1]
    body = b"PTFE" + bytes([len(DEV)]) + DEV.encode() + last.seq.to_bytes(4, "big") + prev
    body += (last.time + 1).to_bytes(4, "big")
    sig, c = signer.sign(hashlib.sha256(body).digest())
    trailer = b"\x00\x00" + body + c.to_bytes(4, "big") + bytes([64]) + sig
    return prefix + b"".join(out) + trailer


def test_valid_export_verifies(world: dict[str, object]) -> None:
    a, exp = world["a"], world["exp_a"]
    assert isinstance(a, SoftSigner) and isinstance(exp, bytes)
    res = _verify(exp, a)
    assert res.ok, res.problem
    assert res.records == 16 and res.z_reports == 2 and res.x_reports == 1 and res.trailer
    assert res.types["signer_failure"] == 1 and res.types["sale"] == 7
    assert res.signatures_checked == 16  # 15 signed records + the trailer
    # the same journal under another device's key: the first record fails
    b = world["b"]
    assert isinstance(b, SoftSigner)
    bad = _verify(exp, b)
    assert bad.problem is not None and bad.problem.index == 0 and "signature" in bad.problem.reason
    # the parallel path gives the same verdicts
    assert _verify(exp, a, jobs=2).ok


def test_every_flipped_byte_is_detected_and_located(world: dict[str, object]) -> None:
    a, exp = world["a"], world["exp_a"]
    assert isinstance(a, SoftSigner) and isinstance(exp, bytes)
    prefix, frames, _t = _split(exp)
    starts = []
    pos = len(prefix)
    for f in frames:
        starts.append(pos)
        pos += len(f)
    for i in range(len(exp)):
        data = bytearray(exp)
        data[i] ^= 0x01 if i % 2 else 0x80
        res = _verify(bytes(data), a)
        assert res.problem is not None, f"flip at {i} not detected"
        p = res.problem
        if len(prefix) <= i < pos:
            k = max(j for j, s in enumerate(starts) if s <= i)
            # the damaged record is named (or the export when its length
            # field now swallows the rest)
            assert p.index == k or (p.index == -1 and i - starts[k] < 2), (i, k, str(p))
        else:
            assert p.index in (-1, len(frames) - 1, len(frames)), (i, str(p))


def _named(res: fv.Result, index: int, words: str, code: str) -> None:
    assert res.problem is not None
    assert res.problem.index == index, str(res.problem)
    assert words in res.problem.reason, str(res.problem)
    assert res.problem.code == code and code in fv.PROBLEM_CODES, res.problem


def test_delete_reorder_duplicate_truncate(world: dict[str, object]) -> None:
    a, exp = world["a"], world["exp_a"]
    assert isinstance(a, SoftSigner) and isinstance(exp, bytes)
    prefix, frames, trailer = _split(exp)
    deleted = prefix + b"".join(frames[:5] + frames[6:]) + trailer
    _named(_verify(deleted, a), 5, "sequence 7 after 5", "seq_gap")
    swapped = prefix + b"".join([*frames[:3], frames[4], frames[3], *frames[5:]]) + trailer
    _named(_verify(swapped, a), 3, "sequence 5 after 3", "seq_gap")
    dup = prefix + b"".join([*frames[:8], frames[7], *frames[8:]]) + trailer
    _named(_verify(dup, a), 8, "sequence 8 after 8", "seq_gap")
    # cut at a record boundary, trailer kept: the trailer names what is missing
    cut = prefix + b"".join(frames[:-2]) + trailer
    _named(_verify(cut, a), len(frames) - 2, "records missing", "trailer_records_missing")
    # cut at a record boundary, trailer dropped: refused (may be cut short)
    res = _verify(prefix + b"".join(frames[:-2]), a)
    _named(res, -1, "no signed trailer", "trailer_missing")
    assert _verify(prefix + b"".join(frames), a, require_trailer=False).ok
    # cut inside a frame
    _named(_verify(exp[: len(prefix) + len(frames[0]) + 10], a), 1, "cut short", "frame_cut")


def test_spliced_record_from_another_device(world: dict[str, object]) -> None:
    a, exp_a, exp_b = world["a"], world["exp_a"], world["exp_b"]
    assert isinstance(a, SoftSigner) and isinstance(exp_a, bytes) and isinstance(exp_b, bytes)
    pa, fa, ta = _split(exp_a)
    _pb, fb, _tb = _split(exp_b)
    spliced = pa + b"".join([*fa[:4], fb[4], *fa[5:]]) + ta
    _named(_verify(spliced, a), 4, "device PT-SIM-0002", "device_mismatch")


def test_forged_signature(world: dict[str, object]) -> None:
    a, b, exp = world["a"], world["b"], world["exp_a"]
    assert isinstance(a, SoftSigner) and isinstance(b, SoftSigner) and isinstance(exp, bytes)
    prefix, frames, trailer = _split(exp)
    rec = fr.decode(frames[6][2:-4])
    b.counter = rec.sig_counter - 1
    rec.signature, _c = b.sign(rec.digest())  # well-formed, wrong key
    forged = prefix + b"".join([*frames[:6], _frame(rec.encode())]) + b"".join(frames[7:]) + trailer
    res = _verify(forged, a)
    # the chain breaks at 8 (its prev hash covers the old signature); the
    # signature check names the earlier record 7
    _named(res, 6, "signature does not verify", "bad_signature")
    # the same verdict when signatures are checked in worker processes, 3 at
    # a time, while the sequential pass runs on
    _named(_verify(forged, a, jobs=2, chunk=3), 6, "signature does not verify", "bad_signature")
    # a structural failure before the forged record wins
    prefix2 = prefix + b"".join(frames[:2] + frames[3:6])
    broken = prefix2 + _frame(rec.encode()) + b"".join(frames[7:]) + trailer
    _named(_verify(broken, a, jobs=2, chunk=2), 2, "sequence 4 after 2", "seq_gap")


def test_counter_rolled_back_even_with_the_device_key(world: dict[str, object]) -> None:
    a, exp = world["a"], world["exp_a"]
    assert isinstance(a, SoftSigner) and isinstance(exp, bytes)
    data = _resign_from(exp, 9, a, lambda r: None, counter_back=3)
    _named(_verify(data, a), 9, "rolled back", "counter_rollback")


def test_z_root_and_totals_checked_even_with_the_device_key(world: dict[str, object]) -> None:
    a, exp = world["a"], world["exp_a"]
    assert isinstance(a, SoftSigner) and isinstance(exp, bytes)
    _p, frames, _t = _split(exp)
    zi = next(i for i, f in enumerate(frames) if fr.decode(f[2:-4]).rtype == fr.Z_REPORT)

    def bad_root(r: fr.Record) -> None:
        rp = fp.decode_report(r.payload)
        rp.root = hashlib.sha256(b"other day").digest()
        r.payload = fp.encode_report(rp)

    _named(
        _verify(_resign_from(exp, zi, a, bad_root), a), zi, "Merkle root", "merkle_root_mismatch"
    )

    def bad_totals(r: fr.Record) -> None:
        rp = fp.decode_report(r.payload)
        rp.totals = [(t[0], t[1] + 1, t[2]) for t in rp.totals]
        r.payload = fp.encode_report(rp)

    _named(_verify(_resign_from(exp, zi, a, bad_totals), a), zi, "totals", "totals_mismatch")

    def skim(r: fr.Record) -> None:  # sale counted lower than its lines
        r.counters = fr.Counters([(t[0], t[1] - 10, t[2]) for t in r.counters.rates])
        r.grand_total = r.counters.grand_total()

    _named(_verify(_resign_from(exp, 2, a, skim), a), 2, "turnover counters", "counter_mismatch")

    def bad_line(r: fr.Record) -> None:
        rc = fp.decode_receipt(r.payload)
        rate, q, p, amt, name = rc.lines[0]
        rc.lines[0] = (rate, q, p, amt + 1, name)
        r.payload = fp.encode_receipt(rc)

    _named(
        _verify(_resign_from(exp, 1, a, bad_line), a), 1, "do not add up", "receipt_lines_mismatch"
    )

    def time_back(r: fr.Record) -> None:
        r.time -= 1000

    _named(
        _verify(_resign_from(exp, 3, a, time_back), a), 3, "before the previous", "time_backwards"
    )


def test_cli_exit_codes(
    world: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, exp = world["a"], world["exp_a"]
    assert isinstance(a, SoftSigner) and isinstance(exp, bytes)
    key = tmp_path / "dev.pem"
    key.write_bytes(a.public_pem())
    good = tmp_path / "good.exp"
    good.write_bytes(exp)
    bad = tmp_path / "bad.exp"
    bad.write_bytes(exp[:-1] + bytes([exp[-1] ^ 1]))
    verify = ["fiscal", "verify", "--pubkey", str(key), "--jobs", "1"]
    assert cli.main([*verify, str(good)]) == 0
    assert json.loads(capsys.readouterr().out)["valid"] is True
    assert cli.main([*verify, str(bad)]) == 1
    assert json.loads(capsys.readouterr().out)["first_failure"]["reason"]
    assert cli.main([*verify, str(tmp_path / "missing")]) == 2


def test_receipt_qr_verifies_offline(world: dict[str, object]) -> None:
    a, b, exp = world["a"], world["b"], world["exp_a"]
    assert isinstance(a, SoftSigner) and isinstance(b, SoftSigner) and isinstance(exp, bytes)
    _p, frames, _t = _split(exp)
    rec = fr.decode(frames[1][2:-4])
    text = fiscal_qr.encode(rec)
    key = fv.load_public_key(a.public_pem())
    got = fv.verify_receipt(text, key)
    assert (got["device_id"], got["seq"], got["type"], got["amount"]) == (DEV, 2, "sale", 390)
    assert got["payload_sha256"] == hashlib.sha256(rec.payload).hexdigest()
    with pytest.raises(ValueError, match="does not verify"):
        fv.verify_receipt(text, fv.load_public_key(b.public_pem()))
    # any change to the content is refused (malformed or bad signature)
    for i in range(5, len(text)):
        ch = "A" if text[i] != "A" else "B"
        with pytest.raises(ValueError):
            fv.verify_receipt(text[:i] + ch + text[i + 1 :], key)


def test_cli_verify_receipt(
    world: dict[str, object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b, exp = world["a"], world["b"], world["exp_a"]
    assert isinstance(a, SoftSigner) and isinstance(b, SoftSigner) and isinstance(exp, bytes)
    _p, frames, _t = _split(exp)
    text = fiscal_qr.encode(fr.decode(frames[1][2:-4]))
    key_a = tmp_path / "a.pem"
    key_a.write_bytes(a.public_pem())
    key_b = tmp_path / "b.pem"
    key_b.write_bytes(b.public_pem())
    assert cli.main(["fiscal", "verify-receipt", text, "--pubkey", str(key_a)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["valid"] is True and out["seq"] == fr.decode(frames[1][2:-4]).seq
    assert cli.main(["fiscal", "verify-receipt", text, "--pubkey", str(key_b)]) == 1
    assert json.loads(capsys.readouterr().out)["valid"] is False
    assert cli.main(["fiscal", "verify-receipt", text[:-3], "--pubkey", str(key_a)]) == 2


# -- resuming: a journal verified in parts -----------------------------------

CONT = fv.EXPORT_MAGIC + b"\x01\x00\x00"  # a continuation export: no header


def _in_parts(data: bytes, cuts: list[int], key: ec.EllipticCurvePublicKey) -> fv.Result:
    """Verify ``data`` split at the record boundaries ``cuts``, the state
    carried from part to part through its JSON form; stop at a failure."""
    prefix, frames, trailer = _split(data)
    bounds = [0, *sorted(cuts), len(frames)]
    state: fv.VerifierState | None = None
    res = fv.Result()
    for i in range(len(bounds) - 1):
        last = i == len(bounds) - 2
        part = (prefix if i == 0 else CONT) + b"".join(frames[bounds[i] : bounds[i + 1]])
        if last:
            part += trailer
        res = fv.verify(part, key, require_trailer=last, start=state)
        if res.problem is not None:
            return res
        assert res.state is not None
        state = fv.VerifierState.from_json(res.state.to_json())
    return res


def _state(res: fv.Result, *, counted: bool = True) -> dict[str, object]:
    assert res.state is not None
    d = res.state.to_dict()
    if not counted:
        del d["signatures_checked"]
    return d


@pytest.fixture(scope="module")
def variants(world: dict[str, object]) -> list[bytes]:
    """The scenario export, clean and tampered in ways that fail in each
    part of the checks (framing, order, chain, counters, reports, signature
    counter, signatures, trailer)."""
    a, b, exp, exp_b = world["a"], world["b"], world["exp_a"], world["exp_b"]
    assert isinstance(a, SoftSigner) and isinstance(b, SoftSigner)
    assert isinstance(exp, bytes) and isinstance(exp_b, bytes)
    prefix, frames, trailer = _split(exp)
    recs = [fr.decode(f[2:-4]) for f in frames]
    zi = next(i for i, r in enumerate(recs) if r.rtype == fr.Z_REPORT)
    forged = fr.decode(frames[6][2:-4])
    b.counter = forged.sig_counter - 1
    forged.signature, _c = b.sign(forged.digest())

    def skim(r: fr.Record) -> None:
        r.counters = fr.Counters([(t[0], t[1] - 10, t[2]) for t in r.counters.rates])
        r.grand_total = r.counters.grand_total()

    def bad_root(r: fr.Record) -> None:
        rp = fp.decode_report(r.payload)
        rp.root = hashlib.sha256(b"other day").digest()
        r.payload = fp.encode_report(rp)

    bad_trailer_sig = bytearray(exp)
    bad_trailer_sig[-1] ^= 1
    return [
        exp,
        prefix + b"".join(frames[:5] + frames[6:]) + trailer,
        prefix + b"".join([*frames[:3], frames[4], frames[3], *frames[5:]]) + trailer,
        prefix + b"".join([*frames[:6], _frame(forged.encode()), *frames[7:]]) + trailer,
        _resign_from(exp, 2, a, skim),
        _resign_from(exp, zi, a, bad_root),
        _resign_from(exp, 9, a, lambda r: None, counter_back=3),
        prefix + b"".join(frames[:-2]) + trailer,
        prefix + b"".join(frames[:-2]),
        prefix + b"".join([*frames[:4], _split(exp_b)[1][4], *frames[5:]]) + trailer,
        bytes(bad_trailer_sig),
    ]


@settings(max_examples=150, deadline=None)
@given(
    pick=st.integers(0, 10),
    flip=st.none() | st.tuples(st.integers(0, 15), st.integers(0, 10_000), st.booleans()),
    cuts=st.lists(st.integers(0, 16), max_size=5),
)
def test_verified_in_parts_same_as_one_pass(
    world: dict[str, object],
    variants: list[bytes],
    pick: int,
    flip: tuple[int, int, bool] | None,
    cuts: list[int],
) -> None:
    a = world["a"]
    assert isinstance(a, SoftSigner)
    key = fv.load_public_key(a.public_pem())
    data = variants[pick]
    prefix, frames, trailer = _split(data)
    if flip is not None:  # a byte of one record's body changed, re-framed or not
        k, at, reframe = flip
        k %= len(frames)
        raw = bytearray(frames[k][2:-4])
        raw[at % len(raw)] ^= 0x40
        frames[k] = _frame(bytes(raw)) if reframe else frames[k][:2] + raw + frames[k][-4:]
        data = prefix + b"".join(frames) + trailer
    cuts = [c % (len(frames) + 1) for c in cuts]
    one = fv.verify(data, key)
    parts = _in_parts(data, cuts, key)
    assert parts.problem == one.problem
    if pick == 0 and flip is None:
        assert one.ok and one.records == 16 and one.trailer
    if one.problem is not None and one.problem.code == "bad_signature":
        # one pass read on past the forged record before checking signatures;
        # both hand back the state before it
        assert _state(parts, counted=False) == _state(one, counted=False)
        assert one.state is not None and one.state.records == one.problem.index
    else:
        assert parts.as_dict() == one.as_dict()
        assert _state(parts) == _state(one)


def test_state_resumes_after_the_last_good_record(world: dict[str, object]) -> None:
    """A failing part hands back the state before the failing record: the
    genuine records, verified from there, pass."""
    a, exp = world["a"], world["exp_a"]
    assert isinstance(a, SoftSigner) and isinstance(exp, bytes)
    key = fv.load_public_key(a.public_pem())
    prefix, frames, trailer = _split(exp)
    broken = prefix + b"".join(frames[:5] + frames[6:8])
    res = fv.verify(broken, key, require_trailer=False)
    assert res.problem is not None and res.problem.code == "seq_gap"
    assert res.state is not None and res.state.records == 5 and res.state.seq == 5
    rest = fv.verify(CONT + b"".join(frames[5:]) + trailer, key, start=res.state)
    assert rest.ok and rest.records == 16 and rest.trailer
    assert rest.signatures_checked == 16
    # the state survives JSON and names the export's byte offsets
    st2 = fv.VerifierState.from_json(res.state.to_json())
    assert st2 == res.state
    assert st2.offset == len(prefix) + sum(len(f) for f in frames[:5])
    with pytest.raises(ValueError):
        fv.VerifierState.from_json('{"version": 2}')
    # a part of another device's journal is refused at its first record
    other = world["exp_b"]
    assert isinstance(other, bytes)
    _p, fb, _t = _split(other)
    res2 = fv.verify(CONT + fb[5], key, require_trailer=False, start=res.state)
    _named(res2, 5, "device PT-SIM-0002", "device_mismatch")
