"""ECDSA P-256 inside the secure element (pycryptodome).

Private keys are handled as 32-byte scalars only between the wrapped store
and the signer; nothing here returns one to a caller outside the SE.
"""

from __future__ import annotations

from Crypto.Hash import SHA256
from Crypto.PublicKey import ECC
from Crypto.Signature import DSS

CURVE = "P-256"


def generate() -> tuple[bytes, bytes]:
    """(private scalar 32 bytes, public key SEC1 uncompressed 65 bytes)."""
    key = ECC.generate(curve=CURVE)
    return int(key.d).to_bytes(32, "big"), public_bytes(key)


def public_bytes(key: ECC.EccKey) -> bytes:
    point = key.pointQ
    return b"\x04" + int(point.x).to_bytes(32, "big") + int(point.y).to_bytes(32, "big")


def sign(private: bytes, message: bytes, der: bool) -> bytes:
    """ECDSA P-256 with SHA-256 over ``message`` (FIPS 186-3, random k)."""
    key = ECC.construct(curve=CURVE, d=int.from_bytes(private, "big"))
    signer = DSS.new(key, "fips-186-3", encoding="der" if der else "binary")
    signature = signer.sign(SHA256.new(message))
    assert isinstance(signature, bytes)
    return signature
