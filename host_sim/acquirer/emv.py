"""Field 55 for the issuer side: what an ARQC covers, and the answer's tag 91.

Request field 55 carries the card's and terminal's data objects (BER-TLV).
The host needs the cryptogram (9F26), ATC (9F36), unpredictable number
(9F37), issuer application data (9F10) and the data the card MACed:

- every CVN: 9F02 9F03 9F1A 95 5F2A 9A 9C 9F37 82 9F36 (9F03 taken as zero
  when absent, as terminals leave it out for purchases without cashback);
- then Visa CVN 10: the 4-byte CVR (IAD bytes 4–7); Visa CVN 18/22: the
  whole IAD; Mastercard CVN 16/17/20/21: the 6-byte CVR (IAD bytes 3–8).

This is the layout of ``host_sim.cards.cryptogram.ac_input`` (the cards) and
of ``hsm_sim.crypto.emv_ac.visa_ac_data``, written here from the Book 2 /
scheme descriptions in docs/cards.md so a mistake on either side shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from hsm_sim.crypto import emv_ac
from protocols import tlv
from protocols.errors import DecodeError

AC_TAGS = emv_ac.AC_DATA_TAGS  # what the card MACs, before its IAD part
CID_ARQC = 0x80
# Card status update (method 2): byte 2 bit 8 = approve (docs/cards.md).
CSU_APPROVE = bytes.fromhex("00800000")
CSU_DECLINE = bytes(4)


class IccDataError(ValueError):
    """Field 55 lacks what an online authorisation needs (→ format error)."""


@dataclass(frozen=True)
class IccRequest:
    arqc: bytes
    cid: int
    atc: bytes
    un: bytes
    iad: bytes
    amount: bytes
    store: dict[int, bytes]


def parse_request(field55_hex: str) -> IccRequest:
    try:
        store = tlv.to_dict(tlv.decode(bytes.fromhex(field55_hex)))
    except (DecodeError, ValueError) as exc:
        raise IccDataError(f"field 55 is not BER-TLV: {exc}") from None
    store.setdefault(0x9F03, bytes(6))
    for tag, length in (*AC_TAGS, (0x9F26, 8), (0x9F10, 0)):
        value = store.get(tag)
        if value is None or (length and len(value) != length):
            raise IccDataError(f"field 55: tag {tag:X} missing or of the wrong length")
    amount = store[0x9F02].hex()
    if not amount.isdigit():
        raise IccDataError("field 55: amount 9F02 is not BCD")
    cid = store.get(0x9F27, bytes((CID_ARQC,)))
    return IccRequest(
        arqc=store[0x9F26],
        cid=cid[0] if cid else CID_ARQC,
        atc=store[0x9F36],
        un=store[0x9F37],
        iad=store[0x9F10],
        amount=store[0x9F02],
        store=store,
    )


def ac_data(cvn: int, icc: IccRequest) -> bytes:
    """The transaction data the card MACed for cryptogram version ``cvn``."""
    data = b"".join(icc.store[tag] for tag, _length in AC_TAGS)
    try:
        return data + emv_ac.iad_part(cvn, icc.iad)
    except ValueError as e:
        raise IccDataError(str(e)) from None


def arpc_method(cvn: int) -> int:
    return int(emv_ac.profile(cvn)["arpc_method"])


def response_field55(issuer_auth_data: bytes) -> str:
    """Response field 55: tag 91, issuer authentication data."""
    return tlv.encode([tlv.TLV(0x91, issuer_auth_data)]).hex().upper()
