"""T=1 (ISO/IEC 7816-3:2006 §11): APDUs in I-blocks, chained at the IFSC,
with the error recovery of §11.6.3.

- each block sent waits for an answer for BWT (times the card's WTX
  multiplier after an S(WTX request), which is answered at once);
- an invalid block (EDC, length, PCB: protocols.t1.decode raises) or no block
  in time is answered with R(N(R), error), at most ``MAX_RETRIES`` times in a
  row; an R-block whose N(R) names the I-block just sent asks for it again;
- S(IFS request) sets the IFSC and is answered; S(ABORT) is answered and the
  APDU fails;
- when the retries are spent the terminal sends S(RESYNCH request) (up to 3
  times), restarts the sequence numbers and raises CardProtocolError: the
  APDU is lost, the link is usable again.
"""

from firmware.drivers.iso7816.errors import CardProtocolError, CardTimeout
from protocols import t1
from protocols.errors import DecodeError

MAX_RETRIES = 3


class T1:
    def __init__(self, port, ifsc=32, edc="LRC", bwt_ms=1600, cwt_ms=1000, nad=0):
        self.port = port
        self.ifsc = ifsc
        self.edc = edc
        self.bwt_ms = bwt_ms
        self.cwt_ms = cwt_ms
        self.nad = nad
        self.ns = 0  # N(S) of our next I-block
        self.card_ns = 0  # N(S) we expect on the card's next I-block
        self.stats = {"r_sent": 0, "retransmits": 0, "wtx": 0, "resynch": 0}

    def _send(self, block):
        self.port.write(t1.encode(block, self.edc))

    def _recv(self, wtx):
        head = self.port.read(3, self.bwt_ms * wtx, self.cwt_ms)
        n = t1.block_length(head, self.edc)
        rest = self.port.read(n - 3, self.cwt_ms, self.cwt_ms)
        return t1.decode(head + rest, self.edc)

    def _transceive(self, block):
        """Send ``block``; the card's answer, after WTX/IFS requests and
        error recovery."""
        self._send(block)
        errors = 0
        wtx = 1
        while True:
            try:
                reply = self._recv(wtx)
                wtx = 1
            except (DecodeError, CardTimeout) as e:
                errors += 1
                if errors > MAX_RETRIES:
                    self._resynch()
                    raise CardProtocolError("T=1 block errors persist: resynchronised")
                if isinstance(e, DecodeError) and e.field == "EDC":
                    code = t1.R_EDC_ERROR
                else:
                    code = t1.R_OTHER_ERROR
                self.port.drain()
                self.stats["r_sent"] += 1
                self._send(t1.r_block(self.card_ns, code, self.nad))
                continue
            if reply.kind == t1.S_BLOCK and not reply.response:
                if reply.stype == t1.S_WTX:
                    self.stats["wtx"] += 1
                    wtx = max(1, reply.value())
                    self._send(t1.s_block(t1.S_WTX, True, reply.value(), self.nad))
                    continue
                if reply.stype == t1.S_IFS:
                    self.ifsc = reply.value()
                    self._send(t1.s_block(t1.S_IFS, True, reply.value(), self.nad))
                    continue
                if reply.stype == t1.S_ABORT:
                    self._send(t1.s_block(t1.S_ABORT, True, None, self.nad))
                    raise CardProtocolError("card aborted the chain")
            if reply.kind == t1.R_BLOCK and block.kind == t1.I_BLOCK and reply.nr == block.ns:
                errors += 1
                if errors > MAX_RETRIES:
                    self._resynch()
                    raise CardProtocolError("card keeps asking for the block: resynchronised")
                self.stats["retransmits"] += 1
                self._send(block)
                continue
            return reply

    def _resynch(self):
        self.stats["resynch"] += 1
        for _ in range(3):
            self.port.drain()
            self._send(t1.s_block(t1.S_RESYNCH, False, None, self.nad))
            try:
                reply = self._recv(1)
            except (DecodeError, CardTimeout):
                continue
            if reply.kind == t1.S_BLOCK and reply.response and reply.stype == t1.S_RESYNCH:
                self.ns = 0
                self.card_ns = 0
                return True
        return False

    def _fail(self, message):
        """A block that makes no sense here: resynchronise, then raise."""
        self._resynch()
        raise CardProtocolError(message + ": resynchronised")

    def negotiate_ifsd(self, ifsd=254):
        """Tell the card our receive size with S(IFS request)."""
        reply = self._transceive(t1.s_block(t1.S_IFS, False, ifsd, self.nad))
        if not (reply.kind == t1.S_BLOCK and reply.response and reply.stype == t1.S_IFS):
            raise CardProtocolError("no S(IFS response)")
        if reply.value() != ifsd:
            raise CardProtocolError("S(IFS response) with %d, not %d" % (reply.value(), ifsd))

    def transmit(self, command):
        """One APDU out, its response back (data + SW)."""
        parts = t1.chain(bytes(command), self.ifsc)
        reply = None
        for i in range(len(parts)):
            more = i < len(parts) - 1
            block = t1.i_block(self.ns, parts[i], more, self.nad)
            reply = self._transceive(block)
            if more:
                if reply.kind != t1.R_BLOCK or reply.nr != self.ns ^ 1:
                    self._fail("chained block not acknowledged: %r" % (reply,))
                self.ns ^= 1
        self.ns ^= 1
        out = b""
        for _ in range(1024):
            if reply.kind != t1.I_BLOCK:
                self._fail("expected an I-block, got %r" % (reply,))
            if reply.ns != self.card_ns:
                self._fail("card I-block N(S) %d, expected %d" % (reply.ns, self.card_ns))
            self.card_ns ^= 1
            out += reply.inf
            if not reply.more:
                if len(out) < 2:
                    raise CardProtocolError("response shorter than its status word")
                return out
            reply = self._transceive(t1.r_block(self.card_ns, t1.R_OK, self.nad))
        raise CardProtocolError("response chain too long")
