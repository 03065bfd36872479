"""Small helpers shared by the card-side modules (PIN blocks, PIN verification,
CVV, EMV). The ciphers and MACs are the package's own (``des``, ``mac``,
``keys``); what is added here is the card-specific glue: argument checks with
the messages these modules want, and the "digits first, then letters minus
ten" decimalisation of Visa PVV and CVV.

Private to hsm_sim.crypto; nothing here logs or keeps key material.
"""

from __future__ import annotations

from hsm_sim.crypto import des, keys, mac

TDES_KEY_LENGTHS = (8, 16, 24)


def xor(a: bytes, b: bytes) -> bytes:
    if len(a) != len(b):
        raise ValueError("xor of unequal lengths")
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def check_tdes_key(key: bytes, what: str = "key") -> None:
    if len(key) not in TDES_KEY_LENGTHS:
        raise ValueError(f"{what} must be 8, 16 or 24 bytes, got {len(key)}")


def tdes_ecb(key: bytes, data: bytes, decrypt: bool = False) -> bytes:
    """DES (8-byte key) or TDES (16/24-byte key) in ECB over whole blocks;
    degenerate keys (K1 == K2) work too."""
    check_tdes_key(key)
    return des.decrypt_ecb(key, data) if decrypt else des.encrypt_ecb(key, data)


def tdes_cbc(key: bytes, data: bytes, decrypt: bool = False, iv: bytes = bytes(8)) -> bytes:
    """DES/TDES CBC."""
    check_tdes_key(key)
    return des.decrypt_cbc(key, data, iv) if decrypt else des.encrypt_cbc(key, data, iv)


def pad_method_2(data: bytes) -> bytes:
    """ISO/IEC 9797-1 padding method 2: 0x80 then zeros to a block multiple."""
    return mac.pad(data, 2)


def mac_alg3(key: bytes, data: bytes, padding: int = 2) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 3 (retail MAC), 16-byte key, padding
    method 1 or 2; the full 8-byte MAC (callers truncate)."""
    if len(key) != 16:
        raise ValueError(f"MAC key must be 16 bytes, got {len(key)}")
    if padding not in (1, 2):
        raise ValueError(f"unsupported padding method {padding}")
    return mac.retail_mac(key, data, padding)


def adjust_odd_parity(key: bytes) -> bytes:
    """Set the low bit of every byte so each byte has odd parity."""
    return keys.adjust_parity(key)


def decimalise_scan(hex_digits: str, count: int) -> str:
    """Visa PVV / CVV decimalisation: decimal digits left to right, then the
    letters A–F left to right with 10 subtracted, until `count` digits."""
    hex_digits = hex_digits.upper()
    digits = [c for c in hex_digits if c in "0123456789"]
    digits += [str(int(c, 16) - 10) for c in hex_digits if c in "ABCDEF"]
    return "".join(digits[:count])


def is_digits(text: str) -> bool:
    return bool(text) and all(c in "0123456789" for c in text)
