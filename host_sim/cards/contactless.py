"""The contactless side of a card: the Visa-like qVSDC path.

A qVSDC card (``"kernel": "visa"`` in its profile) computes its cryptogram
inside GET PROCESSING OPTIONS (EMV Contactless Book C-3, the publicly
documented Kernel 3 behaviour) and answers in format 2 (template 77) with
AIP, AFL, ATC, the cryptogram (9F26), CID (9F27), IAD (9F10), the Card
Transaction Qualifiers (9F6C), track 2 (57), PAN sequence number (5F34) and,
for fDDA, the signed dynamic application data (9F4B) with the Card
Authentication Related Data (9F69).  GENERATE AC is then refused (6985).

From the Terminal Transaction Qualifiers (9F66, in the PDOL data):

- byte 1 b6 (20) qVSDC supported: without it the card answers 6985;
- byte 1 b4 (08) offline-only reader: an ARQC becomes an AAC;
- byte 1 b3 (04) online PIN, b2 (02) signature supported; byte 2 b7 (40)
  CVM required; byte 3 b7 (40) consumer device CVM supported: the card sets
  CTQ byte 1 b8 (80) online PIN required, b7 (40) signature required, or
  byte 2 b8 (80) CDCVM performed, by its profile's ``cvm`` preference;
- byte 2 b8 (80) online cryptogram required: ARQC;
- byte 1 b1 (01) ODA for online authorisations: fDDA is signed for an ARQC
  too (always for a TC).

fDDA signature (format 05, Book 2 Table 17): the ICC dynamic data is an
8-byte ICC dynamic number (length byte first); the terminal dynamic data in
the hash is UN (9F37) || amount (9F02) || currency (5F2A) || 9F69, where
9F69 = 01 (fDDA version) || card unpredictable number (4) || CTQ (2), as in
Book C-3 fDDA version 01.  (Visa's own VCPS specification is not public; this
is the Book C-3 reading, see docs/cards.md.)

The Mastercard-like card takes the contact path with a format 2 GPO and
GENERATE AC with CDA (``card.Card``); only its PPSE directory entry (the
kernel identifier 9F2A) is contactless-specific.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from host_sim.cards import oda
from host_sim.cards.cryptogram import AAC, ARQC, TC
from protocols import tlv

if TYPE_CHECKING:
    from host_sim.cards.card import Card

FDDA_VERSION = 0x01


def _ctq(card: Card, ttq: bytes, online: bool) -> bytes:
    cfg = card.contactless
    ctq = bytearray(bytes.fromhex(cfg.get("ctq", "0000")))
    if ttq[1] & 0x40:  # CVM required
        preference = cfg.get("cvm", "signature")
        if preference == "cdcvm" and ttq[2] & 0x40:
            ctq[1] |= 0x80
        elif preference == "online_pin" and ttq[0] & 0x04 and online:
            ctq[0] |= 0x80
        elif ttq[0] & 0x02:
            ctq[0] |= 0x40
        elif ttq[0] & 0x04 and online:
            ctq[0] |= 0x80
    return bytes(ctq)


def qvsdc_gpo(card: Card) -> bytes:
    """Process a qVSDC GET PROCESSING OPTIONS; returns template 77."""
    from host_sim.cards.card import SW_CONDITIONS, CardReply

    s = card.session
    store = s.pdol_store
    ttq = store.get(0x9F66, bytes(4)).ljust(4, b"\x00")
    if not ttq[0] & 0x20:
        raise CardReply(SW_CONDITIONS)
    requested = ARQC if ttq[1] & 0x80 else TC
    decision = card.risk_decision(requested, store)
    ctq = _ctq(card, ttq, decision == ARQC)
    if ctq[0] & 0x80 and decision == TC:
        decision = ARQC  # online PIN needs an online authorisation
    if decision == ARQC and ttq[0] & 0x08:
        decision = AAC  # offline-only reader
    s.store = dict(store)
    s.first_ac = decision
    s.complete = True
    iad = card.issuer_application_data()
    ac = card.compute_ac(s.store, iad)
    if decision == ARQC:
        s.arqc = ac
    card.log_transaction(decision)
    atc = card.atc.to_bytes(2, "big")
    body = [
        tlv.TLV(0x82, card.aip),
        tlv.TLV(0x94, card.afl_bytes()),
        tlv.TLV(0x9F36, atc),
        tlv.TLV(0x9F26, ac),
        tlv.TLV(0x9F27, bytes((decision,))),
        tlv.TLV(0x9F10, iad),
        tlv.TLV(0x9F6C, ctq),
    ]
    for tag in (0x57, 0x5F34):
        if tag in card.data:
            body.append(tlv.TLV(tag, card.data[tag]))
    sign = decision == TC or (decision == ARQC and bool(ttq[0] & 0x01))
    if sign and card.icc_key is not None and card.aip[0] & 0x20:
        related = bytes((FDDA_VERSION,)) + card.rng(4) + ctq
        idn = card.rng(8)
        terminal = (
            store.get(0x9F37, bytes(4))
            + store.get(0x9F02, bytes(6))
            + store.get(0x5F2A, bytes(2))
            + related
        )
        sdad = oda.signed_dynamic_data(card.icc_key, bytes((len(idn),)) + idn, terminal)
        body.append(tlv.TLV(0x9F4B, sdad))
        body.append(tlv.TLV(0x9F69, related))
        s.dda_performed = True
    return tlv.encode([tlv.TLV(0x77, children=body)])
