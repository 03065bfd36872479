# RFC 6962 Merkle trees under MicroPython: the Certificate Transparency
# reference vectors (tests/vectors/merkle_rfc6962.json) and round trips.
import binascii

from mpyunit import eq, load_json

from protocols import merkle

V = load_json("../vectors/merkle_rfc6962.json")


def _b(x):
    return binascii.unhexlify(x)


def _hx(b):
    return binascii.hexlify(b).decode()


LH = [merkle.leaf_hash(_b(x)) for x in V["leaves"]]


def test_leaf_hashes():
    eq(_hx(LH[0]), V["leaf_hash_empty"], "leaf('')")
    eq(_hx(LH[1]), V["leaf_hash_00"], "leaf(00)")


def test_roots():
    for n in range(9):
        eq(_hx(merkle.root(LH[:n])), V["roots"][n], "root %d" % n)
        eq(_hx(merkle.Tree(LH[:n]).root()), V["roots"][n], "tree root %d" % n)


def test_paths_and_proofs():
    t = merkle.Tree(LH)
    for c in V["paths"]:
        want = [_b(x) for x in c["path"]]
        eq(t.inclusion_proof(c["index"], c["size"]), want, "path %r" % c)
        r = _b(V["roots"][c["size"]])
        eq(merkle.verify_inclusion(LH[c["index"]], c["index"], c["size"], want, r), True, "verify")
    for c in V["proofs"]:
        want = [_b(x) for x in c["proof"]]
        eq(t.consistency_proof(c["first"], c["second"]), want, "proof %r" % c)
        r1 = _b(V["roots"][c["first"]])
        r2 = _b(V["roots"][c["second"]])
        eq(merkle.verify_consistency(c["first"], c["second"], r1, r2, want), True, "verify")


def test_every_proof_in_trees_up_to_33():
    lh = [merkle.leaf_hash(bytes([i])) for i in range(33)]
    t = merkle.Tree(lh)
    f = merkle.Frontier()
    for n in range(1, 34):
        f.append(lh[n - 1])
        r = t.range_root(0, n)
        eq(f.root(), r, "frontier %d" % n)
        for i in range(n):
            p = t.inclusion_proof(i, n)
            eq(merkle.verify_inclusion(lh[i], i, n, p, r), True, "incl %d/%d" % (i, n))
            if p:
                bad = [bytes([p[0][0] ^ 1]) + p[0][1:]] + p[1:]
                eq(merkle.verify_inclusion(lh[i], i, n, bad, r), False, "bad incl")
        for m in range(1, n + 1):
            c = t.consistency_proof(m, n)
            eq(
                merkle.verify_consistency(m, n, t.range_root(0, m), r, c),
                True,
                "cons %d/%d" % (m, n),
            )
