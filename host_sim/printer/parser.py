"""Incremental ESC/POS stream parser for the virtual printer.

``Parser.feed(data)`` returns the complete commands found so far, each a
``Command(name, offset, args)`` with ``offset`` counted from the start of the
stream; an unfinished command waits for the next ``feed``.  ``finish()`` ends
the stream: a command cut short is reported there.  Nothing raises on input:
unknown or malformed bytes come out as ``Command("warning", offset,
{"message": ...})`` and parsing goes on after them.

Command syntax is data (``FIXED``: prefix -> name and parameter count); the
variable-length commands (GS v 0, GS ( k and the other GS ( functions, GS k,
GS V, ESC D, ESC *) have their own readers.  Sources: Epson ESC/POS command
reference (TM-T88 series) and what python-escpos 3.1 emits (docs/escpos.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ESC = 0x1B
GS = 0x1D
DLE = 0x10
FS = 0x1C

# Largest data a single command may announce before it is taken as garbage
# (a 576-dot raster 20 000 rows tall is 1.4 MB).
MAX_DATA = 2 * 1024 * 1024
MAX_NUL_TERMINATED = 255

# prefix -> (command name, number of one-byte parameters)
FIXED: dict[bytes, tuple[str, int]] = {
    b"\x0a": ("LF", 0),
    b"\x0d": ("CR", 0),
    b"\x09": ("HT", 0),
    b"\x0c": ("FF", 0),
    b"\x0b": ("VT", 0),
    b"\x18": ("CAN", 0),
    b"\x1b@": ("initialize", 0),
    b"\x1b!": ("print_mode", 1),
    b"\x1bE": ("bold", 1),
    b"\x1bG": ("double_strike", 1),
    b"\x1b-": ("underline", 1),
    b"\x1bM": ("font", 1),
    b"\x1ba": ("align", 1),
    b"\x1b{": ("upside_down", 1),
    b"\x1bt": ("code_page", 1),
    b"\x1bR": ("international", 1),
    b"\x1bd": ("feed_lines", 1),
    b"\x1be": ("reverse_feed_lines", 1),
    b"\x1bJ": ("feed_dots", 1),
    b"\x1b2": ("line_spacing_default", 0),
    b"\x1b3": ("line_spacing", 1),
    b"\x1bA": ("line_spacing_60", 1),
    b"\x1b+": ("line_spacing_360", 1),
    b"\x1b ": ("right_spacing", 1),
    b"\x1b$": ("absolute_position", 2),
    b"\x1bp": ("drawer_kick", 3),
    b"\x1bB": ("buzzer", 2),
    b"\x1bc5": ("panel_buttons", 1),
    b"\x1bV": ("rotate", 1),
    b"\x1b=": ("select_peripheral", 1),
    b"\x1bi": ("cut_partial_legacy", 0),
    b"\x1bm": ("cut_partial_legacy", 0),
    b"\x1d!": ("char_size", 1),
    b"\x1dB": ("reverse", 1),
    b"\x1db": ("smoothing", 1),
    b"\x1d|": ("density", 1),
    b"\x1dh": ("barcode_height", 1),
    b"\x1dw": ("barcode_width", 1),
    b"\x1df": ("hri_font", 1),
    b"\x1dH": ("hri_position", 1),
    b"\x1dr": ("transmit_status", 1),
    b"\x1dI": ("printer_id", 1),
    b"\x1da": ("auto_status_back", 1),
    b"\x1dL": ("left_margin", 2),
    b"\x1dW": ("print_width", 2),
    b"\x10\x04": ("realtime_status", 1),
    b"\x10\x05": ("realtime_request", 1),
    b"\x10\x14": ("realtime_pulse", 3),
    b"\x1c.": ("cancel_kanji", 0),
}
# Longest fixed prefix first when matching.
_PREFIXES = sorted(FIXED, key=len, reverse=True)


@dataclass
class Command:
    name: str
    offset: int
    args: dict[str, Any] = field(default_factory=dict)


class _Incomplete(Exception):
    """More bytes are needed to finish the command."""


class Parser:
    def __init__(self) -> None:
        self._buf = bytearray()
        self._base = 0  # stream offset of _buf[0]

    @property
    def pending(self) -> int:
        """Bytes held back, waiting for the rest of a command."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Command]:
        self._buf.extend(data)
        out: list[Command] = []
        pos = 0
        buf = self._buf
        while pos < len(buf):
            try:
                command, end = self._one(buf, pos)
            except _Incomplete:
                break
            out.append(command)
            pos = end
        del buf[:pos]
        self._base += pos
        return out

    def finish(self) -> list[Command]:
        """End of stream: report what is left as a truncated command."""
        out: list[Command] = []
        if self._buf:
            out.append(
                _warning(
                    self._base,
                    f"stream ends inside a command ({len(self._buf)} bytes: "
                    f"{bytes(self._buf[:8]).hex(' ')}{' ...' if len(self._buf) > 8 else ''})",
                )
            )
            self._base += len(self._buf)
            self._buf = bytearray()
        return out

    # -- one command -----------------------------------------------------------
    def _one(self, buf: bytearray, pos: int) -> tuple[Command, int]:
        offset = self._base + pos
        first = buf[pos]
        if first >= 0x20:  # text up to the next control byte
            end = pos
            while end < len(buf) and buf[end] >= 0x20:
                end += 1
            return Command("text", offset, {"data": bytes(buf[pos:end])}), end
        rest = bytes(buf[pos : pos + 3])
        if len(rest) < 3 and any(len(p) > len(rest) and p.startswith(rest) for p in _PREFIXES):
            raise _Incomplete  # could still become a longer command
        for prefix in _PREFIXES:
            if buf.startswith(prefix, pos):
                name, count = FIXED[prefix]
                end = pos + len(prefix) + count
                _need(buf, end)
                params = list(buf[pos + len(prefix) : end])
                return Command(name, offset, {"params": params}), end
        if first in (ESC, GS, DLE, FS):
            _need(buf, pos + 2)
            second = buf[pos + 1]
            reader = _VARIABLE.get(bytes((first, second)))
            if reader is not None:
                return reader(buf, pos, offset)
            return (
                _warning(offset, f"unknown command {_name(first)} 0x{second:02x}"),
                pos + 2,
            )
        return _warning(offset, f"unexpected control byte 0x{first:02x}"), pos + 1


