"""Card profiles for the emulated field (``payterm nfc serve --card NAME``).

- ``test-iso7816``: the ISO 7816 test card of ``iso7816_card``;
- any profile of ``host_sim.cards`` (``visa_qvsdc``, ``mastercard_cda``, ...):
  the virtual EMV card.  If the card object already offers the field
  interface (uid, atqa, sak, ats, process_apdu) it is used as it is;
  otherwise it is given a type A identity here: a random-ID UID (first byte
  08 marks a random ID in ISO/IEC 14443-3) fixed per profile name, ATQA 00 04, SAK 20 and
  the ATS ``05 78 80 70 02``, and its ``transmit`` answers the APDUs.
"""

from __future__ import annotations

import hashlib
from typing import Any

from host_sim.nfc.iso7816_card import Iso7816TestCard
from host_sim.nfc.virtual_card import VirtualCard

TEST_CARD = "test-iso7816"
DEFAULT_ATS = bytes.fromhex("0578807002")


class UnknownProfile(ValueError):
    pass


class TypeAIdentity:
    """A card with ``transmit(apdu) -> response`` made into a VirtualCard."""

    def __init__(self, name: str, card: Any) -> None:
        self.name = name
        self.card = card
        self.uid = b"\x08" + hashlib.sha256(name.encode()).digest()[:3]
        self.atqa = b"\x00\x04"
        self.sak = 0x20
        self.ats = DEFAULT_ATS

    def process_apdu(self, apdu: bytes) -> bytes:
        return bytes(self.card.transmit(apdu))


def profile_names() -> list[str]:
    names = [TEST_CARD]
    try:
        from host_sim.cards import profile_names as card_profiles
    except ImportError:
        return names
    return names + card_profiles()


def load_card(name: str) -> VirtualCard:
    if name == TEST_CARD:
        return Iso7816TestCard()
    if name not in profile_names():
        raise UnknownProfile(f"no card profile {name!r} (have: {', '.join(profile_names())})")
    from host_sim.cards import load_profile

    card = load_profile(name)
    if isinstance(card, VirtualCard):
        return card
    return TypeAIdentity(name, card)
