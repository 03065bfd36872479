"""Answer-to-Reset (ISO/IEC 7816-3:2006 §8.2), pure, for MicroPython and CPython.

An ATR is TS, T0, interface bytes, historical bytes and (usually) TCK:

    TS      3B direct convention, 3F inverse convention
    T0      Y1 (b8..b5: which of TA1 TB1 TC1 TD1 follow) | K (b4..b1: number
            of historical bytes)
    TAi TBi TCi TDi   present as the previous Y says; TDi = Y(i+1) | T, where
            T names the protocol the next group belongs to (15 = global)
    T1..TK  historical bytes
    TCK     XOR of T0..TCK is 0; absent when only T=0 is indicated

``decode(raw)`` returns an ``Atr``; ``expected_length(prefix)`` tells a reader
how many bytes the ATR has as soon as the prefix says (None while it cannot
know yet), so a driver reads exactly the ATR and never waits on a silent line
for bytes that are not coming.

A reader whose UART decodes in direct convention sees an inverse-convention
card's TS 3F as 03; ``decode`` accepts that form and converts every byte
(``inverse_byte``), so the result is the same as for the logical bytes.

Meanings (ISO 7816-3 §8.3, §10.2, §11.4): TA1 = Fi/Di (tables 7 and 8), TC1 =
N (extra guard time), TA2 = specific mode, TC2 = WI for T=0, TA for T=15 =
clock stop and class, and in the first group for T=1 (i > 2): TA = IFSC, TB =
BWI/CWI, TC b1 = error detection code (0 LRC, 1 CRC).
"""

from protocols.errors import DecodeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional, Tuple

    # (i, protocol, TA, TB, TC, TD)
    Group = Tuple[int, Optional[int], Optional[int], Optional[int], Optional[int], Optional[int]]

MAX_LENGTH = 33  # TS + at most 32 characters (§8.2.1)

TS_DIRECT = 0x3B
TS_INVERSE = 0x3F
TS_INVERSE_AS_DIRECT = 0x03

# Table 7: Fi and f(max) in kHz, by the high nibble of TA1 (None = RFU).
FI_TABLE = (
    372,
    372,
    558,
    744,
    1116,
    1488,
    1860,
    None,
    None,
    512,
    768,
    1024,
    1536,
    2048,
    None,
    None,
)
FMAX_KHZ = (
    4000,
    5000,
    6000,
    8000,
    12000,
    16000,
    20000,
    None,
    None,
    5000,
    7500,
    10000,
    15000,
    20000,
    None,
    None,
)
# Table 8: Di by the low nibble of TA1 (None = RFU).
DI_TABLE = (None, 1, 2, 4, 8, 16, 32, 64, 12, 20, None, None, None, None, None, None)

DEFAULT_FI = 372
DEFAULT_DI = 1
DEFAULT_WI = 10
DEFAULT_IFSC = 32
DEFAULT_BWI = 4
DEFAULT_CWI = 13

# Class indicator of TA for T=15 (§8.3, table 10): bits b6..b1.
CLASSES = ((0x01, "A"), (0x02, "B"), (0x04, "C"))
CLOCK_STOP = ("not supported", "state L", "state H", "no preference")


def inverse_byte(b: int) -> int:
    """The logical value of a byte a direct-convention UART received from an
    inverse-convention card: complement every bit and reverse their order."""
    b = ~b & 0xFF
    out = 0
    for _ in range(8):
        out = (out << 1) | (b & 1)
        b >>= 1
    return out