def _name(byte: int) -> str:
    return {ESC: "ESC", GS: "GS", DLE: "DLE", FS: "FS"}.get(byte, f"0x{byte:02x}")


def _warning(offset: int, message: str) -> Command:
    return Command("warning", offset, {"message": message})


def _need(buf: bytearray, end: int) -> None:
    if len(buf) < end:
        raise _Incomplete


def _u16(buf: bytearray, at: int) -> int:
    return int(buf[at]) | (int(buf[at + 1]) << 8)


# -- variable-length commands -------------------------------------------------
def _raster(buf: bytearray, pos: int, offset: int) -> tuple[Command, int]:
    # GS v 0 m xL xH yL yH d1...dk
    _need(buf, pos + 3)
    if buf[pos + 2] not in (0x30, 0x00):
        return _warning(offset, f"unknown command GS v 0x{buf[pos + 2]:02x}"), pos + 3
    _need(buf, pos + 8)
    mode = buf[pos + 3]
    row_bytes = _u16(buf, pos + 4)
    rows = _u16(buf, pos + 6)
    size = row_bytes * rows
    if mode not in (0, 1, 2, 3, 48, 49, 50, 51):
        return _warning(offset, f"GS v 0: bad mode {mode}"), pos + 8
    if size == 0 or size > MAX_DATA:
        return _warning(offset, f"GS v 0: bad size {row_bytes} bytes x {rows} rows"), pos + 8
    end = pos + 8 + size
    _need(buf, end)
    args = {
        "mode": mode & 3,
        "row_bytes": row_bytes,
        "rows": rows,
        "data": bytes(buf[pos + 8 : end]),
    }
    return Command("raster", offset, args), end


