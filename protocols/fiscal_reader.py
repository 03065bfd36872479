"""Bounds-checked big-endian reader and writer helpers for the fiscal codecs.

Every short read raises ``DecodeError`` naming the field and the offset.
"""

from protocols.errors import DecodeError, EncodeError


class Reader:
    def __init__(self, data: bytes, pos: int = 0, end: "int | None" = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def take(self, n: int, field: str) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise DecodeError("truncated", offset=self.pos, field=field)
        out = bytes(self.data[self.pos : self.pos + n])
        self.pos += n
        return out

    def uint(self, n: int, field: str) -> int:
        return int.from_bytes(self.take(n, field), "big")

    def done(self, field: str) -> None:
        if self.pos != self.end:
            raise DecodeError(
                "%d trailing bytes" % (self.end - self.pos), offset=self.pos, field=field
            )


def put_uint(value: int, n: int, field: str) -> bytes:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0 or value >> (8 * n):
        raise EncodeError("not an unsigned %d-byte integer: %r" % (n, value), field=field)
    return value.to_bytes(n, "big")


def put_text(text: str, max_len: int, field: str) -> bytes:
    if not isinstance(text, str):
        raise EncodeError("not text", field=field)
    raw = text.encode("utf-8")
    if len(raw) > max_len:
        raise EncodeError("longer than %d bytes" % max_len, field=field)
    return bytes([len(raw)]) + raw


def get_text(r: Reader, field: str) -> str:
    n = r.uint(1, field + " length")
    at = r.pos
    raw = r.take(n, field)
    try:
        return raw.decode("utf-8")
    except UnicodeError:
        raise DecodeError("not UTF-8", offset=at, field=field)
