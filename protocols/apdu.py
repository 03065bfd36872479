"""Command and response APDUs (ISO/IEC 7816-4 §5.1) and the EMV commands.

A command is CLA INS P1 P2, then optionally Lc + data (Nc bytes) and Le
(Ne, the number of bytes expected).  The four cases:

    case 1  header only
    case 2  header Le               Le 00 means 256
    case 3  header Lc data
    case 4  header Lc data Le

Short form uses one byte for Lc (1..255) and Le (00 = 256).  Extended form
uses 00 + two bytes for Lc (1..65535) and two bytes for Le (0000 = 65536),
prefixed by 00 when there is no Lc.  ``Command.le`` is Ne as a count (None
when absent), so 256 and 65536 are written as such, never as 0.

Status words and what to do with 61XX / 6CXX are below; the EMV command
builders follow EMV 4.3 Book 1 §11 and Book 3 §6.5.
"""

from protocols import tlv
from protocols.errors import DecodeError, EncodeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Optional, Tuple

    StatusEntry = Tuple[int, int, str, Optional[str]]

SHORT_MAX_NC = 255
SHORT_MAX_NE = 256
EXTENDED_MAX_NC = 65535
EXTENDED_MAX_NE = 65536


class Command:
    """A command APDU.  ``le`` is Ne (1..65536) or None when absent."""

    def __init__(
        self,
        cla: int,
        ins: int,
        p1: int,
        p2: int,
        data: bytes = b"",
        le: "int | None" = None,
        extended: bool = False,
    ) -> None:
        self.cla = cla
        self.ins = ins
        self.p1 = p1
        self.p2 = p2
        self.data = bytes(data)
        self.le = le
        # Extended is forced when the lengths do not fit the short form.
        self.extended = bool(
            extended or len(self.data) > SHORT_MAX_NC or (le is not None and le > SHORT_MAX_NE)
        )

    @property
    def case(self) -> int:
        if self.data:
            return 3 if self.le is None else 4
        return 1 if self.le is None else 2

    def encode(self) -> bytes:
        for name, byte in (("CLA", self.cla), ("INS", self.ins), ("P1", self.p1), ("P2", self.p2)):
            if not 0 <= byte <= 0xFF:
                raise EncodeError("not a byte", field=name)
        out = bytes((self.cla, self.ins, self.p1, self.p2))
        nc = len(self.data)
        if nc > EXTENDED_MAX_NC:
            raise EncodeError("command data of %d bytes exceeds 65535" % nc, field="Lc")
        le = self.le
        if le is not None and not 1 <= le <= EXTENDED_MAX_NE:
            raise EncodeError("Ne %d out of range 1..65536" % le, field="Le")
        if self.extended:
            if nc:
                out += b"\x00" + nc.to_bytes(2, "big") + self.data
            if le is not None:
                prefix = b"" if nc else b"\x00"
                out += prefix + (le % EXTENDED_MAX_NE).to_bytes(2, "big")
        else:
            if nc:
                out += bytes((nc,)) + self.data
            if le is not None:
                out += bytes((le % SHORT_MAX_NE,))
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Command):
            return NotImplemented
        return self.encode() == other.encode()

    def __repr__(self) -> str:
        return "Command(%02X %02X %02X %02X, data=%s, le=%r%s)" % (
            self.cla,
            self.ins,
            self.p1,
            self.p2,
            self.data.hex().upper(),
            self.le,
            ", extended" if self.extended else "",
        )


def parse_command(raw: bytes) -> Command:
    """Parse a command APDU; DecodeError when its body fits none of the cases."""
    raw = bytes(raw)
    if len(raw) < 4:
        raise DecodeError("command shorter than its 4-byte header", offset=len(raw))
    cla, ins, p1, p2 = raw[0], raw[1], raw[2], raw[3]
    body = raw[4:]
    size = len(body)
    if size == 0:
        return Command(cla, ins, p1, p2)
    first = body[0]
    if size == 1:
        return Command(cla, ins, p1, p2, le=first or SHORT_MAX_NE)
    if first != 0:
        if size == 1 + first:
            return Command(cla, ins, p1, p2, body[1:])
        if size == 2 + first:
            return Command(cla, ins, p1, p2, body[1:-1], le=body[-1] or SHORT_MAX_NE)
        raise DecodeError(
            "short Lc %d inconsistent with %d body bytes" % (first, size), offset=4, field="Lc"
        )
    # Extended form: 00 then two bytes.
    if size < 3:
        raise DecodeError("truncated extended length", offset=4, field="Lc")
    value = int.from_bytes(body[1:3], "big")
    if size == 3:
        return Command(cla, ins, p1, p2, le=value or EXTENDED_MAX_NE, extended=True)
    if value == 0:
        raise DecodeError("extended Lc of 0", offset=4, field="Lc")
    if size == 3 + value:
        return Command(cla, ins, p1, p2, body[3:], extended=True)
    if size == 5 + value:
        le = int.from_bytes(body[-2:], "big") or EXTENDED_MAX_NE
        return Command(cla, ins, p1, p2, body[3:-2], le=le, extended=True)
    raise DecodeError(
        "extended Lc %d inconsistent with %d body bytes" % (value, size), offset=4, field="Lc"
    )


