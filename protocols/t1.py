"""T=1 blocks (ISO/IEC 7816-3:2006 §11.3-11.4), pure, for MicroPython and CPython.

A block is a prologue, an information field and an epilogue:

    NAD u8 | PCB u8 | LEN u8 (0..254) | INF (LEN bytes) | EDC (LRC 1 byte or CRC 2 bytes)

PCB (§11.3.2.2):
    I-block  0 N(S) M 0 0 0 0 0      N(S) send sequence number, M more data (chaining)
    R-block  1 0 0 N(R) e e e e      N(R) expected sequence number; eeee: 0 error
                                     free, 1 EDC/parity error, 2 other error
    S-block  1 1 r t t t t t         r = 1 response; ttttt: 0 RESYNCH, 1 IFS,
                                     2 ABORT, 3 WTX, 4 VPP error (response only)

LRC is the XOR of every byte of the prologue and INF.  The CRC variant is the
one PC/SC readers compute for T=1 (pcsc-lite CCID driver): CRC-16 with the
reflected polynomial 0x8408, initial value FFFF, no final XOR, sent high byte
first (catalogue name CRC-16/MCRF4XX, check value 6F91 over "123456789").

``decode(raw, edc)`` raises DecodeError (field NAD/PCB/LEN/INF/EDC) on any
malformed block; the T=1 driver answers such a block with an R-block
(``R_EDC_ERROR`` or ``R_OTHER_ERROR``).
"""

from protocols.errors import DecodeError, EncodeError

I_BLOCK = "I"
R_BLOCK = "R"
S_BLOCK = "S"

R_OK = 0
R_EDC_ERROR = 1
R_OTHER_ERROR = 2

S_RESYNCH = 0
S_IFS = 1
S_ABORT = 2
S_WTX = 3
S_VPP_ERROR = 4
S_NAMES = ("RESYNCH", "IFS", "ABORT", "WTX", "VPP_ERROR")

MAX_INF = 254
DEFAULT_IFS = 32
LRC = "LRC"
CRC = "CRC"


def lrc(data: bytes) -> int:
    x = 0
    for b in data:
        x ^= b
    return x


def _crc_table() -> "list[int]":
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x8408 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc_table()


def crc(data: bytes) -> int:
    v = 0xFFFF
    for b in data:
        v = (v >> 8) ^ _CRC_TABLE[(v ^ b) & 0xFF]
    return v


def edc_bytes(data: bytes, edc: str = LRC) -> bytes:
    if edc == LRC:
        return bytes((lrc(data),))
    if edc == CRC:
        v = crc(data)
        return bytes((v >> 8, v & 0xFF))
    raise EncodeError("EDC must be LRC or CRC, not %r" % (edc,), field="EDC")


def edc_size(edc: str) -> int:
    return 2 if edc == CRC else 1


class Block:
    """A T=1 block.  ``kind`` is "I", "R" or "S"; for I: ``ns``, ``more``;
    for R: ``nr``, ``error``; for S: ``stype``, ``response``."""

    def __init__(self, nad: int, pcb: int, inf: bytes = b"") -> None:
        self.nad = nad
        self.pcb = pcb
        self.inf = bytes(inf)
        self.ns = 0
        self.more = False
        self.nr = 0
        self.error = 0
        self.stype = 0
        self.response = False
        if not pcb & 0x80:
            self.kind = I_BLOCK
            self.ns = (pcb >> 6) & 1
            self.more = bool(pcb & 0x20)
        elif not pcb & 0x40:
            self.kind = R_BLOCK
            self.nr = (pcb >> 4) & 1
            self.error = pcb & 0x0F
        else:
            self.kind = S_BLOCK
            self.response = bool(pcb & 0x20)
            self.stype = pcb & 0x1F

    def value(self) -> int:
        """The parameter of S(IFS) / S(WTX): the single INF byte."""
        return self.inf[0] if self.inf else 0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Block):
            return NotImplemented
        return (self.nad, self.pcb, self.inf) == (other.nad, other.pcb, other.inf)

    def __repr__(self) -> str:
        if self.kind == I_BLOCK:
            what = "I(%d%s)" % (self.ns, ",M" if self.more else "")
        elif self.kind == R_BLOCK:
            what = "R(%d,err=%d)" % (self.nr, self.error)
        else:
            name = S_NAMES[self.stype] if self.stype < len(S_NAMES) else "?"
            what = "S(%s %s)" % (name, "response" if self.response else "request")
        return "Block(%s nad=%02X inf=%s)" % (what, self.nad, self.inf.hex().upper())


