"""AES DUKPT, host side (ANSI X9.24-3-2017).

The derivation itself is ``protocols.crypto.aes_dukpt`` (the same code the
terminal runs under MicroPython); this module feeds it pycryptodome's AES and
names the working keys.  Working keys default to the BDK's AES type:
AES-128 keys from an AES-128 BDK, AES-256 from AES-256 (AES-192 likewise).

``derivation_key`` and ``cached_working_key`` are the HSM's form: the same
derivation with every intermediate derivation key remembered in memory
(keyed by the initial key itself, its ID and the counter bits), so a
terminal's next KSN costs one step and a working key, as the terminal's own
future-key registers do.  The keys live in the HSM process only.
"""

from __future__ import annotations

from functools import lru_cache

from hsm_sim.crypto.aes import AesBlock, FastAesBlock
from protocols.crypto import aes_dukpt as core

# Output name -> X9.24-3 key usage.
WORKING_KEYS: tuple[tuple[str, int], ...] = (
    ("pin", core.USAGE_PIN_ENCRYPTION),
    ("mac", core.USAGE_MAC_GENERATION),
    ("mac_verify", core.USAGE_MAC_VERIFICATION),
    ("mac_both", core.USAGE_MAC_BOTH),
    ("data", core.USAGE_DATA_ENCRYPT),
    ("data_decrypt", core.USAGE_DATA_DECRYPT),
    ("data_both", core.USAGE_DATA_BOTH),
    ("key_encryption", core.USAGE_KEY_ENCRYPTION),
)

KEY_TYPES = {"aes128": core.KEY_AES128, "aes192": core.KEY_AES192, "aes256": core.KEY_AES256}


def initial_key(bdk: bytes, ksn_or_ikid: bytes) -> bytes:
    """Initial key from the BDK and the initial key ID (or a whole KSN)."""
    ikid = ksn_or_ikid[: core.IKID_LEN] if len(ksn_or_ikid) == core.KSN_LEN else ksn_or_ikid
    return core.initial_key(AesBlock, bdk, ikid)


def working_key(bdk: bytes, ksn: bytes, usage: int, key_type: int | None = None) -> bytes:
    ik = initial_key(bdk, ksn)
    return core.working_key(AesBlock, ik, ksn, usage, key_type)


def working_keys(bdk: bytes, ksn: bytes, key_type: int | None = None) -> dict[str, bytes]:
    """Initial key, the counter's derivation key and every working key."""
    ikid, counter = core.split_ksn(ksn)
    ik = core.initial_key(AesBlock, bdk, ikid)
    kt = core.key_type_for(bdk) if key_type is None else key_type
    idk = core.intermediate_key(AesBlock, ik, ikid, counter)
    out = {"initial_key": ik, "derivation_key": idk}
    for name, usage in WORKING_KEYS:
        out[name] = core.working_key_from(AesBlock, idk, ikid, counter, usage, kt)
    return out


def originator(ik: bytes, initial_key_id: bytes) -> core.Originator:
    """A terminal-side DUKPT state over pycryptodome (tests, simulators)."""
    return core.Originator(AesBlock, ik, initial_key_id)


@lru_cache(maxsize=65536)
def derivation_key(ik: bytes, ikid: bytes, partial: int) -> bytes:
    """The X9.24-3 intermediate derivation key of the counter bits
    ``partial`` (``intermediate_key`` of that counter): one step on from
    the key of ``partial`` without its lowest one-bit (the derivation walks
    the counter's one-bits high to low).  Cached: consecutive KSNs of one
    terminal share all but their last steps.  The cache key holds the
    initial key and its ID whole, so no entry answers another key."""
    if partial == 0:
        return ik
    if partial < 0 or partial > core.MAX_COUNTER:
        raise core.DukptError("transaction counter must be 1..FFFFFFFF")
    low = partial & -partial
    base = derivation_key(ik, ikid, partial ^ low)
    kt = core.key_type_for(ik)
    data = core.derivation_data(core.USAGE_KEY_DERIVATION, kt, ikid, partial)
    return core.derive_key(FastAesBlock, base, kt, data)


@lru_cache(maxsize=4096)
def cached_initial_key(bdk: bytes, ikid: bytes) -> bytes:
    """``initial_key`` remembered per (BDK, initial key ID)."""
    return core.initial_key(FastAesBlock, bdk, ikid)


def cached_working_key(bdk: bytes, ksn: bytes, usage: int, key_type: int | None = None) -> bytes:
    """``working_key`` through the caches of ``cached_initial_key`` and
    ``derivation_key`` (the working key itself is derived each time)."""
    ikid, counter = core.split_ksn(ksn)
    if counter <= 0 or counter > core.MAX_COUNTER:
        raise core.DukptError("transaction counter must be 1..FFFFFFFF")
    ik = cached_initial_key(bytes(bdk), ikid)
    kt = core.key_type_for(bdk) if key_type is None else key_type
    idk = derivation_key(ik, ikid, counter)
    return core.working_key_from(FastAesBlock, idk, ikid, counter, usage, kt)
