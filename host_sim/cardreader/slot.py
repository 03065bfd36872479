"""The card slot: contacts, power, ATR and the protocol engine, sans I/O.

``CardSlot.receive(bytes) -> bytes`` takes what the reader's UART sent and
returns what the card sends back.  At a command boundary (no T=0 header or
T=1 block under way) the in-band contact signals of docs/drivers.md are
recognised:

    FF A5 00  deactivate (the card loses power: no answer)
    FF A5 01  cold reset -> the ATR (nothing if the slot is empty)
    FF A5 02  warm reset -> the ATR
    FF A5 03  presence   -> 01 card in the slot, 00 empty
    FF A5 xx  any other: ignored

No valid T=0 header (CLA FF) or T=1 block (NAD b8 set) starts with FF A5, so
the sequence cannot be confused with a command.  An unpowered card hears
nothing: bytes other than control sequences are dropped.

The protocol comes from the ATR: its default (TA2's specific mode, else the
first offered).  ``protocol="T=0"``/``"T=1"`` asks for one: if the card's ATR
does not make it the default, the slot presents ``T0_ATR``/``T1_ATR``
instead (the card's own ATR is left as it is; docs/runner.md).  Cards of
``host_sim.cards`` have a T=0 mode (``card.t0``), switched on for T=0.
"""

from __future__ import annotations

import threading
from typing import Any

from host_sim.cardreader.t0_card import T0Card
from host_sim.cardreader.t1_card import T1Card
from protocols import atr as atr_codec
from protocols.errors import DecodeError

CONTROL = b"\xff\xa5"
OP_OFF, OP_COLD, OP_WARM, OP_PRESENCE = 0, 1, 2, 3
# T=0 only: TS, T0 = 60 (TB1, TC1; no TD1, so T=0; no historical bytes), TB1
# 00 (no VPP), TC1 00 (no extra guard time); no TCK with T=0 only.
T0_ATR = bytes.fromhex("3B600000")
# T=1 only, IFSC 254, BWI 4, CWI 5, LRC: the ATR of the contact profiles.
T1_ATR = bytes.fromhex("3BE000008131FE45EB")

Engine = T0Card | T1Card


def choose_atr(card_atr: bytes, protocol: str | None) -> tuple[bytes, atr_codec.Atr]:
    """The ATR the slot presents, and its decoding.  A card's ATR with bytes
    after its end is sent as it is (the card would), decoded up to its end."""
    decoded = _decode(card_atr)
    if protocol is None:
        return card_atr, decoded
    want = {"T=0": 0, "T=1": 1}.get(protocol.upper())
    if want is None:
        raise ValueError(f"protocol must be T=0 or T=1, not {protocol!r}")
    if decoded.default_protocol == want:
        return card_atr, decoded
    raw = T0_ATR if want == 0 else T1_ATR
    return raw, atr_codec.decode(raw)


def _decode(raw: bytes) -> atr_codec.Atr:
    try:
        return atr_codec.decode(raw)
    except DecodeError:
        n = atr_codec.expected_length(raw)
        if n is None or n >= len(raw):
            raise
        return atr_codec.decode(raw[:n])


