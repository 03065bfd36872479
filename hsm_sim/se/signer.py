"""Device keys, the signature counter and certificate slots (docs/secure-element.md).

Each key slot holds an ECDSA P-256 key pair generated inside and its own
monotonic 32-bit signature counter.  SIGN persists the incremented counter
before it signs (write-ahead), so a crash can skip a counter value but can
never hand out the same one twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hsm_sim.se import ecdsa_keys
from hsm_sim.se.errors import CommandFailed
from protocols import se_app
from protocols import se_frame as sf

if TYPE_CHECKING:
    from hsm_sim.se.engine import Engine

MAX_COUNTER = 0xFFFFFFFF


def _slot(payload: bytes, n: int, limit: int = se_app.KEY_SLOTS) -> int:
    if len(payload) != n:
        raise CommandFailed(sf.ST_BAD_LENGTH, f"payload must be {n} bytes")
    if payload[0] >= limit:
        raise CommandFailed(sf.ST_BAD_PARAMETER, f"slot {payload[0]} outside 0..{limit - 1}")
    return payload[0]


def _key(engine: Engine, slot: int) -> dict[str, object]:
    entry = engine.store.data["slots"].get(str(slot))
    if entry is None:
        raise CommandFailed(sf.ST_KEY_NOT_FOUND, f"no key in slot {slot}")
    assert isinstance(entry, dict)
    return entry


def generate_key(engine: Engine, payload: bytes) -> bytes:
    slot = _slot(payload, 1)
    engine.require_unlocked()
    if str(slot) in engine.store.data["slots"]:
        raise CommandFailed(sf.ST_NOT_ALLOWED, f"slot {slot} already holds a key")
    private, public = ecdsa_keys.generate()
    engine.store.data["slots"][str(slot)] = {
        "public": public.hex(),
        "private": engine.store.wrap(f"slot:{slot}:private", private),
        "counter": 0,
    }
    engine.store.save()
    return public


def get_public_key(engine: Engine, payload: bytes) -> bytes:
    slot = _slot(payload, 1)
    return bytes.fromhex(str(_key(engine, slot)["public"]))


def get_counter(engine: Engine, payload: bytes) -> bytes:
    slot = _slot(payload, 1)
    counter = _key(engine, slot)["counter"]
    assert isinstance(counter, int)
    return se_app.u32(counter)


def sign(engine: Engine, payload: bytes) -> bytes:
    """slot u8 | format u8 (0 raw, 1 DER) | digest (32) -> counter u32 | signature."""
    if len(payload) != 2 + se_app.DIGEST_LEN:
        raise CommandFailed(sf.ST_BAD_LENGTH, "SIGN takes slot, format and a 32-byte digest")
    slot = _slot(payload[:1], 1)
    fmt = payload[1]
    if fmt not in (se_app.SIG_RAW, se_app.SIG_DER):
        raise CommandFailed(sf.ST_BAD_PARAMETER, f"signature format {fmt} is not 0 or 1")
    engine.require_unlocked()
    entry = _key(engine, slot)
    previous = entry["counter"]
    assert isinstance(previous, int)
    if previous >= MAX_COUNTER:
        raise CommandFailed(sf.ST_NOT_ALLOWED, "signature counter exhausted")
    counter = previous + 1
    entry["counter"] = counter
    try:
        engine.store.save()  # write-ahead: durable before anything is signed
    except OSError:
        entry["counter"] = previous
        raise
    private = engine.store.unwrap(f"slot:{slot}:private", str(entry["private"]))
    message = se_app.signed_message(payload[2:], counter, slot)
    signature = ecdsa_keys.sign(private, message, fmt == se_app.SIG_DER)
    return se_app.u32(counter) + signature


def write_cert(engine: Engine, payload: bytes) -> bytes:
    """slot u8 | offset u16 | data: offset 0 starts the slot afresh, later
    chunks must continue exactly where the slot ends.  -> length u16."""
    if len(payload) < 3 or len(payload) - 3 > se_app.CERT_CHUNK:
        raise CommandFailed(sf.ST_BAD_LENGTH, "WRITE_CERT takes slot, offset and 0..1000 bytes")
    slot = _slot(payload[:1], 1, se_app.CERT_SLOTS)
    offset = (payload[1] << 8) | payload[2]
    certs = engine.store.data["certs"]
    current = bytes.fromhex(certs.get(str(slot), "")) if offset else b""
    if offset != len(current):
        raise CommandFailed(sf.ST_BAD_PARAMETER, f"offset {offset}, slot holds {len(current)}")
    new = current + payload[3:]
    if len(new) > se_app.CERT_MAX:
        raise CommandFailed(sf.ST_BAD_PARAMETER, f"a slot holds at most {se_app.CERT_MAX}")
    certs[str(slot)] = new.hex()
    engine.store.save()
    return se_app.u16(len(new))


def read_cert(engine: Engine, payload: bytes) -> bytes:
    """slot u8 | offset u16 | length u16 -> total u16 | the bytes there."""
    if len(payload) != 5:
        raise CommandFailed(sf.ST_BAD_LENGTH, "READ_CERT takes slot, offset, length")
    slot = _slot(payload[:1], 1, se_app.CERT_SLOTS)
    offset = (payload[1] << 8) | payload[2]
    length = (payload[3] << 8) | payload[4]
    if length > se_app.CERT_CHUNK:
        raise CommandFailed(sf.ST_BAD_PARAMETER, f"read at most {se_app.CERT_CHUNK} bytes")
    hexed = engine.store.data["certs"].get(str(slot))
    if hexed is None:
        raise CommandFailed(sf.ST_KEY_NOT_FOUND, f"certificate slot {slot} is empty")
    cert = bytes.fromhex(hexed)
    if offset > len(cert):
        raise CommandFailed(sf.ST_BAD_PARAMETER, f"offset {offset} beyond {len(cert)}")
    return se_app.u16(len(cert)) + cert[offset : offset + length]
