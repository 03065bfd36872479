"""The TSM's half of the transport-key establishment (docs/tsm.md).

For each DUKPT load the TSM makes a fresh ephemeral P-256 key, signs its
public point with the key-loading key over
``protocols.se_app.key_agree_message(ephemeral, nonce, serial)`` (the SE's
nonce and serial bind the signature to this device and this attempt), and
derives with the SE's registered key-agreement key what the SE will derive
(one-pass Diffie-Hellman, NIST SP 800-56A Rev. 3 C(1e, 1s, ECC CDH)):

- Z = ECDH(ephemeral private, SE key-agreement public), 32 bytes;
- DKM = one-step KDF, NIST SP 800-56C Rev. 2 section 4.1 option 1 with
  SHA-256 (``ConcatKDFHash`` of ``cryptography``), L = 384 bits,
  FixedInfo = ``protocols.se_app.ka_fixed_info(...)``;
- KBPK = DKM[0:32] wraps the TR-31 block; confirmation key = DKM[32:48];
- expected MacTag = AES-CMAC(confirmation key, ``kc_mac_data(...)``).

The ephemeral private key, Z and both keys exist only inside ``agree`` (no
database row, no log holds them; CPython cannot wipe ``bytes``, they are
dropped when the call returns).  The SE side is ``hsm_sim/se/kagree.py``
(pycryptodome and its own KDF code): the two sides share only the byte
layouts of ``protocols/se_app.py``.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives import cmac, hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash

from hsm_sim.crypto import dukpt_aes, tr31
from protocols import se_app

from .keys import sign_raw

KBPK_LABEL = "ecdh-p256/sp800-56c-sha256"


class Agreement:
    """One key load: the TR-31 block, what the SE needs to agree on its
    KBPK, and the digest of the MacTag the SE must answer."""

    def __init__(self, key_block: str, ephemeral: bytes, signature: bytes, tag_digest: str):
        self.key_block = key_block
        self.ephemeral = ephemeral
        self.signature = signature
        self.tag_digest = tag_digest


def tag_digest(tag: bytes) -> str:
    """What the database keeps of an expected MacTag (not the tag itself,
    so a reader of the database cannot forge a confirmation)."""
    return hashlib.sha256(b"PTTSM-KC1" + tag).hexdigest()


def tag_matches(stored: str, tag: bytes) -> bool:
    return hmac.compare_digest(stored, tag_digest(tag))


def derive(
    private: ec.EllipticCurvePrivateKey, peer: bytes, fixed_info: bytes
) -> tuple[bytes, bytes]:
    """(KBPK 32 bytes, confirmation key 16 bytes) from our private key and
    the peer's public point."""
    point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), peer)
    z = private.exchange(ec.ECDH(), point)
    dkm = ConcatKDFHash(
        algorithm=hashes.SHA256(), length=se_app.KA_KDF_BITS // 8, otherinfo=fixed_info
    ).derive(z)
    return dkm[:32], dkm[32:48]


def mac_tag(kck: bytes, serial: str, ephemeral: bytes, nonce: bytes) -> bytes:
    c = cmac.CMAC(algorithms.AES(kck))
    c.update(se_app.kc_mac_data(serial, ephemeral, nonce))
    return c.finalize()


def agree(
    key_loading_key: ec.EllipticCurvePrivateKey,
    serial: str,
    ka_public: bytes,
    nonce: bytes,
    bdk: bytes,
    ikid: bytes,
) -> Agreement:
    """A fresh ephemeral key, the KBPK agreed with the SE ``ka_public``, the
    initial DUKPT key ``dukpt_aes.initial_key(bdk, ikid)`` wrapped under it
    (TR-31 D, B1, A, X, N, optional block IK)."""
    eph = ec.generate_private_key(ec.SECP256R1())
    ephemeral = eph.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    kbpk, kck = derive(eph, ka_public, se_app.ka_fixed_info(serial, ephemeral, ka_public, nonce))
    block = tr31.dukpt_initial_key_block(kbpk, dukpt_aes.initial_key(bdk, ikid), ikid)
    expected = tag_digest(mac_tag(kck, serial, ephemeral, nonce))
    signature = sign_raw(key_loading_key, se_app.key_agree_message(ephemeral, nonce, serial))
    return Agreement(block, ephemeral, signature, expected)
