"""Frames of the technician service protocol (docs/service.md), pure.

    frame = SYNC "PS" | CODE u8 | LEN u16 BE | payload (LEN bytes) | CRC u16 BE

CRC is CRC-16/CCITT-FALSE (protocols/crc16.py) over CODE, LEN and the
payload.  In a request CODE is the command, in a response the status; the
direction tells which.  ``Deframer`` cuts frames out of a byte stream (a
UART), resynchronising on SYNC after garbage, a bad length or a bad CRC.
Both sides use this module: the terminal's ``firmware/service`` and the
host's ``tools/fiscal_export.py``.
"""

import hashlib

from protocols.crc16 import crc16_ccitt_false
from protocols.errors import DecodeError, EncodeError

SYNC = b"PS"
HEADER = 5  # SYNC, CODE, LEN
TRAILER = 2
MAX_PAYLOAD = 1024
PROTOCOL_VERSION = 1

# Requests (technician -> terminal).
CMD_HELLO = 0x01
CMD_STATUS = 0x02
CMD_CHALLENGE = 0x10
CMD_AUTH = 0x11
CMD_LOGOUT = 0x12
CMD_EXPORT = 0x20

COMMANDS = (
    (CMD_HELLO, "HELLO"),
    (CMD_STATUS, "STATUS"),
    (CMD_CHALLENGE, "CHALLENGE"),
    (CMD_AUTH, "AUTH"),
    (CMD_LOGOUT, "LOGOUT"),
    (CMD_EXPORT, "EXPORT"),
)

# Responses (terminal -> technician).  0x80 and up are errors; their payload
# is a UTF-8 message.
ST_OK = 0x00
ST_DATA = 0x01  # one chunk of a stream; more frames follow
ST_BAD_FRAME = 0x80
ST_UNKNOWN_COMMAND = 0x81
ST_BAD_LENGTH = 0x82
ST_NOT_AUTHENTICATED = 0x83
ST_AUTH_FAILED = 0x84
ST_FAILED = 0x85

STATUSES = (
    (ST_OK, "OK"),
    (ST_DATA, "DATA"),
    (ST_BAD_FRAME, "BAD_FRAME"),
    (ST_UNKNOWN_COMMAND, "UNKNOWN_COMMAND"),
    (ST_BAD_LENGTH, "BAD_LENGTH"),
    (ST_NOT_AUTHENTICATED, "NOT_AUTHENTICATED"),
    (ST_AUTH_FAILED, "AUTH_FAILED"),
    (ST_FAILED, "FAILED"),
)

CHALLENGE_LEN = 16
SIGNATURE_LEN = 64
AUTH_LABEL = b"PTSV-AUTH1"
EXPORT_END_LEN = 4 + 32 + 1


def _name(table: "tuple[tuple[int, str], ...]", code: int, prefix: str) -> str:
    for value, name in table:
        if value == code:
            return name
    return "%s_%02X" % (prefix, code)


def command_name(code: int) -> str:
    return _name(COMMANDS, code, "CMD")


def status_name(code: int) -> str:
    return _name(STATUSES, code, "STATUS")


def encode(code: int, payload: bytes = b"") -> bytes:
    """One frame; EncodeError for a code that is not a byte or a payload
    over MAX_PAYLOAD."""
    if not 0 <= code <= 0xFF:
        raise EncodeError("code %d is not a byte" % code, field="CODE")
    n = len(payload)
    if n > MAX_PAYLOAD:
        raise EncodeError("payload of %d bytes exceeds %d" % (n, MAX_PAYLOAD), field="LEN")
    body = bytes((code, n >> 8, n & 0xFF)) + bytes(payload)
    crc = crc16_ccitt_false(body)
    return SYNC + body + bytes((crc >> 8, crc & 0xFF))


def _length(raw: bytes) -> int:
    n = (raw[3] << 8) | raw[4]
    if n > MAX_PAYLOAD:
        raise DecodeError("LEN %d exceeds %d" % (n, MAX_PAYLOAD), offset=3, field="LEN")
    return n


def decode(raw: bytes) -> "tuple[int, bytes]":
    """(CODE, payload) of exactly one frame; DecodeError otherwise."""
    raw = bytes(raw)
    if len(raw) < HEADER + TRAILER:
        raise DecodeError(
            "frame of %d bytes is shorter than %d" % (len(raw), HEADER + TRAILER),
            offset=len(raw),
            field="LEN",
        )
    if raw[:2] != SYNC:
        raise DecodeError("no frame start", offset=0, field="SYNC")
    n = _length(raw)
    total = HEADER + n + TRAILER
    if len(raw) != total:
        raise DecodeError(
            "frame is %d bytes, LEN says %d" % (len(raw), total),
            offset=min(total, len(raw)),
            field="LEN",
        )
    crc = crc16_ccitt_false(raw[2 : total - TRAILER])
    if raw[total - 2] != crc >> 8 or raw[total - 1] != crc & 0xFF:
        raise DecodeError("CRC does not match", offset=total - TRAILER, field="CRC")
    return raw[2], raw[HEADER : total - TRAILER]


