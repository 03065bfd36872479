# protocols.p256 under real MicroPython against Project Wycheproof's
# ECDSA P-256/SHA-256 P1363 vectors (tests/vectors/ecdsa_p256_wycheproof.json).
import hashlib
from binascii import unhexlify

from mpyunit import eq, load_json, raises

from protocols import p256


def test_wycheproof_p1363_vectors():
    doc = load_json("../vectors/ecdsa_p256_wycheproof.json")
    n = 0
    wrong = []
    for group in doc["groups"]:
        key = unhexlify(group["key"])
        for t in group["tests"]:
            digest = hashlib.sha256(unhexlify(t["msg"])).digest()
            got = p256.verify_raw(key, digest, unhexlify(t["sig"]))
            if got != t["valid"]:
                wrong.append(t["id"])
            n += 1
    eq(wrong, [], "tcIds answered wrongly")
    eq(n, 262, "tests run")


def test_bad_public_keys_refused():
    raises(p256.P256Error, p256.decode_point, b"\x04" + bytes(64))
    raises(p256.P256Error, p256.decode_point, b"\x02" + bytes(32))
    g = b"\x04" + p256.GX.to_bytes(32, "big") + p256.GY.to_bytes(32, "big")
    eq(p256.decode_point(g), (p256.GX, p256.GY))
    off = b"\x04" + p256.GX.to_bytes(32, "big") + (p256.GY + 1).to_bytes(32, "big")
    raises(p256.P256Error, p256.decode_point, off)
