"""protocols.p256 under CPython: the Wycheproof vectors again, and agreement
with `cryptography` on random keys, messages and tampered signatures."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import given, settings
from hypothesis import strategies as st

from hsm_sim.tsm.keys import public_point
from protocols import p256

VECTORS = Path(__file__).parent / "vectors" / "ecdsa_p256_wycheproof.json"
KEY = ec.generate_private_key(ec.SECP256R1())
PUB = public_point(KEY.public_key())


def test_wycheproof() -> None:
    doc = json.loads(VECTORS.read_text())
    assert "wycheproof" in doc["source"].lower()
    results = []
    for g in doc["groups"]:
        key = bytes.fromhex(g["key"])
        for t in g["tests"]:
            d = hashlib.sha256(bytes.fromhex(t["msg"])).digest()
            results.append(p256.verify_raw(key, d, bytes.fromhex(t["sig"])) == t["valid"])
    assert len(results) == 262 and all(results)


@settings(max_examples=60, deadline=None)
@given(msg=st.binary(max_size=64), flip=st.integers(0, 511))
def test_agrees_with_cryptography(msg: bytes, flip: int) -> None:
    r, s = decode_dss_signature(KEY.sign(msg, ec.ECDSA(hashes.SHA256())))
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    d = hashlib.sha256(msg).digest()
    assert p256.verify_raw(PUB, d, sig)
    bad = bytearray(sig)
    bad[flip // 8] ^= 1 << (flip % 8)
    assert not p256.verify_raw(PUB, d, bytes(bad))
    assert not p256.verify_raw(PUB, hashlib.sha256(msg + b"x").digest(), sig)
