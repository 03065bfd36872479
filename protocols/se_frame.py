"""Frames between the terminal and its secure element (docs/se.md), pure.

    request : CMD u8    | LEN u16 BE | payload (LEN bytes) | CRC u16 BE
    response: STATUS u8 | LEN u16 BE | payload (LEN bytes) | CRC u16 BE

CRC is CRC-16/CCITT-FALSE (protocols/crc16.py) over everything before it.
Both sides use these functions: the terminal's driver (firmware/drivers/se)
and the secure-element emulator (hsm_sim/se).  Command and status codes are
data (``COMMANDS``, ``STATUSES``).
"""

from protocols.crc16 import crc16_ccitt_false
from protocols.errors import DecodeError, EncodeError

MAX_PAYLOAD = 1024
HEADER = 3
TRAILER = 2

# Transport commands every secure element answers; 0x10..0x7F are the
# application's (docs/se.md), 0x80..0xFF are reserved.
CMD_INFO = 0x01
CMD_RANDOM = 0x02
CMD_ECHO = 0x03
CMD_RESEND = 0x0F

COMMANDS = (
    (CMD_INFO, "INFO"),
    (CMD_RANDOM, "RANDOM"),
    (CMD_ECHO, "ECHO"),
    (CMD_RESEND, "RESEND"),
)

ST_OK = 0x00
ST_BUSY = 0x01
ST_CRC_ERROR = 0x02
ST_UNKNOWN_COMMAND = 0x03
ST_BAD_LENGTH = 0x04
ST_BAD_PARAMETER = 0x05
ST_NOT_ALLOWED = 0x06
ST_KEY_NOT_FOUND = 0x07
ST_INTERNAL_ERROR = 0x08
ST_NO_RESPONSE = 0x09

STATUSES = (
    (ST_OK, "OK"),
    (ST_BUSY, "BUSY"),
    (ST_CRC_ERROR, "CRC_ERROR"),
    (ST_UNKNOWN_COMMAND, "UNKNOWN_COMMAND"),
    (ST_BAD_LENGTH, "BAD_LENGTH"),
    (ST_BAD_PARAMETER, "BAD_PARAMETER"),
    (ST_NOT_ALLOWED, "NOT_ALLOWED"),
    (ST_KEY_NOT_FOUND, "KEY_NOT_FOUND"),
    (ST_INTERNAL_ERROR, "INTERNAL_ERROR"),
    (ST_NO_RESPONSE, "NO_RESPONSE"),
)


def status_name(status: int) -> str:
    for value, name in STATUSES:
        if value == status:
            return name
    return "STATUS_%02X" % status


def command_name(cmd: int) -> str:
    for value, name in COMMANDS:
        if value == cmd:
            return name
    return "CMD_%02X" % cmd


def _frame(first: int, payload: bytes, field: str) -> bytes:
    if not 0 <= first <= 0xFF:
        raise EncodeError("not a byte", field=field)
    if len(payload) > MAX_PAYLOAD:
        raise EncodeError(
            "payload of %d bytes exceeds %d" % (len(payload), MAX_PAYLOAD), field="LEN"
        )
    head = bytes((first, len(payload) >> 8, len(payload) & 0xFF)) + bytes(payload)
    crc = crc16_ccitt_false(head)
    return head + bytes((crc >> 8, crc & 0xFF))


def encode_request(cmd: int, payload: bytes = b"") -> bytes:
    return _frame(cmd, payload, "CMD")


def encode_response(status: int, payload: bytes = b"") -> bytes:
    return _frame(status, payload, "STATUS")


def decode_header(head: bytes) -> "tuple[int, int]":
    """(first byte, LEN) of a 3-byte header; DecodeError on a LEN above
    MAX_PAYLOAD."""
    if len(head) != HEADER:
        raise DecodeError("header of %d bytes, not 3" % len(head), offset=len(head), field="LEN")
    n = (head[1] << 8) | head[2]
    if n > MAX_PAYLOAD:
        raise DecodeError("LEN %d exceeds %d" % (n, MAX_PAYLOAD), offset=1, field="LEN")
    return head[0], n


def frame_length(prefix: bytes) -> "int | None":
    """Total length of the frame ``prefix`` starts, once its header is in."""
    if len(prefix) < HEADER:
        return None
    return HEADER + decode_header(bytes(prefix[:HEADER]))[1] + TRAILER


def decode(raw: bytes) -> "tuple[int, bytes]":
    """(CMD or STATUS, payload) of one whole frame; DecodeError on a wrong
    length or CRC."""
    raw = bytes(raw)
    n = frame_length(raw)
    if n is None:
        raise DecodeError(
            "frame of %d bytes is shorter than its header" % len(raw), offset=len(raw), field="LEN"
        )
    if len(raw) != n:
        raise DecodeError(
            "frame is %d bytes, LEN says %d" % (len(raw), n), offset=min(n, len(raw)), field="LEN"
        )
    crc = crc16_ccitt_false(raw[: n - TRAILER])
    if raw[n - 2] != crc >> 8 or raw[n - 1] != crc & 0xFF:
        raise DecodeError("CRC does not match", offset=n - TRAILER, field="CRC")
    return raw[0], raw[HEADER : n - TRAILER]


def check_body(head: bytes, body: bytes) -> bytes:
    """The payload of a response read in two parts (header, then payload and
    CRC); DecodeError if the CRC over both does not match."""
    return decode(bytes(head) + bytes(body))[1]
