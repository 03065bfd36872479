"""RFC 6962 Merkle trees: the Certificate Transparency reference vectors,
and properties (every proof verifies, every tampered proof fails) against an
independent recursive MTH written from the RFC's definition."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import merkle

V = json.loads((Path(__file__).parent / "vectors" / "merkle_rfc6962.json").read_text())
LEAVES = [bytes.fromhex(x) for x in V["leaves"]]
LH = [merkle.leaf_hash(d) for d in LEAVES]


def _h(xs: list[str]) -> list[bytes]:
    return [bytes.fromhex(x) for x in xs]


def _ref_mth(data: list[bytes]) -> bytes:
    # RFC 6962 2.1, literally (recursive on the inputs).
    n = len(data)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + data[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + _ref_mth(data[:k]) + _ref_mth(data[k:])).digest()


def test_leaf_hashes() -> None:
    assert LH[0].hex() == V["leaf_hash_empty"]
    assert LH[1].hex() == V["leaf_hash_00"]


def test_roots_of_0_to_8_leaves() -> None:
    for n in range(9):
        assert merkle.root(LH[:n]).hex() == V["roots"][n], n
        assert merkle.mth(LEAVES[:n]).hex() == V["roots"][n], n
        assert merkle.Tree(LH[:n]).root().hex() == V["roots"][n], n


def test_audit_paths() -> None:
    for case in V["paths"]:
        i, n, want = case["index"], case["size"], _h(case["path"])
        tree = merkle.Tree(LH)
        assert tree.inclusion_proof(i, n) == want, case
        assert merkle.verify_inclusion(LH[i], i, n, want, bytes.fromhex(V["roots"][n]))


def test_consistency_proofs() -> None:
    tree = merkle.Tree(LH)
    for case in V["proofs"]:
        m, n, want = case["first"], case["second"], _h(case["proof"])
        assert tree.consistency_proof(m, n) == want, case
        r1, r2 = bytes.fromhex(V["roots"][m]), bytes.fromhex(V["roots"][n])
        assert merkle.verify_consistency(m, n, r1, r2, want)
        if want:
            assert not merkle.verify_consistency(m, n, r2, r1, want)


def test_edge_cases() -> None:
    r = bytes.fromhex(V["roots"][8])
    assert not merkle.verify_inclusion(LH[0], 8, 8, [], r)
    assert not merkle.verify_inclusion(LH[0], 0, 0, [], r)
    assert merkle.verify_consistency(0, 8, merkle.EMPTY_ROOT, r, [])
    assert not merkle.verify_consistency(0, 8, merkle.EMPTY_ROOT, r, [r])
    assert not merkle.verify_consistency(9, 8, r, r, [])
    assert not merkle.verify_consistency(3, 8, r, r, [])
    assert not merkle.verify_inclusion(LH[0], 0, 8, [b"short"], r)


_data = st.lists(st.binary(max_size=12), min_size=1, max_size=70)


@settings(max_examples=150, deadline=None)
@given(_data, st.data())
def test_roots_match_recursive_definition_and_proofs_verify(
    data: list[bytes], d: st.DataObject
) -> None:
    lh = [merkle.leaf_hash(x) for x in data]
    tree = merkle.Tree(lh)
    n = len(data)
    size = d.draw(st.integers(1, n))
    want = _ref_mth(data[:size])
    assert tree.range_root(0, size) == want
    assert merkle.root(lh[:size]) == want
    i = d.draw(st.integers(0, size - 1))
    path = tree.inclusion_proof(i, size)
    assert merkle.verify_inclusion(lh[i], i, size, path, want)
    # tampered: flip a bit in any path element, wrong index, wrong size, wrong leaf
    if path:
        j = d.draw(st.integers(0, len(path) - 1))
        bad = list(path)
        bad[j] = bytes([bad[j][0] ^ 1]) + bad[j][1:]
        assert not merkle.verify_inclusion(lh[i], i, size, bad, want)
        assert not merkle.verify_inclusion(lh[i], i, size, path[:-1], want)
    assert not merkle.verify_inclusion(lh[i], i, size, [*path, want], want)
    assert not merkle.verify_inclusion(merkle.leaf_hash(data[i] + b"x"), i, size, path, want)
    if size > 1:
        other = (i + 1) % size
        assert lh[other] == lh[i] or not merkle.verify_inclusion(lh[i], other, size, path, want)
    # consistency between every smaller size and this one
    m = d.draw(st.integers(1, size))
    proof = tree.consistency_proof(m, size)
    r1 = _ref_mth(data[:m])
    assert merkle.verify_consistency(m, size, r1, want, proof)
    if proof:
        j = d.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[j] = bytes([bad[j][0] ^ 0x80]) + bad[j][1:]
        assert not merkle.verify_consistency(m, size, r1, want, bad)
        assert not merkle.verify_consistency(m, size, r1, want, proof[:-1])
    if m < size:
        forged = merkle.leaf_hash(b"forged")
        assert not merkle.verify_consistency(m, size, forged, want, proof)


def test_frontier_equals_tree_for_every_size() -> None:
    lh = [merkle.leaf_hash(bytes([i & 0xFF, i >> 8])) for i in range(300)]
    f = merkle.Frontier()
    tree = merkle.Tree(lh)
    for n in range(1, 301):
        f.append(lh[n - 1])
        assert f.root() == tree.range_root(0, n), n
