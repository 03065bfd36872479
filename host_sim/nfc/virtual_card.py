"""What the emulated field accepts as a card.

A virtual card is any object with

    uid: bytes            4, 7 or 10 bytes (ISO/IEC 14443-3 single/double/triple size)
    atqa: bytes           2 bytes, as the PN532 reports SENS_RES: most significant
                          byte first (``00 04``, ``00 44``)
    sak: int              SEL_RES; bit 0x20 set = ISO/IEC 14443-4 (APDUs)
    ats: bytes            the Answer To Select; TL (its own length) first
                          (``05 78 80 70 02``).  An ATS given without TL is
                          accepted: see ``ats_with_length``
    process_apdu(apdu: bytes) -> bytes     command APDU in, response APDU out

The EMV cards of ``host_sim.cards`` and the test card of ``iso7816_card``
both fit.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class VirtualCard(Protocol):
    uid: bytes
    atqa: bytes
    sak: int
    ats: bytes

    def process_apdu(self, apdu: bytes) -> bytes: ...


class CardDefinitionError(ValueError):
    """A card's identity bytes break ISO/IEC 14443-3/-4."""


def ats_with_length(ats: bytes) -> bytes:
    """The ATS with its TL byte first.

    ISO/IEC 14443-4 (ATS): TL counts the whole ATS, TL included, so an ATS
    whose first byte equals its length already has it; otherwise the bytes
    are taken to start at T0 and TL is prepended.  (An ATS without TL whose
    T0 happened to equal its length would be misread; T0 carries FSCI in its
    low nibble and the TA/TB/TC presence bits 0x70, so that needs a 5..7-byte
    ATS with T0 05..07, which declares no interface bytes yet has them.)
    """
    ats = bytes(ats)
    if not ats:
        raise CardDefinitionError("empty ATS")
    if ats[0] == len(ats):
        return ats
    if len(ats) + 1 > 0xFF:
        raise CardDefinitionError("ATS too long")
    return bytes((len(ats) + 1,)) + ats


def check_card(card: VirtualCard) -> None:
    """Raise CardDefinitionError for identity bytes a PN532 could not report."""
    if len(card.uid) not in (4, 7, 10):
        raise CardDefinitionError(f"UID of {len(card.uid)} bytes: must be 4, 7 or 10")
    if len(card.atqa) != 2:
        raise CardDefinitionError("ATQA must be 2 bytes")
    if not 0 <= card.sak <= 0xFF:
        raise CardDefinitionError("SAK must be a byte")
    if card.sak & 0x20:
        ats_with_length(card.ats)