def _gs_paren(buf: bytearray, pos: int, offset: int) -> tuple[Command, int]:
    # GS ( fn pL pH data: the length makes every function skippable.
    _need(buf, pos + 5)
    fn = buf[pos + 2]
    length = _u16(buf, pos + 3)
    end = pos + 5 + length
    if length > MAX_DATA:
        return _warning(offset, f"GS ( {chr(fn)!r}: length {length} too large"), pos + 5
    _need(buf, end)
    body = bytes(buf[pos + 5 : end])
    if fn == 0x6B:  # 'k': 2D codes
        if len(body) < 2:
            return _warning(offset, "GS ( k: too short"), end
        return Command("2d", offset, {"cn": body[0], "fn": body[1], "data": body[2:]}), end
    return Command("gs_paren", offset, {"function": chr(fn), "data": body}), end


def _barcode(buf: bytearray, pos: int, offset: int) -> tuple[Command, int]:
    # GS k m d1..dk NUL (m 0..6) or GS k m n d1..dn (m 65..78)
    _need(buf, pos + 3)
    m = buf[pos + 2]
    if m <= 6:
        limit = min(len(buf), pos + 3 + MAX_NUL_TERMINATED + 1)
        for end in range(pos + 3, limit):
            if buf[end] == 0:
                data = bytes(buf[pos + 3 : end])
                return Command("barcode", offset, {"m": m, "data": data}), end + 1
        if len(buf) < pos + 3 + MAX_NUL_TERMINATED + 1:
            raise _Incomplete
        return _warning(offset, "GS k: no NUL within 255 bytes"), pos + 3
    if 65 <= m <= 78:
        _need(buf, pos + 4)
        n = buf[pos + 3]
        end = pos + 4 + n
        _need(buf, end)
        return Command("barcode", offset, {"m": m, "data": bytes(buf[pos + 4 : end])}), end
    return _warning(offset, f"GS k: unknown barcode system {m}"), pos + 3


def _cut(buf: bytearray, pos: int, offset: int) -> tuple[Command, int]:
    # GS V m (0, 1, 48, 49) or GS V m n (65, 66, 97, 98, 103, 104)
    _need(buf, pos + 3)
    m = buf[pos + 2]
    if m in (0, 1, 48, 49):
        return Command("cut", offset, {"partial": m in (1, 49), "feed": 0}), pos + 3
    if m in (65, 66, 97, 98, 103, 104):
        _need(buf, pos + 4)
        args = {"partial": m in (66, 98, 104), "feed": buf[pos + 3]}
        return Command("cut", offset, args), pos + 4
    return _warning(offset, f"GS V: unknown cut mode {m}"), pos + 3


def _tabs(buf: bytearray, pos: int, offset: int) -> tuple[Command, int]:
    # ESC D n1 ... nk NUL (k <= 32)
    for end in range(pos + 2, min(len(buf), pos + 2 + 33)):
        if buf[end] == 0:
            return Command("tabs", offset, {"stops": list(buf[pos + 2 : end])}), end + 1
    if len(buf) < pos + 2 + 33:
        raise _Incomplete
    return _warning(offset, "ESC D: more than 32 tab stops"), pos + 2


def _bit_image(buf: bytearray, pos: int, offset: int) -> tuple[Command, int]:
    # ESC * m nL nH d1..dk: k = n (8-dot modes 0, 1) or 3n (24-dot modes 32, 33)
    _need(buf, pos + 5)
    m = buf[pos + 2]
    n = _u16(buf, pos + 3)
    if m not in (0, 1, 32, 33):
        return _warning(offset, f"ESC *: bad mode {m}"), pos + 5
    size = n * (3 if m >= 32 else 1)
    end = pos + 5 + size
    _need(buf, end)
    return Command(
        "bit_image", offset, {"m": m, "columns": n, "data": bytes(buf[pos + 5 : end])}
    ), end


_VARIABLE = {
    bytes((GS, 0x76)): _raster,
    bytes((GS, 0x28)): _gs_paren,
    bytes((GS, 0x6B)): _barcode,
    bytes((GS, 0x56)): _cut,
    bytes((ESC, 0x44)): _tabs,
    bytes((ESC, 0x2A)): _bit_image,
}
