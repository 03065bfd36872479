"""Small helpers shared by the card-side modules (PIN blocks, PIN verification,
CVV, EMV): DES/TDES in ECB, ISO/IEC 9797-1 MAC algorithm 3 and the
"digits first, then letters minus ten" decimalisation of Visa PVV and CVV.

Private to hsm_sim.crypto; nothing here logs or keeps key material.
"""

from __future__ import annotations

from Crypto.Cipher import DES, DES3

TDES_KEY_LENGTHS = (8, 16, 24)


def xor(a: bytes, b: bytes) -> bytes:
    if len(a) != len(b):
        raise ValueError("xor of unequal lengths")
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def check_tdes_key(key: bytes, what: str = "key") -> None:
    if len(key) not in TDES_KEY_LENGTHS:
        raise ValueError(f"{what} must be 8, 16 or 24 bytes, got {len(key)}")


def _des_chain(key: bytes, block: bytes, decrypt: bool) -> bytes:
    # E(K1) D(K2) E(K3) with single DES; works for every key, including the
    # degenerate ones (K1 == K2) pycryptodome's DES3 refuses.
    k1, k2 = key[0:8], key[8:16]
    k3 = key[16:24] if len(key) == 24 else k1
    if decrypt:
        step1 = DES.new(k3, DES.MODE_ECB).decrypt(block)
        step2 = DES.new(k2, DES.MODE_ECB).encrypt(step1)
        return bytes(DES.new(k1, DES.MODE_ECB).decrypt(step2))
    step1 = DES.new(k1, DES.MODE_ECB).encrypt(block)
    step2 = DES.new(k2, DES.MODE_ECB).decrypt(step1)
    return bytes(DES.new(k3, DES.MODE_ECB).encrypt(step2))


def tdes_ecb(key: bytes, data: bytes, decrypt: bool = False) -> bytes:
    """DES (8-byte key) or TDES (16/24-byte key) in ECB over whole blocks."""
    check_tdes_key(key)
    if len(data) % 8:
        raise ValueError("data must be a multiple of 8 bytes")
    if len(key) == 8:
        des = DES.new(key, DES.MODE_ECB)
        return bytes(des.decrypt(data) if decrypt else des.encrypt(data))
    try:
        tdes = DES3.new(key, DES3.MODE_ECB)
    except ValueError:  # degenerates to single DES: do it by hand
        return b"".join(_des_chain(key, data[i : i + 8], decrypt) for i in range(0, len(data), 8))
    return bytes(tdes.decrypt(data) if decrypt else tdes.encrypt(data))


def tdes_cbc(key: bytes, data: bytes, decrypt: bool = False, iv: bytes = bytes(8)) -> bytes:
    """TDES CBC built on tdes_ecb (so degenerate keys work too)."""
    if len(data) % 8:
        raise ValueError("data must be a multiple of 8 bytes")
    out = []
    prev = iv
    for i in range(0, len(data), 8):
        block = data[i : i + 8]
        if decrypt:
            out.append(xor(tdes_ecb(key, block, decrypt=True), prev))
            prev = block
        else:
            prev = tdes_ecb(key, xor(block, prev))
            out.append(prev)
    return b"".join(out)


def pad_method_1(data: bytes) -> bytes:
    """ISO/IEC 9797-1 padding method 1: zeros to a block multiple (none if aligned,
    one zero block for empty data)."""
    if not data:
        return bytes(8)
    return data + bytes(-len(data) % 8)


def pad_method_2(data: bytes) -> bytes:
    """ISO/IEC 9797-1 padding method 2: 0x80 then zeros to a block multiple."""
    data = data + b"\x80"
    return data + bytes(-len(data) % 8)


def mac_alg3(key: bytes, data: bytes, padding: int = 2) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 3 (retail MAC) with a double-length key.

    Single-DES CBC under the left key half, final block through D(KR), E(KL).
    Returns the full 8-byte MAC; callers truncate.
    """
    if len(key) != 16:
        raise ValueError(f"MAC key must be 16 bytes, got {len(key)}")
    if padding == 1:
        padded = pad_method_1(data)
    elif padding == 2:
        padded = pad_method_2(data)
    else:
        raise ValueError(f"unsupported padding method {padding}")
    kl, kr = key[:8], key[8:]
    cbc = DES.new(kl, DES.MODE_CBC, iv=bytes(8)).encrypt(padded)
    last = cbc[-8:]
    last = DES.new(kr, DES.MODE_ECB).decrypt(last)
    return bytes(DES.new(kl, DES.MODE_ECB).encrypt(last))


def adjust_odd_parity(key: bytes) -> bytes:
    """Set the low bit of every byte so each byte has odd parity."""
    out = bytearray()
    for b in key:
        high = b & 0xFE
        out.append(high | (0 if bin(high).count("1") % 2 else 1))
    return bytes(out)


def decimalise_scan(hex_digits: str, count: int) -> str:
    """Visa PVV / CVV decimalisation: decimal digits left to right, then the
    letters A–F left to right with 10 subtracted, until `count` digits."""
    hex_digits = hex_digits.upper()
    digits = [c for c in hex_digits if c in "0123456789"]
    digits += [str(int(c, 16) - 10) for c in hex_digits if c in "ABCDEF"]
    return "".join(digits[:count])


def is_digits(text: str) -> bool:
    return bool(text) and all(c in "0123456789" for c in text)
