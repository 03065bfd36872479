"""A small ISO/IEC 7816-4 card for testing the reader path (profile
``test-iso7816``): it answers SELECT by AID with an FCI, nothing more.

- ``00 A4 04 00 Lc AID [Le]`` for an AID it holds: FCI template
  ``6F | 84 DF name | A5 proprietary`` and 9000 (ISO/IEC 7816-4 SELECT,
  EMV Book 1 for the shape of the PPSE FCI);
- SELECT of an AID it does not hold: 6A82 (file not found);
- any other instruction in class 00: 6D00 (instruction not supported);
- ``80 EE 00 00 Lc data [Le]`` (proprietary class, short or extended
  length): echoes the data with 9000, so tests can push long commands and
  long answers through ISO-DEP chaining;
- a command APDU that does not parse: 6700 (wrong length).
"""

from __future__ import annotations

from protocols import apdu, tlv
from protocols.errors import DecodeError

PPSE_NAME = b"2PAY.SYS.DDF01"
# Visa's registered RID + PIX 1010 (credit/debit), as listed in EMV Book 1 Annex.
VISA_AID = bytes.fromhex("A0000000031010")

SW_OK = b"\x90\x00"
SW_WRONG_LENGTH = b"\x67\x00"
SW_FILE_NOT_FOUND = b"\x6a\x82"
SW_INS_NOT_SUPPORTED = b"\x6d\x00"
SW_CLA_NOT_SUPPORTED = b"\x6e\x00"

INS_SELECT = 0xA4
INS_ECHO = 0xEE


def fci(name: bytes) -> bytes:
    """FCI template for a selected DF: 6F { 84 name, A5 {} }."""
    return tlv.encode([tlv.TLV(0x6F, children=[tlv.TLV(0x84, name), tlv.TLV(0xA5)])])


class Iso7816TestCard:
    """uid/atqa/sak/ats of a 4-byte-UID ISO-DEP card (ATQA 00 04, SAK 20)."""

    def __init__(
        self,
        uid: bytes = bytes.fromhex("08A1B2C3"),
        aids: tuple[bytes, ...] = (PPSE_NAME, VISA_AID),
        ats: bytes = bytes.fromhex("0578807002"),
    ) -> None:
        self.uid = bytes(uid)
        self.atqa = b"\x00\x04"
        self.sak = 0x20
        # TL 05, T0 78 (TA TB TC present, FSCI 8 = 256), TA 80, TB 70 (FWI 7), TC 02.
        self.ats = bytes(ats)
        self.aids = aids
        self.selected: bytes | None = None
        self.apdus: list[bytes] = []

    def process_apdu(self, command: bytes) -> bytes:
        self.apdus.append(bytes(command))
        try:
            parsed = apdu.parse_command(command)
        except DecodeError:
            return SW_WRONG_LENGTH
        if parsed.cla == 0x80 and parsed.ins == INS_ECHO:
            return parsed.data + SW_OK
        if parsed.cla != 0x00:
            return SW_CLA_NOT_SUPPORTED
        if parsed.ins != INS_SELECT:
            return SW_INS_NOT_SUPPORTED
        if parsed.p1 == 0x04 and parsed.data in self.aids:
            self.selected = parsed.data
            return fci(parsed.data) + SW_OK
        return SW_FILE_NOT_FOUND
