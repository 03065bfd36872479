"""Tamper lock and the TSM's authenticated unlock (docs/secure-element.md).

TAMPER_EVENT (from the board's tamper switch) locks the element: every
signing, key-generation, PIN/MAC/DUKPT and DATA_WRAP/DATA_UNWRAP command
then answers NOT_ALLOWED (keys, the storage key included, are kept).
Only UNLOCK clears the lock: an AES-CMAC under the TSM unlock key (held
wrapped in the state) over ``protocols.se_app.unlock_message(serial,
challenge, tamper count)``, where the challenge is the one the last
UNLOCK_CHALLENGE returned; a challenge serves one attempt.
"""

from __future__ import annotations

import hmac
import secrets
import time
from typing import TYPE_CHECKING

from hsm_sim.crypto import aes
from hsm_sim.se.errors import CommandFailed
from protocols import se_app
from protocols import se_frame as sf

if TYPE_CHECKING:
    from hsm_sim.se.engine import Engine

MAX_LOG = 32


def source_name(code: int) -> str:
    for value, name in se_app.TAMPER_SOURCES:
        if value == code:
            return name
    return f"source_{code:02X}"


def status(engine: Engine, payload: bytes) -> bytes:
    """-> locked u8 | tamper count u32 | key slot bitmap u8 | cert slot bitmap u8
    | DUKPT loaded u8."""
    if payload:
        raise CommandFailed(sf.ST_BAD_LENGTH, "GET_STATUS takes no payload")
    data = engine.store.data
    keys = sum(1 << int(s) for s in data["slots"])
    certs = sum(1 << int(s) for s in data["certs"])
    return (
        bytes((1 if data["locked"] else 0,))
        + se_app.u32(int(data["tamper_count"]))
        + bytes((keys, certs, 1 if data.get("dukpt") else 0))
    )


def tamper_event(engine: Engine, payload: bytes) -> bytes:
    """source u8 -> locked u8 (1) | tamper count u32."""
    if len(payload) != 1:
        raise CommandFailed(sf.ST_BAD_LENGTH, "TAMPER_EVENT takes the source byte")
    data = engine.store.data
    data["locked"] = True
    data["tamper_count"] = int(data["tamper_count"]) + 1
    log = data["tamper_log"]
    log.append({"source": source_name(payload[0]), "time": int(time.time())})
    del log[:-MAX_LOG]
    engine.challenge = None
    engine.ka_nonce = None
    engine.store.save()
    return b"\x01" + se_app.u32(int(data["tamper_count"]))


def unlock_challenge(engine: Engine, payload: bytes) -> bytes:
    if payload:
        raise CommandFailed(sf.ST_BAD_LENGTH, "UNLOCK_CHALLENGE takes no payload")
    engine.challenge = secrets.token_bytes(se_app.CHALLENGE_LEN)
    return engine.challenge


def unlock(engine: Engine, payload: bytes) -> bytes:
    """CMAC (16) -> empty; NOT_ALLOWED without a challenge, when not locked,
    or when the MAC does not verify (the challenge is spent either way)."""
    if len(payload) != se_app.MAC_LEN:
        raise CommandFailed(sf.ST_BAD_LENGTH, "UNLOCK takes a 16-byte CMAC")
    challenge, engine.challenge = engine.challenge, None
    data = engine.store.data
    if not data["locked"]:
        raise CommandFailed(sf.ST_NOT_ALLOWED, "not locked")
    if challenge is None:
        raise CommandFailed(sf.ST_NOT_ALLOWED, "no UNLOCK_CHALLENGE outstanding")
    key = engine.store.unwrap("unlock_key", str(data["secrets"]["unlock_key"]))
    message = se_app.unlock_message(str(data["serial"]), challenge, int(data["tamper_count"]))
    if not hmac.compare_digest(aes.cmac(key, message), payload):
        raise CommandFailed(sf.ST_NOT_ALLOWED, "unlock MAC does not verify")
    data["locked"] = False
    engine.store.save()
    return b""
