# AES-CMAC under MicroPython with cryptolib: the same published vectors as
# the CPython tests, the same bytes.  cryptolib on the unix port has AES-128
# and AES-256 only, and no DES, so AES-192 and TDES cases are CPython-only.
from mpyunit import eq, load_json

from protocols.crypto import aes_cmac
from protocols.crypto.cryptolib_aes import CryptolibAes


def _h(text):
    return bytes.fromhex(text)


def _hex(b):
    return "".join("%02X" % x for x in b)


def _cases(name):
    out = []
    for c in load_json("../vectors/" + name)["cases"]:
        if c["alg"] == "aes" and len(c["key"]) in (32, 64):
            out.append(c)
    return out


def test_rfc4493_vectors():
    cases = _cases("cmac_rfc4493.json")
    eq(len(cases), 4, "case count")
    for c in cases:
        eq(
            _hex(aes_cmac.cmac(CryptolibAes(_h(c["key"])), _h(c["message"]))),
            c["mac"],
            c["message"],
        )


def test_rfc4493_subkeys():
    sk = load_json("../vectors/cmac_rfc4493.json")["subkeys"]
    k1, k2 = aes_cmac.subkeys(CryptolibAes(_h(sk["key"])))
    eq(_hex(k1), sk["k1"], "K1")
    eq(_hex(k2), sk["k2"], "K2")


def test_sp800_38b_aes256_vectors():
    cases = _cases("cmac_sp800_38b.json")
    eq(len(cases), 4, "AES-256 case count")
    for c in cases:
        eq(
            _hex(aes_cmac.cmac(CryptolibAes(_h(c["key"])), _h(c["message"]))),
            c["mac"],
            c["message"],
        )


def test_verify_accepts_truncated_and_rejects_altered():
    c = _cases("cmac_rfc4493.json")[2]
    cipher = CryptolibAes(_h(c["key"]))
    msg = _h(c["message"])
    tag = _h(c["mac"])
    eq(aes_cmac.verify(cipher, msg, tag[:8]), True, "truncated tag")
    eq(aes_cmac.verify(cipher, msg + b"\x00", tag), False, "longer message")
    bad = bytes([tag[0] ^ 1]) + tag[1:]
    eq(aes_cmac.verify(cipher, msg, bad), False, "altered tag")
