"""Virtual EMV cards personalised from data files (docs/cards.md).

>>> from host_sim.cards import load_profile
>>> card = load_profile("contact_offline_pin")
>>> atr = card.power_on()
>>> card.transmit(bytes.fromhex("00A404000E315041592E5359532E444446303100"))[-2:].hex()
'9000'

Profiles are JSON files in ``profiles/``; the TEST keys and certificates are
in ``data/`` (``issuer_keys.json`` for the issuer master keys the HSM also
loads, ``pki.json`` for the RSA keys and certificates, ``capk_test.json`` for
the terminal's CA public key list).  ``vpcd`` connects a card to pcscd.
"""

from __future__ import annotations

from host_sim.cards import profile as _profile
from host_sim.cards.card import Card, Random
from host_sim.cards.profile import ProfileError, profile_names

__all__ = ["Card", "ProfileError", "issuer_master_keys", "load_profile", "profile_names"]


def load_profile(name: str, rng: Random | None = None) -> Card:
    """A freshly personalised card for profile ``name`` (counters at their
    profile values); ``rng(n)`` supplies the card's random bytes."""
    prof = _profile.read_profile(name)
    pki = _profile.read_json(_profile.PKI_FILE) if _profile.PKI_FILE.exists() else {}
    records = _profile.build_records(prof, _profile.pki_values(name, prof, pki))
    keys = _profile.card_keys(prof, records)
    return Card(name, prof, records, keys, _profile.icc_key(name, pki), rng)


def issuer_master_keys(issuer: str) -> dict[str, bytes]:
    """The TEST issuer master keys (``ac``, ``smi``, ``smc``) of an issuer,
    as the HSM loads them from data/issuer_keys.json."""
    entry = _profile.issuer_keys(issuer)
    return {usage: bytes.fromhex(entry[usage]) for usage in ("ac", "smi", "smc")}
