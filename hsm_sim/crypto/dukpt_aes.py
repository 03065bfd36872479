"""AES DUKPT, host side (ANSI X9.24-3-2017).

The derivation itself is ``protocols.crypto.aes_dukpt`` (the same code the
terminal runs under MicroPython); this module feeds it pycryptodome's AES and
names the working keys.  Working keys default to the BDK's AES type:
AES-128 keys from an AES-128 BDK, AES-256 from AES-256 (AES-192 likewise).
"""

from __future__ import annotations

from hsm_sim.crypto.aes import AesBlock
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
