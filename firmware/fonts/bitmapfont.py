"""Draw text with a generated 1-bit font into a raster line.

A font module (made by tools/fontgen.py, e.g. ``firmware.fonts.dejavu_sans_24``)
holds ``INDEX`` (9 bytes a glyph, sorted by code point) and ``BITMAPS``.
``render`` draws characters left to right in the order given: for Arabic,
pass the visual string from ``protocols.arabic.visual``.  The output is what
ESC/POS GS v 0 takes: rows top to bottom, ``(width + 7) // 8`` bytes each,
leftmost dot in the high bit, 1 = black.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

RECORD = 9
ALIGNS = ("left", "center", "right")


def load_default() -> "BitmapFont":
    from firmware.fonts import dejavu_sans_24

    return BitmapFont(dejavu_sans_24)


class BitmapFont:
    def __init__(self, data: "Any") -> None:
        self.name = data.NAME
        self.height = data.HEIGHT
        self.ascent = data.ASCENT
        self._index = data.INDEX
        self._bitmaps = data.BITMAPS
        self._count = len(self._index) // RECORD
        self._fallback = self._find(0x3F)  # "?"

    def _find(self, cp: int) -> int:
        """Offset of the glyph's record in INDEX, or -1."""
        index = self._index
        low = 0
        high = self._count - 1
        while low <= high:
            mid = (low + high) >> 1
            at = mid * RECORD
            got = (index[at] << 8) | index[at + 1]
            if got == cp:
                return at
            if got < cp:
                low = mid + 1
            else:
                high = mid - 1
        return -1

    def has_glyph(self, ch: str) -> bool:
        return self._find(ord(ch)) >= 0

    def _glyph(self, ch: str) -> int:
        at = self._find(ord(ch))
        return at if at >= 0 else self._fallback

    def layout(self, text: str) -> "tuple[list[tuple[int, int]], int, int]":
        """Glyph placements (record offset, ink left x) from pen 0, and the
        ink extent (left, right) of the whole text."""
        index = self._index
        placed = []
        pen = 0
        prev_x = 0
        prev_adv = 0
        left = 0
        right = 0
        for ch in text:
            at = self._glyph(ch)
            if at < 0:
                continue
            advance = index[at + 2]
            width = index[at + 5]
            if advance == 0 and width:  # combining mark: centre on the last glyph
                x = prev_x + (prev_adv - width) // 2
            else:
                x = pen + index[at + 3] - 128
                prev_x = pen
                prev_adv = advance
                pen += advance
            if width:
                placed.append((at, x))
                left = min(left, x)
                right = max(right, x + width)
        right = max(right, pen)
        return placed, left, right

    def measure(self, text: str) -> int:
        """Width in dots of the text's drawing (advances and ink overhangs)."""
        _, left, right = self.layout(text)
        return right - left

    def render(
        self, text: str, width: "int | None" = None, align: str = "left"
    ) -> "tuple[int, int, bytearray]":
        """(width, height, rows) of the text drawn on one line.  ``width``
        None: as wide as the text; otherwise the text is placed by ``align``
        in that width and whatever does not fit is cut off."""
        if align not in ALIGNS:
            raise ValueError("align must be left, center or right")
        placed, left, right = self.layout(text)
        text_width = right - left
        if width is None:
            width = max(text_width, 1)
            origin = -left
        elif align == "left":
            origin = -left
        elif align == "right":
            origin = width - right
        else:
            origin = (width - text_width) // 2 - left
        row_bytes = (width + 7) >> 3
        out = bytearray(row_bytes * self.height)
        index = self._index
        bitmaps = self._bitmaps
        for at, x in placed:
            gh = index[at + 6]
            top = index[at + 4]
            src = (index[at + 7] << 8) | index[at + 8]
            src_row = (index[at + 5] + 7) >> 3
            _blit(out, row_bytes, self.height, bitmaps, src, src_row, gh, x + origin, top)
        # dots right of `width` in the last byte stay clear (GS v 0 prints them)
        extra = row_bytes * 8 - width
        if extra:
            mask = (0xFF << extra) & 0xFF
            for r in range(self.height):
                out[r * row_bytes + row_bytes - 1] &= mask
        return width, self.height, out


def _blit(
    out: bytearray,
    row_bytes: int,
    height: int,
    src: bytes,
    start: int,
    src_row: int,
    gh: int,
    x: int,
    y: int,
) -> None:
    """OR a glyph of gh (rows of src_row bytes at src[start:]) into out at
    (x, y), clipping at the edges."""
    shift = x & 7
    for r in range(gh):
        row = y + r
        if row < 0 or row >= height:
            continue
        base = row * row_bytes
        s = start + r * src_row
        byte_x = x >> 3  # floor, also for negative x
        carry = 0
        for k in range(src_row):
            b = src[s + k]
            value = (b >> shift) | carry
            carry = (b << (8 - shift)) & 0xFF
            if 0 <= byte_x < row_bytes and value:
                out[base + byte_x] |= value
            byte_x += 1
        if carry and 0 <= byte_x < row_bytes:
            out[base + byte_x] |= carry
