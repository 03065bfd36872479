"""The card (PICC) side of ISO/IEC 14443-3 activation and 14443-4 (ISO-DEP).

A ``Picc`` wraps a virtual card and keeps its protocol state:

    IDLE --REQA/WUPA--> ACTIVE --RATS--> PROTOCOL --S(DESELECT)--> HALT
    HALT --WUPA--> ACTIVE;  any state --field off--> IDLE;  HLTA: ACTIVE -> HALT

Frames are exchanged without CRC_A: the PN532's CIU adds and checks it, so
what crosses InCommunicateThru and what ``handle`` sees is PCB, [CID], [NAD],
INF (ISO/IEC 14443-4 block format).

Block rules (ISO/IEC 14443-4 block protocol, PICC rules), as implemented:
- an I-block is answered with the block number it carried; with its
  chaining bit set the card stores the INF and answers R(ACK);
- the response APDU goes out in I-blocks of at most FSD - 3 bytes (PCB and
  CRC), the chaining bit on all but the last; the PCD's R(ACK) with the other
  block number asks for the next one, with the same number for a repeat;
- R(NAK) with the card's current block number: repeat the last block;
  otherwise R(ACK) (the presence check nfcpy uses);
- S(DESELECT) is answered with S(DESELECT) and the card halts;
- anything else (bad PCB, a block before RATS) gets no answer: the reader
  sees a timeout, as with a real card.
"""

from __future__ import annotations

from host_sim.nfc.virtual_card import VirtualCard, ats_with_length

IDLE = "idle"
ACTIVE = "active"  # selected at ISO/IEC 14443-3 level, waiting for RATS
PROTOCOL = "protocol"  # ISO-DEP after RATS
HALT = "halt"

RATS = 0xE0
HLTA = b"\x50\x00"
# FSDI -> FSD (ISO/IEC 14443-4 table 1); FSDI 9..F are RFU and read as 256.
FSD_TABLE = (16, 24, 32, 40, 48, 64, 96, 128, 256)

PCB_I = 0x02
PCB_CHAINING = 0x10
PCB_CID = 0x08
PCB_NAD = 0x04
PCB_R_ACK = 0xA2
PCB_R_NAK = 0xB2
PCB_S_DESELECT = 0xC2
PCB_S_WTX = 0xF2


def fsd_from_fsdi(fsdi: int) -> int:
    return FSD_TABLE[min(fsdi, 8)]


def is_i_block(pcb: int) -> bool:
    return pcb & 0xE2 == 0x02


def is_r_block(pcb: int) -> bool:
    return pcb & 0xE6 == 0xA2


def is_s_block(pcb: int) -> bool:
    return pcb & 0xC7 == 0xC2


class Picc:
    """One card in the field with its ISO/IEC 14443 state."""

    def __init__(self, card: VirtualCard) -> None:
        self.card = card
        self.state = IDLE
        self.fsd = 256
        self.cid: int | None = None
        self._block_number = 1
        self._command = bytearray()
        self._answer_blocks: list[bytes] = []
        self._last_block: bytes | None = None
        self.blocks_answered = 0

    @property
    def uid(self) -> bytes:
        return bytes(self.card.uid)

    @property
    def iso_dep(self) -> bool:
        return bool(self.card.sak & 0x20)

    def power_off(self) -> None:
        self.state = IDLE
        self._reset_protocol()

    def _reset_protocol(self) -> None:
        self._block_number = 1
        self._command = bytearray()
        self._answer_blocks = []
        self._last_block = None

    # -- ISO/IEC 14443-3 --------------------------------------------------
    def answers_request(self, wake_up: bool) -> bool:
        """REQA wakes IDLE cards only, WUPA also HALTed ones."""
        return self.state == IDLE or self.state == ACTIVE or (wake_up and self.state == HALT)

    def select(self) -> None:
        self.state = ACTIVE
        self._reset_protocol()

    def halt(self) -> None:
        self.state = HALT
        self._reset_protocol()

    # -- ISO/IEC 14443-4 --------------------------------------------------
    def rats(self, param: int) -> bytes | None:
        """Answer RATS (E0 param): the ATS, or None when not in ACTIVE state."""
        if self.state != ACTIVE or not self.iso_dep:
            return None
        self.fsd = fsd_from_fsdi(param >> 4)
        cid = param & 0x0F
        self.cid = cid if cid else None
        self.state = PROTOCOL
        self._reset_protocol()
        return ats_with_length(self.card.ats)

    def handle(self, frame: bytes) -> bytes | None:
        """One frame from the reader, the card's answer (None: no answer)."""
        if not frame:
            return None
        if self.state == ACTIVE:
            if frame[0] == RATS and len(frame) == 2:
                return self.rats(frame[1])
            if frame == HLTA:
                self.halt()
            return None
        if self.state != PROTOCOL:
            return None
        answer = self._handle_block(frame)
        if answer is not None:
            self._last_block = answer
            self.blocks_answered += 1
        return answer

    def _handle_block(self, frame: bytes) -> bytes | None:
        pcb = frame[0]
        head = 1
        cid_byte = b""
        if pcb & PCB_CID:
            if len(frame) < 2:
                return None
            cid_byte = frame[1:2]
            head = 2
        if is_s_block(pcb):
            if pcb & 0xF7 == PCB_S_DESELECT:
                self.halt()
                return bytes((pcb,)) + cid_byte
            return None  # S(WTX) answers only follow our own WTX requests: none here
        if is_r_block(pcb):
            return self._handle_r_block(pcb, cid_byte)
        if not is_i_block(pcb):
            return None
        if pcb & PCB_NAD:
            head += 1  # NAD: we keep one logical channel and ignore it
            if len(frame) < head:
                return None
        number = pcb & 0x01
        self._block_number = number
        self._command.extend(frame[head:])
        if pcb & PCB_CHAINING:
            self._answer_blocks = []
            return bytes((PCB_R_ACK | (pcb & PCB_CID) | number,)) + cid_byte
        command = bytes(self._command)
        self._command = bytearray()
        response = bytes(self.card.process_apdu(command))
        room = max(1, self.fsd - 3 - len(cid_byte))
        pieces = [response[i : i + room] for i in range(0, len(response), room)] or [b""]
        self._answer_blocks = pieces
        return self._next_answer_block(cid_byte)

    def _next_answer_block(self, cid_byte: bytes) -> bytes:
        piece = self._answer_blocks.pop(0)
        pcb = PCB_I | self._block_number | (PCB_CID if cid_byte else 0)
        if self._answer_blocks:
            pcb |= PCB_CHAINING
        return bytes((pcb,)) + cid_byte + piece

    def _handle_r_block(self, pcb: int, cid_byte: bytes) -> bytes | None:
        number = pcb & 0x01
        nak = bool(pcb & 0x10)
        if number == self._block_number:
            return self._last_block  # a repeat, whether ACK or NAK asked for it
        if nak:
            return bytes((PCB_R_ACK | (pcb & PCB_CID) | self._block_number,)) + cid_byte
        if not self._answer_blocks:
            return None
        self._block_number = number
        return self._next_answer_block(cid_byte)
