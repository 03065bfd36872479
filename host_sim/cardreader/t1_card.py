"""The card's side of T=1 (ISO/IEC 7816-3:2006 §11), sans I/O.

Blocks come in byte by byte (``feed``); each complete block is decoded with
``protocols.t1`` and answered as a card does:

- I-block with the expected N(S): a chained piece (M) is acknowledged with
  R(N(R)); the last piece completes the APDU, which goes to the card; the
  response goes back in I-blocks of at most IFSD bytes, chained when longer
  (the reader pulls each next piece with R(N(R)));
- R-block naming the N(S) of the card's last I-block: that block again (the
  reader lost it); R-block naming the next one while a response is chained:
  the next piece; an R-block while the card's last block was an R- or
  S-block: that block again;
- S(RESYNCH/IFS/ABORT request): the response; RESYNCH resets the sequence
  numbers and IFSD, IFS sets IFSD, ABORT drops the chains;
- an invalid block (EDC, LEN, PCB, NAD, an I-block longer than IFSC, a
  repeated I-block with nothing to repeat, a block only a card may send):
  R(N(R), error) — 1 for an EDC error, 2 for any other;
- a block left incomplete when the reader goes quiet (``idle``, after the
  character waiting time): R(N(R), error 2).
"""

from __future__ import annotations

from typing import Any

from protocols import t1
from protocols.errors import DecodeError

DEFAULT_IFSD = t1.DEFAULT_IFS


def reply_nad(nad: int) -> int:
    """The NAD of an answer: source and destination addresses swapped."""
    return ((nad & 0x07) << 4) | ((nad >> 4) & 0x07)


class T1Card:
    def __init__(self, card: Any, ifsc: int = 254, edc: str = t1.LRC) -> None:
        self.card = card
        self.ifsc = ifsc
        self.edc = edc
        self.ifsd = DEFAULT_IFSD
        self.ns = 0  # N(S) of the card's next I-block
        self.expect = 0  # N(S) expected on the reader's next I-block
        self.rx = b""  # command chain so far
        self.tx: list[bytes] = []  # response pieces still to send
        self.last: t1.Block | None = None
        self.last_i: t1.Block | None = None
        self.nad = 0
        self.buf = bytearray()
        self.discarding = False
        self.apdus = 0
        self.invalid = 0

    def at_boundary(self) -> bool:
        return not self.buf and not self.discarding

    def idle(self) -> bytes:
        if not self.buf and not self.discarding:
            return b""
        self.buf = bytearray()
        self.discarding = False
        return self._invalid(t1.R_OTHER_ERROR)

    def feed(self, byte: int) -> bytes:
        if self.discarding:
            return b""  # a block whose length cannot be known: wait for quiet
        self.buf.append(byte)
        try:
            n = t1.block_length(bytes(self.buf[:3]), self.edc)
        except DecodeError:
            self.discarding = True
            self.buf = bytearray()
            return b""
        if n is None or len(self.buf) < n:
            return b""
        raw, self.buf = bytes(self.buf), bytearray()
        try:
            block = t1.decode(raw, self.edc)
        except DecodeError as e:
            return self._invalid(t1.R_EDC_ERROR if e.field == "EDC" else t1.R_OTHER_ERROR)
        self.nad = reply_nad(block.nad)
        return self._handle(block)

    def _send(self, block: t1.Block) -> bytes:
        self.last = block
        if block.kind == t1.I_BLOCK:
            self.last_i = block
        return t1.encode(block, self.edc)

    def _invalid(self, code: int) -> bytes:
        self.invalid += 1
        # an R-block answering an error is not "the last block" to repeat
        return t1.encode(t1.r_block(self.expect, code, self.nad), self.edc)

    def _handle(self, block: t1.Block) -> bytes:
        if block.kind == t1.I_BLOCK:
            return self._i_block(block)
        if block.kind == t1.R_BLOCK:
            return self._r_block(block)
        return self._s_block(block)

    def _i_block(self, block: t1.Block) -> bytes:
        if block.ns != self.expect:
            # the reader repeats an I-block we took: it lost our answer
            if self.last is not None:
                return self._send(self.last)
            return self._invalid(t1.R_OTHER_ERROR)
        if len(block.inf) > self.ifsc:
            return self._invalid(t1.R_OTHER_ERROR)
        self.expect ^= 1
        self.tx = []
        self.rx += block.inf
        if block.more:
            return self._send(t1.r_block(self.expect, t1.R_OK, self.nad))
        apdu, self.rx = self.rx, b""
        self.apdus += 1
        response = bytes(self.card.transmit(apdu))
        pieces = t1.chain(response, self.ifsd)
        self.tx = pieces[1:]
        return self._next_i(pieces[0])

    def _next_i(self, piece: bytes) -> bytes:
        block = t1.i_block(self.ns, piece, bool(self.tx), self.nad)
        self.ns ^= 1
        return self._send(block)

    def _r_block(self, block: t1.Block) -> bytes:
        last_i = self.last_i
        if self.last is not None and self.last.kind != t1.I_BLOCK:
            return self._send(self.last)
        if last_i is not None and block.nr == last_i.ns:
            return self._send(last_i)
        if self.tx and last_i is not None and last_i.more:
            piece = self.tx.pop(0)
            return self._next_i(piece)
        return self._invalid(t1.R_OTHER_ERROR)

    def _s_block(self, block: t1.Block) -> bytes:
        if block.response:
            return self._invalid(t1.R_OTHER_ERROR)  # the card asked nothing
        if block.stype == t1.S_RESYNCH:
            self.ns = self.expect = 0
            self.rx, self.tx = b"", []
            self.ifsd = DEFAULT_IFSD
            self.last = self.last_i = None
            return t1.encode(t1.s_block(t1.S_RESYNCH, True, None, self.nad), self.edc)
        if block.stype == t1.S_IFS:
            self.ifsd = block.value()
            return self._send(t1.s_block(t1.S_IFS, True, self.ifsd, self.nad))
        if block.stype == t1.S_ABORT:
            self.rx, self.tx = b"", []
            return self._send(t1.s_block(t1.S_ABORT, True, None, self.nad))
        return self._invalid(t1.R_OTHER_ERROR)  # WTX/VPP requests come from cards