def encode(block: Block, edc: str = LRC) -> bytes:
    if not 0 <= block.nad <= 0xFF:
        raise EncodeError("NAD is not a byte", field="NAD")
    if len(block.inf) > MAX_INF:
        raise EncodeError("INF of %d bytes exceeds 254" % len(block.inf), field="LEN")
    head = bytes((block.nad, block.pcb, len(block.inf))) + block.inf
    return head + edc_bytes(head, edc)


def i_block(ns: int, inf: bytes, more: bool = False, nad: int = 0) -> Block:
    if not 0 < len(inf) <= MAX_INF:
        raise EncodeError("I-block INF of %d bytes (1..254)" % len(inf), field="INF")
    return Block(nad, ((ns & 1) << 6) | (0x20 if more else 0), inf)


def r_block(nr: int, error: int = R_OK, nad: int = 0) -> Block:
    if error not in (R_OK, R_EDC_ERROR, R_OTHER_ERROR):
        raise EncodeError("R-block error code %d" % error, field="PCB")
    return Block(nad, 0x80 | ((nr & 1) << 4) | error)


def s_block(stype: int, response: bool = False, value: "int | None" = None, nad: int = 0) -> Block:
    if stype in (S_IFS, S_WTX):
        if value is None or not 0 <= value <= 0xFF:
            raise EncodeError("S(%s) needs a one-byte value" % S_NAMES[stype], field="INF")
        inf = bytes((value,))
    elif stype in (S_RESYNCH, S_ABORT, S_VPP_ERROR):
        inf = b""
    else:
        raise EncodeError("S-block type %d" % stype, field="PCB")
    return Block(nad, 0xC0 | (0x20 if response else 0) | stype, inf)


def block_length(prefix: bytes, edc: str = LRC) -> "int | None":
    """Total length of the block ``prefix`` starts, once LEN is in (else None)."""
    if len(prefix) < 3:
        return None
    if prefix[2] == 0xFF:
        raise DecodeError("LEN FF is reserved", offset=2, field="LEN")
    return 3 + prefix[2] + edc_size(edc)


def decode(raw: bytes, edc: str = LRC) -> Block:
    """Decode one block; DecodeError on a wrong EDC, length or PCB."""
    raw = bytes(raw)
    if edc not in (LRC, CRC):
        raise DecodeError("EDC must be LRC or CRC", field="EDC")
    n = block_length(raw, edc)
    if n is None:
        raise DecodeError(
            "block of %d bytes is shorter than its prologue" % len(raw),
            offset=len(raw),
            field="LEN",
        )
    if len(raw) != n:
        raise DecodeError(
            "block is %d bytes, LEN says %d" % (len(raw), n), offset=min(len(raw), n), field="LEN"
        )
    size = edc_size(edc)
    body = raw[: n - size]
    if edc_bytes(body, edc) != raw[n - size :]:
        raise DecodeError("%s does not match" % edc, offset=n - size, field="EDC")
    nad = raw[0]
    if nad & 0x88:
        # §11.3.2.1: b8 and b4 (VPP control in earlier editions) shall be 0
        raise DecodeError("NAD %02X is invalid" % nad, offset=0, field="NAD")
    block = Block(nad, raw[1], raw[3 : n - size])
    pcb = raw[1]
    if block.kind == I_BLOCK:
        if pcb & 0x1F:
            raise DecodeError("I-block PCB %02X has RFU bits set" % pcb, offset=1, field="PCB")
    elif block.kind == R_BLOCK:
        if pcb & 0x20 or block.error > R_OTHER_ERROR:
            raise DecodeError("R-block PCB %02X is invalid" % pcb, offset=1, field="PCB")
        if block.inf:
            raise DecodeError("R-block carries INF", offset=3, field="INF")
    else:
        st = block.stype
        if st > S_VPP_ERROR or (st == S_VPP_ERROR and not block.response):
            raise DecodeError("S-block PCB %02X is invalid" % pcb, offset=1, field="PCB")
        want = 1 if st in (S_IFS, S_WTX) else 0
        if len(block.inf) != want:
            raise DecodeError(
                "S(%s) carries %d INF bytes, not %d" % (S_NAMES[st], len(block.inf), want),
                offset=3,
                field="INF",
            )
        if st == S_IFS and not 1 <= block.inf[0] <= MAX_INF:
            raise DecodeError("IFS %d outside 1..254" % block.inf[0], offset=3, field="INF")
    return block


def chain(apdu: bytes, ifs: int) -> "list[bytes]":
    """``apdu`` cut into INF fields of at most ``ifs`` bytes (§11.6.2.3): each
    but the last goes out in an I-block with M = 1."""
    if not 1 <= ifs <= MAX_INF:
        raise EncodeError("IFS %d outside 1..254" % ifs, field="IFS")
    if not apdu:
        raise EncodeError("empty APDU", field="INF")
    return [bytes(apdu[i : i + ifs]) for i in range(0, len(apdu), ifs)]