class Atr:
    """A decoded ATR.  ``groups`` is a list of (i, protocol, TA, TB, TC, TD)
    with None for absent bytes; ``protocol`` is the T the group belongs to
    (None for group 1, global; group 2 belongs to TD1's T)."""

    def __init__(
        self,
        raw: bytes,
        convention: str,
        groups: "list[Group]",
        historical: bytes,
        tck: "int | None",
    ) -> None:
        self.raw = raw
        self.convention = convention
        self.groups = groups
        self.historical = historical
        self.tck = tck

    # -- raw interface bytes --------------------------------------------------
    def _byte(self, i: int, k: int) -> "int | None":
        for g in self.groups:
            if g[0] == i:
                return g[k]
        return None

    def ta(self, i: int) -> "int | None":
        return self._byte(i, 2)

    def tb(self, i: int) -> "int | None":
        return self._byte(i, 3)

    def tc(self, i: int) -> "int | None":
        return self._byte(i, 4)

    def td(self, i: int) -> "int | None":
        return self._byte(i, 5)

    def first_group_for(self, protocol: int) -> "Group | None":
        """The first group after TD2 belonging to ``protocol`` (§8.2.3: the
        protocol-specific bytes for T=1 are TAi/TBi/TCi for i > 2 after the
        first TD(i-1) that indicates T=1)."""
        for g in self.groups:
            if g[0] > 2 and g[1] == protocol:
                return g
        return None

    # -- what they mean ---------------------------------------------------------
    @property
    def protocols(self) -> "list[int]":
        """Protocols offered, in order, without 15 (global); [0] when no TD1."""
        out: list[int] = []
        for g in self.groups:
            td = g[5]
            if td is not None and td & 0x0F != 15 and td & 0x0F not in out:
                out.append(td & 0x0F)
        return out or [0]

    @property
    def default_protocol(self) -> int:
        """The protocol used without PPS: the specific mode's (TA2) if any,
        else the first offered (§6.3.1)."""
        ta2 = self.ta(2)
        if ta2 is not None:
            return ta2 & 0x0F
        return self.protocols[0]

    @property
    def fi(self) -> "int | None":
        ta1 = self.ta(1)
        return DEFAULT_FI if ta1 is None else FI_TABLE[ta1 >> 4]

    @property
    def di(self) -> "int | None":
        ta1 = self.ta(1)
        return DEFAULT_DI if ta1 is None else DI_TABLE[ta1 & 0x0F]

    @property
    def f_max_khz(self) -> "int | None":
        ta1 = self.ta(1)
        return 5000 if ta1 is None else FMAX_KHZ[ta1 >> 4]

    @property
    def extra_guard_time(self) -> int:
        """N of TC1 (255 has a meaning of its own: minimum guard time)."""
        tc1 = self.tc(1)
        return 0 if tc1 is None else tc1

    @property
    def specific_mode(self) -> "tuple[int, bool, bool] | None":
        """TA2: (protocol, able to change mode, parameters implicit), or None."""
        ta2 = self.ta(2)
        if ta2 is None:
            return None
        return (ta2 & 0x0F, not ta2 & 0x80, bool(ta2 & 0x10))

    @property
    def wi(self) -> int:
        """Waiting time integer of T=0 (TC2, when TD1 indicates T=0)."""
        g = self._group(2)
        if g is not None and g[1] == 0 and g[4] is not None:
            return g[4]
        return DEFAULT_WI

    def _group(self, i: int) -> "Group | None":
        for g in self.groups:
            if g[0] == i:
                return g
        return None

    @property
    def ifsc(self) -> int:
        g = self.first_group_for(1)
        if g is not None and g[2] is not None:
            return g[2]
        return DEFAULT_IFSC

    @property
    def bwi(self) -> int:
        g = self.first_group_for(1)
        if g is not None and g[3] is not None:
            return g[3] >> 4
        return DEFAULT_BWI

    @property
    def cwi(self) -> int:
        g = self.first_group_for(1)
        if g is not None and g[3] is not None:
            return g[3] & 0x0F
        return DEFAULT_CWI

    @property
    def edc(self) -> str:
        """T=1 error detection code: "LRC" or "CRC"."""
        g = self.first_group_for(1)
        if g is not None and g[4] is not None and g[4] & 0x01:
            return "CRC"
        return "LRC"

    @property
    def global_ta(self) -> "int | None":
        g = self.first_group_for(15)
        return None if g is None else g[2]

    @property
    def classes(self) -> "list[str]":
        """Supply classes of the first TA for T=15 (A = 5 V, B = 3 V, C = 1.8 V);
        [] when not indicated (class A only, §8.3)."""
        ta = self.global_ta
        if ta is None:
            return []
        return [name for bit, name in CLASSES if ta & bit]

    @property
    def clock_stop(self) -> "str | None":
        ta = self.global_ta
        return None if ta is None else CLOCK_STOP[ta >> 6]

    def to_dict(self) -> "dict[str, object]":
        """A JSON-friendly summary."""
        return {
            "atr": self.raw.hex().upper(),
            "convention": self.convention,
            "protocols": ["T=%d" % t for t in self.protocols],
            "default_protocol": "T=%d" % self.default_protocol,
            "fi": self.fi,
            "di": self.di,
            "f_max_khz": self.f_max_khz,
            "extra_guard_time": self.extra_guard_time,
            "wi": self.wi,
            "ifsc": self.ifsc,
            "bwi": self.bwi,
            "cwi": self.cwi,
            "edc": self.edc,
            "historical": self.historical.hex().upper(),
            "tck": None if self.tck is None else "%02X" % self.tck,
        }

    def __repr__(self) -> str:
        return "Atr(%s)" % self.raw.hex().upper()