class Response:
    """A response APDU: data and the status word SW1 SW2."""

    def __init__(self, data: bytes, sw1: int, sw2: int) -> None:
        self.data = bytes(data)
        self.sw1 = sw1
        self.sw2 = sw2

    @property
    def sw(self) -> int:
        return (self.sw1 << 8) | self.sw2

    @property
    def ok(self) -> bool:
        return self.sw == 0x9000

    def encode(self) -> bytes:
        return self.data + bytes((self.sw1, self.sw2))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Response):
            return NotImplemented
        return self.encode() == other.encode()

    def __repr__(self) -> str:
        return "Response(%s, SW=%04X)" % (self.data.hex().upper(), self.sw)


def parse_response(raw: bytes) -> Response:
    raw = bytes(raw)
    if len(raw) < 2:
        raise DecodeError("response shorter than its status word", offset=len(raw), field="SW")
    return Response(raw[:-2], raw[-2], raw[-1])


# Status words -----------------------------------------------------------
# (value, mask, meaning, parameter): a status word matches when
# sw & mask == value; the first match wins, so exact entries come first.
# parameter "count" puts SW2 (00 = 256) into the meaning, "retries" the low
# nibble of SW2.  Sources: ISO/IEC 7816-4:2013 §5.6 Tables 5 and 6; EMV 4.3
# Book 1 §9.4 and Book 3 §6.5 for the EMV readings in parentheses.
STATUS_WORDS: "list[StatusEntry]" = [
    (0x9000, 0xFFFF, "Normal processing: no further qualification", None),
    (0x6200, 0xFFFF, "Warning: no information given, non-volatile memory unchanged", None),
    (0x6281, 0xFFFF, "Warning: part of returned data may be corrupted", None),
    (0x6282, 0xFFFF, "Warning: end of file or record reached before reading Ne bytes", None),
    (0x6283, 0xFFFF, "Warning: selected file deactivated (application blocked)", None),
    (0x6284, 0xFFFF, "Warning: file control information not formatted per ISO 7816-4", None),
    (0x6285, 0xFFFF, "Warning: selected file in termination state", None),
    (0x6300, 0xFFFF, "Warning: no information given, non-volatile memory changed", None),
    (0x6381, 0xFFFF, "Warning: file filled up by the last write", None),
    (0x63C0, 0xFFF0, "Warning: counter is %d (wrong PIN, tries remaining)", "retries"),
    (0x6400, 0xFFFF, "Execution error: non-volatile memory unchanged", None),
    (0x6500, 0xFFFF, "Execution error: non-volatile memory changed", None),
    (0x6581, 0xFFFF, "Execution error: memory failure", None),
    (0x6700, 0xFFFF, "Checking error: wrong length", None),
    (0x6800, 0xFFFF, "Checking error: functions in CLA not supported", None),
    (0x6881, 0xFFFF, "Checking error: logical channel not supported", None),
    (0x6882, 0xFFFF, "Checking error: secure messaging not supported", None),
    (0x6900, 0xFFFF, "Checking error: command not allowed", None),
    (0x6981, 0xFFFF, "Checking error: command incompatible with file structure", None),
    (0x6982, 0xFFFF, "Checking error: security status not satisfied", None),
    (0x6983, 0xFFFF, "Checking error: authentication method blocked", None),
    (0x6984, 0xFFFF, "Checking error: reference data not usable", None),
    (0x6985, 0xFFFF, "Checking error: conditions of use not satisfied", None),
    (0x6986, 0xFFFF, "Checking error: command not allowed (no current EF)", None),
    (0x6987, 0xFFFF, "Checking error: expected secure messaging data objects missing", None),
    (0x6988, 0xFFFF, "Checking error: incorrect secure messaging data objects", None),
    (0x6A80, 0xFFFF, "Checking error: incorrect parameters in the command data field", None),
    (0x6A81, 0xFFFF, "Checking error: function not supported", None),
    (0x6A82, 0xFFFF, "Checking error: file or application not found", None),
    (0x6A83, 0xFFFF, "Checking error: record not found", None),
    (0x6A84, 0xFFFF, "Checking error: not enough memory space in the file", None),
    (0x6A85, 0xFFFF, "Checking error: Nc inconsistent with TLV structure", None),
    (0x6A86, 0xFFFF, "Checking error: incorrect parameters P1-P2", None),
    (0x6A87, 0xFFFF, "Checking error: Nc inconsistent with parameters P1-P2", None),
    (0x6A88, 0xFFFF, "Checking error: referenced data or reference data not found", None),
    (0x6A89, 0xFFFF, "Checking error: file already exists", None),
    (0x6A8A, 0xFFFF, "Checking error: DF name already exists", None),
    (0x6B00, 0xFFFF, "Checking error: wrong parameters P1-P2", None),
    (0x6D00, 0xFFFF, "Checking error: instruction code not supported or invalid", None),
    (0x6E00, 0xFFFF, "Checking error: class not supported", None),
    (0x6F00, 0xFFFF, "Checking error: no precise diagnosis", None),
    (0x6100, 0xFF00, "Normal processing: %d response bytes still available", "count"),
    (0x6C00, 0xFF00, "Checking error: wrong Le field, %d bytes available", "count"),
    (0x6200, 0xFF00, "Warning: non-volatile memory unchanged", None),
    (0x6300, 0xFF00, "Warning: non-volatile memory changed", None),
    (0x6400, 0xFF00, "Execution error: non-volatile memory unchanged", None),
    (0x6500, 0xFF00, "Execution error: non-volatile memory changed", None),
    (0x6600, 0xFF00, "Execution error: security-related issue", None),
    (0x6700, 0xFF00, "Checking error: wrong length", None),
    (0x6800, 0xFF00, "Checking error: functions in CLA not supported", None),
    (0x6900, 0xFF00, "Checking error: command not allowed", None),
    (0x6A00, 0xFF00, "Checking error: wrong parameters P1-P2", None),
]


