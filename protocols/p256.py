"""ECDSA P-256 signature verification in pure Python (FIPS 186-4 / SEC 1).

Runs under CPython and the MicroPython unix port (big integers, 3-argument
``pow``). Verification only: it handles public data (the TSM's release key,
a signature, a digest), so constant time is not needed. The firmware uses it
to check signed OTA manifests and parameter documents (docs/tsm.md), as
MicroPython has no ECDSA of its own.

Curve parameters: SEC 2 v2 section 2.4.2 (secp256r1) = FIPS 186-4 D.1.2.3.
"""

P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
A = P - 3
B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
GX = 0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296
GY = 0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5


class P256Error(ValueError):
    """A malformed public key or signature encoding."""


def _inv(x: int, m: int) -> int:
    return int(pow(x, m - 2, m))


def on_curve(x: int, y: int) -> bool:
    if not (0 <= x < P and 0 <= y < P):
        return False
    return (y * y - (x * x * x + A * x + B)) % P == 0


def decode_point(data: bytes) -> "tuple[int, int]":
    """(x, y) from a 65-byte SEC 1 uncompressed point; P256Error otherwise."""
    if len(data) != 65 or data[0] != 4:
        raise P256Error("public key is not a 65-byte uncompressed point")
    x = int.from_bytes(data[1:33], "big")
    y = int.from_bytes(data[33:65], "big")
    if not on_curve(x, y):
        raise P256Error("public key is not on P-256")
    return x, y


# Jacobian coordinates (X, Y, Z): x = X/Z^2, y = Y/Z^3; Z = 0 is infinity.


def _double(pt: "tuple[int, int, int]") -> "tuple[int, int, int]":
    x1, y1, z1 = pt
    if z1 == 0 or y1 == 0:
        return (0, 1, 0)
    zz = z1 * z1 % P
    m = 3 * (x1 - zz) * (x1 + zz) % P  # a = -3
    yy = y1 * y1 % P
    s = 4 * x1 * yy % P
    x3 = (m * m - 2 * s) % P
    y3 = (m * (s - x3) - 8 * yy * yy) % P
    z3 = 2 * y1 * z1 % P
    return (x3, y3, z3)


def _add(p1: "tuple[int, int, int]", p2: "tuple[int, int, int]") -> "tuple[int, int, int]":
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    if z1 == 0:
        return p2
    if z2 == 0:
        return p1
    z1z1 = z1 * z1 % P
    z2z2 = z2 * z2 % P
    u1 = x1 * z2z2 % P
    u2 = x2 * z1z1 % P
    s1 = y1 * z2 * z2z2 % P
    s2 = y2 * z1 * z1z1 % P
    if u1 == u2:
        if s1 != s2:
            return (0, 1, 0)
        return _double(p1)
    h = (u2 - u1) % P
    r = (s2 - s1) % P
    hh = h * h % P
    hhh = h * hh % P
    v = u1 * hh % P
    x3 = (r * r - hhh - 2 * v) % P
    y3 = (r * (v - x3) - s1 * hhh) % P
    z3 = h * z1 * z2 % P
    return (x3, y3, z3)


def _shamir(u1: int, u2: int, q: "tuple[int, int]") -> "tuple[int, int, int]":
    """u1*G + u2*Q (Shamir's trick), Jacobian result."""
    g = (GX, GY, 1)
    qq = (q[0], q[1], 1)
    gq = _add(g, qq)
    table = (g, g, qq, gq)  # index 0 unused
    acc = (0, 1, 0)
    for i in range(255, -1, -1):  # u1, u2 < N < 2^256 (no int.bit_length on MicroPython)
        acc = _double(acc)
        k = ((u1 >> i) & 1) | (((u2 >> i) & 1) << 1)
        if k:
            acc = _add(acc, table[k])
    return acc


def verify_digest(public_key: "bytes | tuple[int, int]", digest: bytes, r: int, s: int) -> bool:
    """True when (r, s) is a valid ECDSA P-256 signature of ``digest`` (the
    32-byte SHA-256 of the message) under ``public_key`` (65 bytes or an
    (x, y) pair). A key that is not on the curve raises P256Error."""
    q = decode_point(public_key) if not isinstance(public_key, tuple) else public_key
    if not (0 < r < N and 0 < s < N):
        return False
    e = int.from_bytes(digest[:32], "big")
    w = _inv(s, N)
    u1 = e * w % N
    u2 = r * w % N
    x, _y, z = _shamir(u1, u2, q)
    if z == 0:
        return False
    zz = _inv(z, P)
    xa = x * zz * zz % P
    return xa % N == r


def verify_raw(public_key: "bytes | tuple[int, int]", digest: bytes, signature: bytes) -> bool:
    """``signature`` is raw r||s (64 bytes); False for any other length."""
    if len(signature) != 64:
        return False
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    return verify_digest(public_key, digest, r, s)