def _logical(raw: bytes) -> "tuple[bytes, str]":
    if not raw:
        raise DecodeError("empty ATR", offset=0, field="TS")
    ts = raw[0]
    if ts == TS_DIRECT:
        return bytes(raw), "direct"
    if ts == TS_INVERSE:
        return bytes(raw), "inverse"
    if ts == TS_INVERSE_AS_DIRECT:
        return bytes([inverse_byte(b) for b in raw]), "inverse"
    raise DecodeError("TS %02X is neither 3B nor 3F" % ts, offset=0, field="TS")


def _scan(data: bytes) -> "tuple[list[Group], int, int, bool] | None":
    """Walk the interface bytes of a logical ATR prefix.  Returns (groups,
    offset of the first historical byte, K, TCK present) or None when the
    prefix ends inside the interface bytes."""
    if len(data) < 2:
        return None
    y = data[1] >> 4
    k = data[1] & 0x0F
    pos = 2
    i = 1
    protocol: "int | None" = None
    groups: "list[Group]" = []
    tck = False
    while True:
        values: "list[int | None]" = [None, None, None, None]
        for bit in range(4):
            if y & (1 << bit):
                if pos >= len(data):
                    return None
                if pos >= MAX_LENGTH:
                    raise DecodeError("ATR longer than %d bytes" % MAX_LENGTH, offset=pos)
                values[bit] = data[pos]
                pos += 1
        groups.append((i, protocol, values[0], values[1], values[2], values[3]))
        td = values[3]
        if td is None:
            break
        protocol = td & 0x0F
        if protocol != 0:
            tck = True
        y = td >> 4
        i += 1
    return groups, pos, k, tck


def expected_length(prefix: bytes) -> "int | None":
    """Total length of the ATR that ``prefix`` starts, or None while the
    prefix is too short to tell.  DecodeError on a bad TS or an ATR that
    would exceed 33 bytes."""
    data, _ = _logical(prefix)
    scanned = _scan(data)
    if scanned is None:
        return None
    _, pos, k, tck = scanned
    total = pos + k + (1 if tck else 0)
    if total > MAX_LENGTH:
        raise DecodeError("ATR of %d bytes exceeds %d" % (total, MAX_LENGTH), offset=MAX_LENGTH)
    return total


def decode(raw: bytes) -> Atr:
    """Decode one complete ATR; DecodeError naming the place otherwise
    (bad TS, truncated, trailing bytes, wrong TCK).  RFU Fi/Di values
    decode; ``fi``/``di`` are then None."""
    data, convention = _logical(bytes(raw))
    scanned = _scan(data)
    if scanned is None:
        raise DecodeError("ATR ends inside its interface bytes", offset=len(data), field="TDi")
    groups, pos, k, tck = scanned
    total = pos + k + (1 if tck else 0)
    if total > MAX_LENGTH:
        raise DecodeError("ATR of %d bytes exceeds %d" % (total, MAX_LENGTH), offset=MAX_LENGTH)
    if len(data) < total:
        field = "TCK" if len(data) == pos + k else "historical bytes"
        raise DecodeError(
            "ATR truncated: %d of %d bytes" % (len(data), total), offset=len(data), field=field
        )
    if len(data) > total:
        raise DecodeError("%d bytes after the ATR" % (len(data) - total), offset=total)
    check = None
    if tck:
        x = 0
        for b in data[1:total]:
            x ^= b
        if x != 0:
            raise DecodeError(
                "TCK mismatch (XOR of T0..TCK is %02X)" % x, offset=total - 1, field="TCK"
            )
        check = data[total - 1]
    return Atr(data[:total], convention, groups, data[pos : pos + k], check)