def sw_meaning(sw: int) -> str:
    """What status word ``sw`` (e.g. 0x6A82) means."""
    for value, mask, meaning, parameter in STATUS_WORDS:
        if sw & mask == value:
            if parameter == "count":
                return meaning % ((sw & 0xFF) or 256)
            if parameter == "retries":
                return meaning % (sw & 0x0F)
            return meaning
    return "Unknown status word %04X" % sw


# 61XX and 6CXX (ISO 7816-4 §5.3.4; EMV 4.3 Book 1 §9.3.1.3) ---------------

INS_GET_RESPONSE = 0xC0


def next_command_for(response: bytes, command: bytes) -> "bytes | None":
    """The command to send after ``response`` to ``command``, or None when done.

    61XX: the card holds XX more bytes, fetched by GET RESPONSE with Le = XX.
    6CXX: Le was wrong; the same command is sent again with Le = XX.
    (XX = 00 means 256.)  Any other status word ends the exchange.
    """
    reply = parse_response(response)
    if reply.sw1 == 0x61:
        return get_response(reply.sw2 or SHORT_MAX_NE)
    if reply.sw1 == 0x6C:
        again = parse_command(command)
        again.le = reply.sw2 or SHORT_MAX_NE
        return again.encode()
    return None


def exchange(transmit: "Callable[[bytes], bytes]", command: bytes, max_steps: int = 32) -> Response:
    """Send ``command`` through ``transmit`` and follow 61XX/6CXX to the end.

    Data from each 61XX step is kept and joined, as a T=0 reader must; the
    number of steps is capped so a misbehaving card cannot loop forever.
    """
    data = b""
    for _ in range(max_steps):
        raw = transmit(command)
        reply = parse_response(raw)
        follow = next_command_for(raw, command)
        if reply.sw1 == 0x61:
            data += reply.data
        if follow is None:
            return Response(data + reply.data, reply.sw1, reply.sw2)
        command = follow
    raise DecodeError("card still asks for more after %d exchanges" % max_steps, field="SW")


# EMV commands (Book 1 §11.3, Book 3 §6.5) --------------------------------

