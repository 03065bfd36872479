"""Transport-key establishment inside the SE (docs/secure-element.md).

The SE holds a P-256 key-agreement key pair of its own (generated inside by
KA_PUBLIC_KEY, never replaced; separate from the signing slots, whose
certificate says digitalSignature only).  For each DUKPT load the TSM sends
an ephemeral P-256 public key signed by its key-loading key (installed at
personalisation) over ``protocols.se_app.key_agree_message(ephemeral,
nonce, serial)``, where ``nonce`` is the one KBPK_NONCE handed out last (one
attempt).  The SE then runs the one-pass Diffie-Hellman scheme of NIST SP
800-56A Rev. 3 (C(1e, 1s, ECC CDH): TSM ephemeral, SE static):

- ``Z`` = x-coordinate of ``d_SE * Q_ephemeral`` (32 bytes);
- ``DKM`` = one-step KDF of NIST SP 800-56C Rev. 2 section 4.1, option 1
  (H = SHA-256): ``H(00000001 | Z | FixedInfo) | H(00000002 | Z | FixedInfo)``
  truncated to L = 384 bits, FixedInfo = ``protocols.se_app.ka_fixed_info``;
- KBPK = DKM[0:32] (AES-256), confirmation key = DKM[32:48] (AES-128);
- MacTag = AES-CMAC(confirmation key, ``protocols.se_app.kc_mac_data``).

The agreed KBPK replaces the one of the state (wrapped, saved atomically);
the confirmation key and Z are dropped.  The answer is the SE's key-agreement
public key and the MacTag; no key leaves.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING

from Crypto.Hash import SHA256
from Crypto.PublicKey import ECC
from Crypto.Signature import DSS

from hsm_sim.crypto import aes
from hsm_sim.se import ecdsa_keys
from hsm_sim.se.errors import CommandFailed
from protocols import se_app
from protocols import se_frame as sf

if TYPE_CHECKING:
    from hsm_sim.se.engine import Engine

TSM_KEY_FIELD = "tsm_key_loading_public"


def one_step_kdf(z: bytes, fixed_info: bytes, bits: int, hash_name: str = "sha256") -> bytes:
    """NIST SP 800-56C Rev. 2, section 4.1, option 1 (H = SHA-256 here;
    ``hash_name`` for the published vectors of other hashes):
    K(i) = H(counter u32 | Z | FixedInfo) for counter = 1, 2, ...; the
    leftmost ``bits`` of K(1) | K(2) | ... (``bits`` a multiple of 8)."""
    if bits <= 0 or bits % 8:
        raise ValueError("output length must be a positive number of bytes")
    out = b""
    counter = 1
    while len(out) * 8 < bits:
        out += hashlib.new(hash_name, counter.to_bytes(4, "big") + z + fixed_info).digest()
        counter += 1
    return out[: bits // 8]


def _point(public: bytes) -> ECC.EccKey:
    """A P-256 public key from SEC1 uncompressed bytes; refuses points off
    the curve (full public-key validation, SP 800-56A 5.6.2.3.3)."""
    if len(public) != se_app.PUBLIC_KEY_LEN or public[0] != 4:
        raise CommandFailed(sf.ST_BAD_PARAMETER, "not an uncompressed P-256 point")
    try:
        return ECC.construct(
            curve=ecdsa_keys.CURVE,
            point_x=int.from_bytes(public[1:33], "big"),
            point_y=int.from_bytes(public[33:], "big"),
        )
    except ValueError:
        raise CommandFailed(sf.ST_BAD_PARAMETER, "point is not on P-256") from None


def check_point(public: bytes) -> None:
    """ValueError unless ``public`` is an uncompressed P-256 point on the curve."""
    try:
        _point(public)
    except CommandFailed as exc:
        raise ValueError(exc.reason) from None


def ecdh(private: bytes, public: bytes) -> bytes:
    """Z: the x-coordinate (32 bytes) of private * public (ECC CDH; the P-256
    cofactor is 1)."""
    shared = _point(public).pointQ * int.from_bytes(private, "big")
    if shared.is_point_at_infinity():
        raise CommandFailed(sf.ST_BAD_PARAMETER, "shared point at infinity")
    return int(shared.x).to_bytes(32, "big")


def _ka_entry(engine: Engine) -> dict[str, str] | None:
    entry = engine.store.data.get("ka")
    return entry if isinstance(entry, dict) else None


def ka_public_key(engine: Engine, payload: bytes) -> bytes:
    """-> the key-agreement public key (65); generated inside at the first
    call (refused while locked), then kept for good."""
    if payload:
        raise CommandFailed(sf.ST_BAD_LENGTH, "KA_PUBLIC_KEY takes no payload")
    entry = _ka_entry(engine)
    if entry is None:
        engine.require_unlocked()
        private, public = ecdsa_keys.generate()
        engine.store.data["ka"] = {
            "public": public.hex(),
            "private": engine.store.wrap("ka:private", private),
        }
        engine.store.save()
        return public
    return bytes.fromhex(entry["public"])


def kbpk_nonce(engine: Engine, payload: bytes) -> bytes:
    """-> a fresh 16-byte nonce for the next KEY_AGREE (one attempt; a
    tamper event or a new KBPK_NONCE voids it)."""
    if payload:
        raise CommandFailed(sf.ST_BAD_LENGTH, "KBPK_NONCE takes no payload")
    engine.ka_nonce = secrets.token_bytes(se_app.KA_NONCE_LEN)
    return engine.ka_nonce


def _verify_tsm(engine: Engine, message: bytes, signature: bytes) -> None:
    wrapped = engine.store.data.get(TSM_KEY_FIELD)
    if not wrapped:
        raise CommandFailed(sf.ST_KEY_NOT_FOUND, "no TSM key-loading key installed")
    tsm = _point(engine.store.unwrap(TSM_KEY_FIELD, str(wrapped)))
    try:
        DSS.new(tsm, "fips-186-3", encoding="binary").verify(SHA256.new(message), signature)
    except ValueError:
        raise CommandFailed(sf.ST_NOT_ALLOWED, "TSM signature does not verify") from None


def key_agree(engine: Engine, payload: bytes) -> bytes:
    """TSM ephemeral public key (65) | TSM signature r|s (64) -> the SE's
    key-agreement public key (65) | MacTag (16)."""
    if len(payload) != se_app.KEY_AGREE_LEN:
        raise CommandFailed(sf.ST_BAD_LENGTH, "KEY_AGREE takes a 65-byte key and a 64-byte r|s")
    nonce, engine.ka_nonce = engine.ka_nonce, None  # one attempt, right or wrong
    engine.require_unlocked()
    ephemeral = payload[: se_app.PUBLIC_KEY_LEN]
    signature = payload[se_app.PUBLIC_KEY_LEN :]
    _point(ephemeral)
    entry = _ka_entry(engine)
    if entry is None:
        raise CommandFailed(sf.ST_KEY_NOT_FOUND, "no key-agreement key (KA_PUBLIC_KEY first)")
    if nonce is None:
        raise CommandFailed(sf.ST_NOT_ALLOWED, "no KBPK_NONCE outstanding")
    serial = engine.serial
    _verify_tsm(engine, se_app.key_agree_message(ephemeral, nonce, serial), signature)
    ka_public = bytes.fromhex(entry["public"])
    z = ecdh(engine.store.unwrap("ka:private", entry["private"]), ephemeral)
    fixed = se_app.ka_fixed_info(serial, ephemeral, ka_public, nonce)
    dkm = one_step_kdf(z, fixed, se_app.KA_KDF_BITS)
    kbpk, kck = dkm[:32], dkm[32:48]
    tag = aes.cmac(kck, se_app.kc_mac_data(serial, ephemeral, nonce))
    data = engine.store.data
    before = (data["secrets"]["kbpk"], data.get("kbpk_source"), data.get("kbpk_agreements"))
    data["secrets"]["kbpk"] = engine.store.wrap("kbpk", kbpk)
    data["kbpk_source"] = "agreed"
    data["kbpk_agreements"] = int(data.get("kbpk_agreements") or 0) + 1
    try:
        engine.store.save()  # the answer only after the new KBPK is durable
    except OSError:
        data["secrets"]["kbpk"], data["kbpk_source"], data["kbpk_agreements"] = before
        raise
    return ka_public + tag
