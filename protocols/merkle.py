"""RFC 6962 (Certificate Transparency) Merkle tree hashes and proofs.

Pure functions over SHA-256, shared by the terminal (Z reports) and the host
(verifier, tax backend).  Runs under CPython and MicroPython.

- ``leaf_hash(d) = SHA-256(0x00 || d)``; ``node_hash(l, r) = SHA-256(0x01 || l || r)``
- ``MTH({}) = SHA-256("")``; ``MTH(D[n])`` splits at the largest power of two
  smaller than n (RFC 6962 section 2.1).
- Inclusion (audit) paths and consistency proofs are generated as in RFC 6962
  section 2.1.1/2.1.2 and verified with the algorithms of RFC 9162 section
  2.1.3.2 and 2.1.4.2 (the same trees and proofs).

Functions take *leaf hashes* (already ``leaf_hash``-ed) so a caller keeps
32 bytes per record; ``Frontier`` folds a stream of leaf hashes into the
root with O(log n) memory (the terminal's running day tree);
``Tree`` keeps every complete subtree for fast proofs over large logs.
"""

import hashlib

HASH_LEN = 32


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


EMPTY_ROOT = _sha(b"")


def leaf_hash(data: bytes) -> bytes:
    h = hashlib.sha256(b"\x00")
    h.update(data)
    return h.digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    h = hashlib.sha256(b"\x01")
    h.update(left)
    h.update(right)
    return h.digest()


def _split(n: int) -> int:
    # largest power of two strictly smaller than n (n >= 2)
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class Frontier:
    """Running RFC 6962 root of an append-only list of leaf hashes.

    Keeps one hash per set bit of the size (the complete subtrees, largest
    first), like a binary counter.
    """

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[bytes] = []

    def append(self, lh: bytes) -> None:
        self._stack.append(lh)
        n = self.size
        while n & 1:
            right = self._stack.pop()
            left = self._stack.pop()
            self._stack.append(node_hash(left, right))
            n >>= 1
        self.size += 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        h = self._stack[-1]
        i = len(self._stack) - 2
        while i >= 0:
            h = node_hash(self._stack[i], h)
            i -= 1
        return h


def root(leaf_hashes: "list[bytes]") -> bytes:
    """MTH over a list of leaf hashes."""
    f = Frontier()
    for lh in leaf_hashes:
        f.append(lh)
    return f.root()


def mth(data: "list[bytes]") -> bytes:
    """MTH over a list of leaf inputs (hashes each with ``leaf_hash``)."""
    return root([leaf_hash(d) for d in data])


class Tree:
    """Every complete aligned subtree of a list of leaf hashes, for proofs.

    ``levels[j][i]`` is the root of leaves ``[i * 2**j, (i + 1) * 2**j)``;
    about 2n hashes in all.
    """

    def __init__(self, leaf_hashes: "list[bytes]") -> None:
        self.size = len(leaf_hashes)
        self.levels: list[list[bytes]] = [list(leaf_hashes)]
        cur = self.levels[0]
        while len(cur) > 1:
            nxt = [node_hash(cur[i], cur[i + 1]) for i in range(0, len(cur) - 1, 2)]
            self.levels.append(nxt)
            cur = nxt

    def range_root(self, lo: int, hi: int) -> bytes:
        """MTH of leaves [lo, hi) when lo is aligned to the subtree (as in
        every range RFC 6962's recursion visits)."""
        if hi <= lo:
            return EMPTY_ROOT
        parts = []
        while lo < hi:
            j = 0
            while j + 1 < len(self.levels) and lo % (2 << j) == 0 and lo + (2 << j) <= hi:
                j += 1
            parts.append(self.levels[j][lo >> j])
            lo += 1 << j
        h = parts[-1]
        i = len(parts) - 2
        while i >= 0:
            h = node_hash(parts[i], h)
            i -= 1
        return h

    def root(self) -> bytes:
        return self.range_root(0, self.size)

    def inclusion_proof(self, index: int, size: "int | None" = None) -> "list[bytes]":
        """PATH(index, D[size]) (RFC 6962 2.1.1), size defaults to all leaves."""
        n = self.size if size is None else size
        if n > self.size or index < 0 or index >= n:
            raise ValueError("leaf index out of range")
        out: list[bytes] = []
        lo = 0
        m = index
        while n > 1:
            k = _split(n)
            if m < k:
                out.append(self.range_root(lo + k, lo + n))
                n = k
            else:
                out.append(self.range_root(lo, lo + k))
                lo += k
                m -= k
                n -= k
        out.reverse()
        return out

    def consistency_proof(self, first: int, second: "int | None" = None) -> "list[bytes]":
        """PROOF(first, D[second]) (RFC 6962 2.1.2)."""
        n = self.size if second is None else second
        if n > self.size or first < 0 or first > n:
            raise ValueError("tree sizes out of range")
        if first == 0 or first == n:
            return []
        out: list[bytes] = []
        lo = 0
        m = first
        complete = True
        while m != n:
            k = _split(n)
            if m <= k:
                out.append(self.range_root(lo + k, lo + n))
                n = k
            else:
                out.append(self.range_root(lo, lo + k))
                lo += k
                m -= k
                n -= k
                complete = False
        if not complete:
            out.append(self.range_root(lo, lo + n))
        out.reverse()
        return out


def inclusion_proof(leaf_hashes: "list[bytes]", index: int) -> "list[bytes]":
    return Tree(leaf_hashes).inclusion_proof(index)


def consistency_proof(leaf_hashes: "list[bytes]", first: int) -> "list[bytes]":
    return Tree(leaf_hashes).consistency_proof(first)


def root_from_inclusion(lh: bytes, index: int, size: int, proof: "list[bytes]") -> "bytes | None":
    """The root an inclusion path leads to (RFC 9162 2.1.3.2), or None when
    the path has the wrong shape for (index, size)."""
    if index < 0 or index >= size:
        return None
    fn = index
    sn = size - 1
    r = lh
    for p in proof:
        if len(p) != HASH_LEN or sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        return None
    return r


def verify_inclusion(
    lh: bytes, index: int, size: int, proof: "list[bytes]", root_hash: bytes
) -> bool:
    return root_from_inclusion(lh, index, size, proof) == root_hash


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: "list[bytes]"
) -> bool:
    """RFC 9162 2.1.4.2; an empty first tree is consistent with any tree."""
    if first < 0 or first > second:
        return False
    if first == 0:
        return not proof
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    for p in proof:
        if len(p) != HASH_LEN:
            return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn = first - 1
    sn = second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = path[0]
    sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0