# GENERATE AC P1, b8-b7: cryptogram type requested (Book 3 Table 12).
AAC = 0x00
TC = 0x40
ARQC = 0x80
CDA_REQUESTED = 0x10

# VERIFY P2 (Book 3 Table 23).
PLAINTEXT_PIN = 0x80
ENCIPHERED_PIN = 0x88


def get_response(le: int) -> bytes:
    return Command(0x00, INS_GET_RESPONSE, 0x00, 0x00, le=le).encode()


def select_by_name(name: bytes, next_occurrence: bool = False) -> bytes:
    """SELECT by DF name (an AID, or 1PAY.SYS.DDF01 / 2PAY.SYS.DDF01)."""
    if not 1 <= len(name) <= 16:
        raise EncodeError("DF name must be 1..16 bytes", field="name")
    p2 = 0x02 if next_occurrence else 0x00
    return Command(0x00, 0xA4, 0x04, p2, name, le=SHORT_MAX_NE).encode()


def read_record(record: int, sfi: int) -> bytes:
    """READ RECORD: P1 the record number, P2 = SFI << 3 | 100 (P1 is a number)."""
    if not 1 <= sfi <= 30:
        raise EncodeError("SFI must be 1..30", field="sfi")
    if not 1 <= record <= 255:
        raise EncodeError("record number must be 1..255", field="record")
    return Command(0x00, 0xB2, record, (sfi << 3) | 0x04, le=SHORT_MAX_NE).encode()


def get_processing_options(pdol_data: bytes = b"") -> bytes:
    """GET PROCESSING OPTIONS; the data is the PDOL data in a Command Template (83)."""
    template = tlv.encode([tlv.TLV(0x83, pdol_data)])
    return Command(0x80, 0xA8, 0x00, 0x00, template, le=SHORT_MAX_NE).encode()


def generate_ac(cryptogram: int, cdol_data: bytes, cda: bool = False) -> bytes:
    """GENERATE AC asking for AAC, TC or ARQC, with the CDOL1/CDOL2 data."""
    if cryptogram not in (AAC, TC, ARQC):
        raise EncodeError("cryptogram type must be AAC, TC or ARQC", field="P1")
    p1 = cryptogram | (CDA_REQUESTED if cda else 0)
    return Command(0x80, 0xAE, p1, 0x00, cdol_data, le=SHORT_MAX_NE).encode()


def get_data(tag: int) -> bytes:
    """GET DATA for a primitive tag such as 9F36 (ATC), 9F13, 9F17, 9F4F."""
    if not 0 < tag <= 0xFFFF:
        raise EncodeError("GET DATA takes a one- or two-byte tag", tag=tlv.tag_hex(tag))
    return Command(0x80, 0xCA, tag >> 8, tag & 0xFF, le=SHORT_MAX_NE).encode()


def internal_authenticate(ddol_data: bytes) -> bytes:
    return Command(0x00, 0x88, 0x00, 0x00, ddol_data, le=SHORT_MAX_NE).encode()


def external_authenticate(issuer_authentication_data: bytes) -> bytes:
    """EXTERNAL AUTHENTICATE with tag 91's value (8..16 bytes); no Le."""
    if not 8 <= len(issuer_authentication_data) <= 16:
        raise EncodeError("issuer authentication data must be 8..16 bytes", field="data")
    return Command(0x00, 0x82, 0x00, 0x00, issuer_authentication_data).encode()


def get_challenge() -> bytes:
    """GET CHALLENGE: the card returns an 8-byte unpredictable number."""
    return Command(0x00, 0x84, 0x00, 0x00, le=SHORT_MAX_NE).encode()


def verify(pin_data: bytes, enciphered: bool = False) -> bytes:
    """VERIFY with a plaintext PIN block or an enciphered PIN."""
    p2 = ENCIPHERED_PIN if enciphered else PLAINTEXT_PIN
    return Command(0x00, 0x20, 0x00, p2, pin_data).encode()


def plaintext_pin_block(pin: str) -> bytes:
    """The 8-byte plaintext offline PIN block (Book 3 §6.5.12): 2, N, PIN, F pad."""
    if not 4 <= len(pin) <= 12 or not all("0" <= c <= "9" for c in pin):
        raise EncodeError("PIN must be 4..12 digits", field="pin")
    nibbles = "2" + "%X" % len(pin) + pin
    nibbles += "F" * (16 - len(nibbles))
    return bytes.fromhex(nibbles)