class CardSlot:
    """A slot holding one card or none.  ``insert``/``remove``/
    ``remove_after`` may be called from any thread while a server runs."""

    def __init__(self, card: Any | None = None, protocol: str | None = None) -> None:
        self.lock = threading.RLock()
        self.card: Any | None = None
        self.protocol: str | None = None
        self.engine: Engine | None = None
        self.atr: bytes | None = None
        self._lookahead = bytearray()
        self._countdown: int | None = None
        self.log: list[str] = []  # control events, for tests and people
        self.dropped = 0  # bytes nobody heard (no power, unknown control)
        if card is not None:
            self.insert(card, protocol)

    # -- the slot, from outside ---------------------------------------------------
    def insert(self, card: Any, protocol: str | None = None) -> None:
        if protocol is not None:
            choose_atr(bytes(card.atr), protocol)  # refuse a bad protocol now
        with self.lock:
            self._power_off()
            self.card = card
            self.protocol = protocol
            self.log.append("insert")

    def remove(self) -> None:
        with self.lock:
            self._power_off()
            self.card = None
            self._countdown = None
            self.log.append("remove")

    def remove_after(self, nbytes: int) -> None:
        """Pull the card once it has sent ``nbytes`` more bytes (mid-APDU)."""
        with self.lock:
            self._countdown = nbytes

    @property
    def present(self) -> bool:
        return self.card is not None

    @property
    def powered(self) -> bool:
        return self.engine is not None

    # -- the line -----------------------------------------------------------------
    def receive(self, data: bytes) -> bytes:
        with self.lock:
            out = bytearray()
            for byte in data:
                out += self._byte(byte)
            return self._cut(bytes(out))

    def has_partial(self) -> bool:
        with self.lock:
            return bool(self._lookahead) or (
                self.engine is not None and not self.engine.at_boundary()
            )

    def idle(self) -> bytes:
        """The reader has been quiet for a character waiting time."""
        with self.lock:
            out = b""
            held, self._lookahead = bytes(self._lookahead), bytearray()
            if self.engine is None:
                self.dropped += len(held)
                return b""
            for byte in held:
                out += self.engine.feed(byte)
            out += self.engine.idle()
            return self._cut(out)

    def reset_line(self) -> None:
        """A new connection: whatever was half received is gone."""
        with self.lock:
            self._lookahead = bytearray()
            if self.engine is not None:
                self.engine.idle()

    def _byte(self, byte: int) -> bytes:
        engine = self.engine
        at_boundary = engine is None or engine.at_boundary()
        if self._lookahead or (at_boundary and byte == CONTROL[0]):
            self._lookahead.append(byte)
            if len(self._lookahead) == 2 and self._lookahead[1] != CONTROL[1]:
                held, self._lookahead = bytes(self._lookahead), bytearray()
                return self._to_engine(held)
            if len(self._lookahead) == 3:
                op, self._lookahead = self._lookahead[2], bytearray()
                return self._control(op)
            return b""
        return self._to_engine(bytes((byte,)))

    def _to_engine(self, data: bytes) -> bytes:
        if self.engine is None:
            self.dropped += len(data)
            return b""
        out = b""
        for byte in data:
            out += self.engine.feed(byte)
        return out

    def _control(self, op: int) -> bytes:
        if op == OP_PRESENCE:
            self.log.append("presence")
            return b"\x01" if self.card is not None else b"\x00"
        if op == OP_OFF:
            self.log.append("off")
            self._power_off()
            return b""
        if op in (OP_COLD, OP_WARM):
            self.log.append("cold" if op == OP_COLD else "warm")
            return self._reset(warm=op == OP_WARM)
        self.log.append(f"control {op:02X}")
        self.dropped += 3
        return b""

    def _reset(self, warm: bool) -> bytes:
        card = self.card
        if card is None or (warm and self.engine is None):
            self.engine = None
            return b""  # an empty slot, or RST toggled without power: mute
        if warm and hasattr(card, "reset"):
            card.reset()
        else:
            card.power_on()
        raw, decoded = choose_atr(bytes(card.atr), self.protocol)
        if hasattr(card, "t0"):
            card.t0 = decoded.default_protocol == 0
        if decoded.default_protocol == 0:
            self.engine = T0Card(card)
        else:
            self.engine = T1Card(card, decoded.ifsc, decoded.edc)
        self.atr = raw
        return raw

    def _power_off(self) -> None:
        if self.engine is not None and self.card is not None and hasattr(self.card, "power_off"):
            self.card.power_off()
        self.engine = None
        self.atr = None
        self._lookahead = bytearray()

    def _cut(self, out: bytes) -> bytes:
        if self._countdown is None or not out:
            return out
        if len(out) < self._countdown:
            self._countdown -= len(out)
            return out
        keep = out[: self._countdown]
        self.remove()
        return keep
