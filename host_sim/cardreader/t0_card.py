"""The card's side of T=0 (ISO/IEC 7816-3:2006 §10), sans I/O.

The reader sends a 5-byte header CLA INS P1 P2 P3.  Whether P3 counts bytes
going to the card (Lc, cases 3/4) or coming back (Le, case 2) is something a
card knows from its own instruction set, as a real one does: the outgoing
instructions are ``OUTGOING_INS``.  Then, as a card answers:

- command data expected: INS (ACK), the reader sends P3 bytes, then SW1 SW2;
  a response with data is announced with 61xx (the card's own T=0 mode, or
  the data held here for GET RESPONSE);
- data going out: if the answer has exactly Le bytes, INS, the data, SW1 SW2;
  if it has another length, 6Cxx (xx = its length) and the answer is held, so
  that the repeated command with P3 = xx gets it (EMV Book 1 §9.3.1);
  an answer without data: SW1 SW2 only;
- INS 6x/9x (invalid in T=0): 6D00; CLA FF (reserved for PPS): 6E00.
"""

from __future__ import annotations

from typing import Any

# Instructions whose P3 is Le: READ BINARY, READ RECORD, GET DATA, GET
# CHALLENGE, GET RESPONSE.
OUTGOING_INS = frozenset((0xB0, 0xB2, 0xCA, 0x84, 0xC0))
GET_RESPONSE_HEADER = b"\x00\xc0\x00\x00"
SW_INS_INVALID = b"\x6d\x00"
SW_CLA_INVALID = b"\x6e\x00"
WARNINGS = (0x62, 0x63)


class T0Card:
    def __init__(self, card: Any) -> None:
        self.card = card
        self.header = bytearray()
        self.data = bytearray()
        self.need = 0  # command data bytes still to come
        self.held: tuple[bytes, bytes, bytes] | None = None  # header4, data, SW
        self.apdus = 0

    def at_boundary(self) -> bool:
        return not self.header

    def idle(self) -> bytes:
        """The reader went quiet in the middle of a command: forget it (a
        real card would wait; the in-band reset needs a boundary)."""
        self.header = bytearray()
        self.data = bytearray()
        self.need = 0
        return b""

    def feed(self, byte: int) -> bytes:
        if self.need:
            self.data.append(byte)
            self.need -= 1
            if self.need:
                return b""
            return self._incoming()
        self.header.append(byte)
        if len(self.header) < 5:
            return b""
        return self._header_done()

    def _header_done(self) -> bytes:
        cla, ins, p3 = self.header[0], self.header[1], self.header[4]
        if cla == 0xFF:
            self.header = bytearray()
            return SW_CLA_INVALID
        if ins & 0xF0 in (0x60, 0x90):
            self.header = bytearray()
            return SW_INS_INVALID
        if ins in OUTGOING_INS:
            return self._outgoing()
        if p3 == 0:
            return self._incoming()
        self.need = p3
        self.data = bytearray()
        return bytes((ins,))

    def _transmit(self, apdu: bytes) -> tuple[bytes, bytes]:
        self.apdus += 1
        resp = bytes(self.card.transmit(apdu))
        if len(resp) < 2:
            return b"", b"\x6f\x00"
        return resp[:-2], resp[-2:]

    def _incoming(self) -> bytes:
        header, body = bytes(self.header), bytes(self.data)
        self.header = bytearray()
        self.data = bytearray()
        self.held = None
        apdu = header[:4] + (bytes((len(body),)) + body if body else b"")
        data, sw = self._transmit(apdu)
        if not data:
            return sw
        # T=0 returns no data to a command that sent some: announce it.
        self.held = (GET_RESPONSE_HEADER, data[:256], sw if len(data) <= 256 else b"\x90\x00")
        return bytes((0x61, len(data) & 0xFF))

    def _outgoing(self) -> bytes:
        header = bytes(self.header)
        self.header = bytearray()
        le = header[4] or 256
        held, self.held = self.held, None
        if held is not None and held[0] == header[:4] and len(held[1]) == le:
            data, sw = held[1], held[2]
        else:
            data, sw = self._transmit(header)
        if not data:
            return sw
        if len(data) != le:
            if sw[0] == 0x90 or sw[0] in WARNINGS:
                self.held = (header[:4], data, sw)
                return bytes((0x6C, len(data) & 0xFF))
            return sw
        return bytes((header[1],)) + data + sw
