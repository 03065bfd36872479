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

import json
from pathlib import Path
from typing import Any

from host_sim.cards import profile as _profile
from host_sim.cards.card import Card, Random
from host_sim.cards.profile import ProfileError, profile_names

__all__ = [
    "Card",
    "PersistentCard",
    "ProfileError",
    "issuer_master_keys",
    "load_profile",
    "profile_names",
]


def load_profile(
    name: str, rng: Random | None = None, state_file: str | Path | None = None
) -> Card:
    """A personalised card for profile ``name``; ``rng(n)`` supplies the
    card's random bytes.  Without ``state_file`` the counters start at their
    profile values; with it they are loaded from that JSON file when it
    exists and written back after every command that changes them."""
    prof = _profile.read_profile(name)
    pki = _profile.read_json(_profile.PKI_FILE) if _profile.PKI_FILE.exists() else {}
    records = _profile.build_records(prof, _profile.pki_values(name, prof, pki))
    keys = _profile.card_keys(prof, records)
    icc_key = _profile.icc_key(name, pki)
    if state_file is None:
        return Card(name, prof, records, keys, icc_key, rng)
    card = PersistentCard(name, prof, records, keys, icc_key, rng)
    card.attach(Path(state_file))
    return card


class PersistentCard(Card):
    """A card whose non-volatile state (ATC, PIN try counter, blocks,
    PUT DATA values) lives in a JSON file across runs."""

    state_path: Path | None = None

    def attach(self, path: Path) -> None:
        self.state_path = path
        if path.exists():
            saved: Any = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(saved, dict):
                raise ProfileError(f"{path}: card state must be a JSON object")
            self.restore(saved)
        self._saved = self.state()

    def transmit(self, command: bytes) -> bytes:
        reply = super().transmit(command)
        current = self.state()
        if self.state_path is not None and current != self._saved:
            tmp = self.state_path.with_suffix(self.state_path.suffix + ".tmp")
            tmp.write_text(json.dumps(current, indent=2) + "\n", encoding="utf-8")
            tmp.replace(self.state_path)
            self._saved = current
        return reply


def issuer_master_keys(issuer: str) -> dict[str, bytes]:
    """The TEST issuer master keys (``ac``, ``smi``, ``smc``) of an issuer,
    as the HSM loads them from data/issuer_keys.json."""
    entry = _profile.issuer_keys(issuer)
    return {usage: bytes.fromhex(entry[usage]) for usage in ("ac", "smi", "smc")}
