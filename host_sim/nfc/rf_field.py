"""The RF field in front of the emulated PN532: zero, one or two cards.

Cards come and go from any thread (a test, the CLI) while the emulator
serves the link, so every change and every emulator step holds ``lock``.

Anticollision (ISO/IEC 14443-3, type A bit-oriented): when several cards answer a
request, the reader walks their UIDs bit by bit (cascade level by level,
each byte least significant bit first) and at the first bit where they
differ it chooses one value and goes on with the cards that sent it.  NXP
readers choose 1 (as the CIU's collision handling does), so the card that
wins is the one whose bit sequence is highest at the first difference;
``anticollision_order`` sorts cards that way.  Two cards with different UIDs
therefore never make InListPassiveTarget fail: the PN532 selects one
(MaxTg 1) or both in turn (MaxTg 2).  Detecting "more than one card" is the
terminal's job (EMV Book D: poll for a second card; our driver's
``activate()`` does).

``leave_after(card, blocks)`` makes a card leave the field after it has
answered that many more ISO-DEP blocks: a removal in the middle of an
exchange, at a point a test can choose.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from host_sim.nfc.iso_dep import Picc
from host_sim.nfc.virtual_card import VirtualCard, check_card

MAX_CARDS = 2
CASCADE_TAG = 0x88


def cascade_levels(uid: bytes) -> list[bytes]:
    """UID CLn bytes as sent during anticollision (CT 88 before a 7/10-byte UID)."""
    if len(uid) == 4:
        return [uid]
    if len(uid) == 7:
        return [bytes((CASCADE_TAG,)) + uid[:3], uid[3:]]
    return [bytes((CASCADE_TAG,)) + uid[:3], bytes((CASCADE_TAG,)) + uid[3:6], uid[6:]]


def _bit_sequence(uid: bytes) -> list[int]:
    bits: list[int] = []
    for level in cascade_levels(uid):
        for byte in level:
            bits.extend((byte >> i) & 1 for i in range(8))
    return bits


def anticollision_order(uids: list[bytes]) -> list[int]:
    """Indexes of ``uids`` in the order a reader choosing 1 on collision selects them."""
    return sorted(range(len(uids)), key=lambda i: _bit_sequence(uids[i]), reverse=True)


class RfField:
    def __init__(self, cards: list[VirtualCard] | None = None) -> None:
        self.lock = threading.RLock()
        self.piccs: list[Picc] = []
        self._leave_after: dict[int, int] = {}
        self._listeners: list[Callable[[], None]] = []
        for card in cards or []:
            self.insert(card)

    def insert(self, card: VirtualCard) -> Picc:
        check_card(card)
        with self.lock:
            if len(self.piccs) >= MAX_CARDS:
                raise ValueError(f"the field holds at most {MAX_CARDS} cards")
            picc = Picc(card)
            self.piccs.append(picc)
        for listener in list(self._listeners):
            listener()
        return picc

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` (from the inserting thread) whenever a card arrives."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def remove(self, card: VirtualCard) -> None:
        with self.lock:
            self.piccs = [p for p in self.piccs if p.card is not card]
            self._leave_after.pop(id(card), None)

    def clear(self) -> None:
        with self.lock:
            self.piccs = []
            self._leave_after = {}

    def cards(self) -> list[VirtualCard]:
        with self.lock:
            return [p.card for p in self.piccs]

    def leave_after(self, card: VirtualCard, blocks: int) -> None:
        """The card leaves the field once it has answered ``blocks`` more blocks."""
        with self.lock:
            self._leave_after[id(card)] = blocks

    def in_field(self, picc: Picc) -> bool:
        with self.lock:
            return any(p is picc for p in self.piccs)

    def power_off(self) -> None:
        """The field drops: every card loses power and returns to IDLE."""
        with self.lock:
            for picc in self.piccs:
                picc.power_off()

    def transceive(self, picc: Picc, frame: bytes) -> bytes | None:
        """One frame to a card; its answer, or None (no answer: gone or mute)."""
        with self.lock:
            if not self.in_field(picc):
                return None
            answer = picc.handle(frame)
            key = id(picc.card)
            if answer is not None and key in self._leave_after:
                self._leave_after[key] -= 1
                if self._leave_after[key] <= 0:
                    self.remove(picc.card)
            return answer
