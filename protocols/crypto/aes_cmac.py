"""CMAC (NIST SP 800-38B, RFC 4493) over an injected block cipher.

One implementation serves AES-CMAC (16-byte blocks, Rb = 0x87) and TDES-CMAC
(8-byte blocks, Rb = 0x1B); the block size is taken from the cipher's
``block_size`` attribute (16 when absent).  Written in the MicroPython subset:
the firmware runs it over ``cryptolib`` and the host over pycryptodome.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Rb constants of SP 800-38B section 5.3, by block size in bytes.
_RB = ((8, 0x1B), (16, 0x87))


def _rb(block_size: int) -> int:
    for size, rb in _RB:
        if size == block_size:
            return rb
    raise ValueError("CMAC needs a 64- or 128-bit block cipher, not %d bytes" % block_size)


def _double(block: bytes, rb: int) -> bytes:
    """Multiply by x in GF(2^n): shift left one bit, fold the carry with Rb."""
    n = len(block)
    value = int.from_bytes(block, "big") << 1
    if value >> (8 * n):
        value = (value ^ rb) & ((1 << (8 * n)) - 1)
    return value.to_bytes(n, "big")


def _xor(a: bytes, b: bytes) -> bytes:
    out = bytearray(len(a))
    for i in range(len(a)):
        out[i] = a[i] ^ b[i]
    return bytes(out)


def block_size_of(cipher: "Any") -> int:
    return int(getattr(cipher, "block_size", 16))


def subkeys(cipher: "Any") -> "tuple[bytes, bytes]":
    """K1 and K2 of SP 800-38B section 6.1."""
    size = block_size_of(cipher)
    rb = _rb(size)
    k0 = cipher.encrypt_block(bytes(size))
    k1 = _double(k0, rb)
    return k1, _double(k1, rb)


def cmac(cipher: "Any", data: bytes) -> bytes:
    """Full-length CMAC of ``data`` (truncate the result for shorter tags)."""
    size = block_size_of(cipher)
    k1, k2 = subkeys(cipher)
    n = len(data)
    if n and n % size == 0:
        last = _xor(data[n - size :], k1)
        body = n - size
    else:
        whole = (n // size) * size
        tail = data[whole:] + b"\x80" + bytes(size - 1 - (n - whole))
        last = _xor(tail, k2)
        body = whole
    state = bytes(size)
    for off in range(0, body, size):
        state = cipher.encrypt_block(_xor(state, data[off : off + size]))
    return bytes(cipher.encrypt_block(_xor(state, last)))


def verify(cipher: "Any", data: bytes, tag: bytes) -> bool:
    """True when ``tag`` (4 bytes or more) is a prefix of the CMAC of data."""
    if len(tag) < 4:
        return False
    full = cmac(cipher, data)
    if len(tag) > len(full):
        return False
    diff = 0
    for i in range(len(tag)):
        diff |= full[i] ^ tag[i]
    return diff == 0