class Deframer:
    """Frames out of a byte stream.  ``feed(data)`` adds bytes; ``next()``
    returns ``(code, payload)``, or None until a whole frame is in.  For
    malformed input ``next()`` drops the bad bytes and raises DecodeError
    (call it again for what follows):

    - bytes before SYNC are dropped together, one error per run;
    - a LEN over MAX_PAYLOAD drops the SYNC and the search goes on;
    - a CRC mismatch drops the whole frame LEN announced.

    ``pending()`` is the number of bytes of an incomplete frame; ``clear()``
    drops them (the caller's inter-byte timeout)."""

    def __init__(self, limit: int = MAX_PAYLOAD) -> None:
        self.buf = b""
        self.limit = limit

    def feed(self, data: bytes) -> None:
        if data:
            self.buf += bytes(data)

    def pending(self) -> int:
        return len(self.buf)

    def clear(self) -> int:
        n = len(self.buf)
        self.buf = b""
        return n

    def _drop(self, n: int) -> None:
        self.buf = self.buf[n:]

    def next(self) -> "tuple[int, bytes] | None":
        buf = self.buf
        if not buf:
            return None
        if buf[:2] != SYNC:
            i = buf.find(SYNC)
            if i < 0:
                # Keep a trailing "P": it may start the next SYNC.
                i = len(buf) - 1 if buf[-1:] == SYNC[:1] else len(buf)
            if i == 0:
                return None  # a lone "P": wait for more
            self._drop(i)
            raise DecodeError("%d bytes outside a frame dropped" % i, offset=0, field="SYNC")
        if len(buf) < HEADER:
            return None
        try:
            n = _length(buf)
        except DecodeError:
            self._drop(2)
            raise
        if n > self.limit:
            self._drop(2)
            raise DecodeError("LEN %d exceeds %d" % (n, self.limit), offset=3, field="LEN")
        total = HEADER + n + TRAILER
        if len(buf) < total:
            return None
        raw = buf[:total]
        self._drop(total)
        return decode(raw)


# -- payloads -------------------------------------------------------------------


def auth_message(challenge: bytes, device_id: str) -> bytes:
    """What the technician signs (ECDSA P-256, SHA-256):
    ``"PTSV-AUTH1" | challenge (16) | dev_len u8 | device_id``."""
    dev = device_id.encode()
    if len(challenge) != CHALLENGE_LEN:
        raise EncodeError("challenge of %d bytes" % len(challenge), field="challenge")
    if not 1 <= len(dev) <= 32:
        raise EncodeError("device_id of %d bytes" % len(dev), field="device_id")
    return AUTH_LABEL + bytes(challenge) + bytes((len(dev),)) + dev


def auth_digest(challenge: bytes, device_id: str) -> bytes:
    return hashlib.sha256(auth_message(challenge, device_id)).digest()


def encode_export_end(total: int, digest: bytes, signed: bool) -> bytes:
    """The OK frame closing an export: ``total u32 | SHA-256 (32) |
    signed u8`` over the bytes of the DATA frames."""
    if not 0 <= total <= 0xFFFFFFFF or len(digest) != 32:
        raise EncodeError("bad export summary", field="total")
    return (
        bytes((total >> 24, (total >> 16) & 0xFF, (total >> 8) & 0xFF, total & 0xFF))
        + bytes(digest)
        + bytes((1 if signed else 0,))
    )


def decode_export_end(payload: bytes) -> "tuple[int, bytes, bool]":
    payload = bytes(payload)
    if len(payload) != EXPORT_END_LEN:
        raise DecodeError(
            "export summary of %d bytes, not %d" % (len(payload), EXPORT_END_LEN),
            offset=len(payload),
            field="summary",
        )
    if payload[36] > 1:
        raise DecodeError("signed flag %d" % payload[36], offset=36, field="signed")
    total = (payload[0] << 24) | (payload[1] << 16) | (payload[2] << 8) | payload[3]
    return total, payload[4:36], payload[36] == 1


def encode_json(doc: "dict[str, object]") -> bytes:
    """JSON with sorted keys and no spaces, the same bytes under CPython and
    MicroPython (values: str, int, bool, None)."""
    import json

    parts = []
    for k in sorted(doc):
        parts.append(json.dumps(k) + ":" + json.dumps(doc[k]))
    return ("{" + ",".join(parts) + "}").encode()


def decode_json(payload: bytes) -> "dict[str, object]":
    import json

    try:
        doc = json.loads(bytes(payload).decode())
    except (ValueError, UnicodeError):
        raise DecodeError("payload is not JSON", offset=0, field="payload")
    if not isinstance(doc, dict):
        raise DecodeError("payload is not a JSON object", offset=0, field="payload")
    return doc
