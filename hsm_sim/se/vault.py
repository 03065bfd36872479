"""Data at rest under the SE's storage key (docs/secure-element.md).

DATA_WRAP enciphers up to ``MAX_WRAP`` bytes the terminal keeps on its own
flash (owed reversals and advices: PANs, ICC data) with AES-256-GCM under a
storage key that is generated inside the SE at the first DATA_WRAP, kept
wrapped in the state (``secrets.storage_key``) and never exported;
DATA_UNWRAP gives the data back only when the tag verifies.  The associated
data ``protocols.se_app.wrap_aad(purpose, serial)`` binds a blob to its
purpose and to this SE.

Nonces are 96 random bits from the OS CSPRNG per blob (NIST SP 800-38D
section 8.2.2): nothing to persist per wrap, and a state file restored from
a backup cannot replay a nonce the way a rolled-back counter would.  The
bound of section 8.3 (2^32 random-nonce invocations per key) is far beyond
a terminal's life (a few wraps per transaction).

Both commands are refused while tamper-locked; the storage key is kept (as
every other key of this SE is), so the reversals a terminal owes survive a
tamper event and its TSM unlock.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from Crypto.Cipher import AES

from hsm_sim.se.errors import CommandFailed
from protocols import se_app
from protocols import se_frame as sf
from protocols.errors import DecodeError

if TYPE_CHECKING:
    from hsm_sim.se.engine import Engine

KEY_FIELD = "storage_key"


def has_key(engine: Engine) -> bool:
    return bool(engine.store.data["secrets"].get(KEY_FIELD))


def _key(engine: Engine, create: bool) -> bytes:
    """The storage key; generated inside and saved (atomically, before any
    blob exists under it) when ``create`` and there is none yet."""
    box = engine.store.data["secrets"]
    wrapped = box.get(KEY_FIELD)
    if wrapped:
        return engine.store.unwrap(KEY_FIELD, str(wrapped))
    if not create:
        raise CommandFailed(sf.ST_KEY_NOT_FOUND, "no storage key (nothing was ever wrapped)")
    key = secrets.token_bytes(32)
    box[KEY_FIELD] = engine.store.wrap(KEY_FIELD, key)
    try:
        engine.store.save()
    except OSError:
        del box[KEY_FIELD]
        raise
    return key


def data_wrap(engine: Engine, payload: bytes) -> bytes:
    """purpose u8 | data (1..MAX_WRAP) -> version u8 | nonce (12) |
    ciphertext | tag (16)."""
    if not 2 <= len(payload) <= 1 + se_app.MAX_WRAP:
        raise CommandFailed(sf.ST_BAD_LENGTH, "DATA_WRAP takes a purpose and 1..994 bytes")
    engine.require_unlocked()
    key = _key(engine, create=True)
    nonce = secrets.token_bytes(se_app.WRAP_NONCE_LEN)
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=se_app.WRAP_TAG_LEN)
    cipher.update(se_app.wrap_aad(payload[0], engine.serial))
    ct, tag = cipher.encrypt_and_digest(payload[1:])
    return bytes((se_app.WRAP_VERSION,)) + nonce + ct + tag


def data_unwrap(engine: Engine, payload: bytes) -> bytes:
    """purpose u8 | blob -> the data; BAD_PARAMETER when the blob's version
    is unknown or its tag does not verify (another SE, another purpose, any
    altered byte), KEY_NOT_FOUND when this SE never wrapped anything."""
    low = 1 + se_app.WRAP_OVERHEAD + 1
    if not low <= len(payload) <= low - 1 + se_app.MAX_WRAP:
        raise CommandFailed(sf.ST_BAD_LENGTH, "DATA_UNWRAP takes a purpose and a blob")
    engine.require_unlocked()
    try:
        nonce, ct, tag = se_app.split_blob(payload[1:])
    except DecodeError:
        raise CommandFailed(sf.ST_BAD_PARAMETER, "unknown blob version") from None
    key = _key(engine, create=False)
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=se_app.WRAP_TAG_LEN)
    cipher.update(se_app.wrap_aad(payload[0], engine.serial))
    try:
        return bytes(cipher.decrypt_and_verify(ct, tag))
    except ValueError:
        raise CommandFailed(sf.ST_BAD_PARAMETER, "blob does not verify") from None
