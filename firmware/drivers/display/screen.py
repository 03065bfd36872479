"""A framebuf screen over a board's panel, with dirty-rectangle pushes.

The panel is what the board hands out for the display (boards/sim/channel.py
``DisplayChannel``, boards/common/panel.py ``Ili9341``/``St7565``): ``width``,
``height``, ``format`` (a framebuf format name) and ``push(x, y, w, h, buf)``
where ``buf`` holds exactly the w x h rectangle laid out as framebuf lays it
out.  The screen keeps one framebuffer of the panel's geometry, records what
each drawing call changed, and ``flush()`` sends only those rectangles:

- a rectangle as wide as the screen is contiguous in the framebuffer and goes
  out as a memoryview slice, no copy;
- a narrower one is copied strip by strip through one small scratch buffer
  (``scratch`` bytes), so a partial update never needs a second frame;
- MONO_VLSB rectangles are widened to 8-row pages, MONO_HLSB ones to 8-column
  bytes, as the panels require.

Colours are named (``COLORS``, RGB triples as data) and converted to the
panel's format: RGB565 byte-swapped (framebuf stores 16-bit pixels
little-endian, the panels want big-endian), GS8 as luma, mono as 1 = pixel on
= dark.
"""

import framebuf

FORMATS = {
    "RGB565": framebuf.RGB565,
    "GS8": framebuf.GS8,
    "MONO_VLSB": framebuf.MONO_VLSB,
    "MONO_HLSB": framebuf.MONO_HLSB,
}

# name -> (r, g, b)
COLORS = {
    "bg": (255, 255, 255),
    "fg": (0, 0, 0),
    "accent": (0, 70, 140),
    "dim": (96, 96, 96),
    "ok": (0, 130, 0),
    "error": (190, 0, 0),
    "white": (255, 255, 255),
    "black": (0, 0, 0),
}

MAX_DIRTY = 8
FONT = 8  # framebuf's built-in font: 8x8


def buffer_size(fmt, w, h):
    if fmt == "RGB565":
        return w * h * 2
    if fmt == "GS8":
        return w * h
    if fmt == "MONO_VLSB":
        return w * ((h + 7) // 8)
    if fmt == "MONO_HLSB":
        return ((w + 7) // 8) * h
    raise ValueError("unsupported display format %r" % (fmt,))


def rgb_to(fmt, rgb):
    """The framebuf colour value of an (r, g, b) triple in ``fmt``."""
    r, g, b = rgb
    if fmt == "RGB565":
        c = ((r & 0xF8) << 8) | ((g & 0xFC) << 3) | (b >> 3)
        return ((c >> 8) | (c << 8)) & 0xFFFF
    luma = (r * 299 + g * 587 + b * 114) // 1000
    if fmt == "GS8":
        return luma
    return 1 if luma < 128 else 0


class Screen:
    def __init__(self, panel, colors=None, scratch=4096):
        self.panel = panel
        self.width = panel.width
        self.height = panel.height
        self.format = panel.format
        if self.format not in FORMATS:
            raise ValueError("unsupported display format %r" % (self.format,))
        self.buf = bytearray(buffer_size(self.format, self.width, self.height))
        self.fb = framebuf.FrameBuffer(self.buf, self.width, self.height, FORMATS[self.format])
        self.palette = {}
        table = COLORS if colors is None else colors
        for name in table:
            self.palette[name] = rgb_to(self.format, table[name])
        self._scratch = bytearray(max(scratch, self._row_bytes(self.width)))
        self.dirty = []
        self.pushes = 0
        self.bytes_pushed = 0

    # -- colours and geometry ----------------------------------------------
    def color(self, name):
        if isinstance(name, int):
            return name
        return self.palette[name]

    def _row_bytes(self, w):
        """Bytes of one row (one 8-row page for MONO_VLSB) of a w-wide strip."""
        if self.format == "RGB565":
            return 2 * w
        if self.format == "MONO_HLSB":
            return (w + 7) // 8
        return w  # GS8: one byte a pixel; MONO_VLSB: one byte a column per page

    def _align(self, x, y, w, h):
        if self.format == "MONO_VLSB":
            y1 = (y + h + 7) // 8 * 8
            y = y // 8 * 8
            h = min(y1, self.height) - y
        elif self.format == "MONO_HLSB":
            x1 = (x + w + 7) // 8 * 8
            x = x // 8 * 8
            w = min(x1, self.width) - x
        return x, y, w, h

    # -- dirty rectangles ------------------------------------------------------
    def mark(self, x, y, w, h):
        """Record that (x, y, w, h) changed (clipped to the screen)."""
        x0 = max(0, x)
        y0 = max(0, y)
        x1 = min(self.width, x + w)
        y1 = min(self.height, y + h)
        if x1 <= x0 or y1 <= y0:
            return
        rect = self._align(x0, y0, x1 - x0, y1 - y0)
        merged = True
        while merged:
            merged = False
            for i in range(len(self.dirty)):
                if _touch(self.dirty[i], rect):
                    rect = _union(self.dirty.pop(i), rect)
                    merged = True
                    break
        self.dirty.append(rect)
        if len(self.dirty) > MAX_DIRTY:
            box = self.dirty[0]
            for r in self.dirty[1:]:
                box = _union(box, r)
            self.dirty = [box]

    def mark_all(self):
        self.dirty = [(0, 0, self.width, self.height)]

    def flush(self):
        """Push every dirty rectangle to the panel; returns how many pushes."""
        n = 0
        rects = self.dirty
        self.dirty = []
        rects.sort()
        for x, y, w, h in rects:
            n += self._push_rect(x, y, w, h)
        return n

    def _send(self, x, y, w, h, buf):
        self.panel.push(x, y, w, h, buf)
        self.pushes += 1
        self.bytes_pushed += len(buf)

    def _push_rect(self, x, y, w, h):
        mv = memoryview(self.buf)
        full_row = self._row_bytes(self.width)
        paged = self.format == "MONO_VLSB"
        unit = 8 if paged else 1  # rows per buffer row
        if w == self.width:
            start = (y // unit) * full_row
            end = ((y + h + unit - 1) // unit) * full_row
            self._send(x, y, w, h, mv[start:end])
            return 1
        row = self._row_bytes(w)
        per_strip = max(1, len(self._scratch) // row)
        if self.format == "MONO_HLSB":
            off = x // 8
        elif self.format == "RGB565":
            off = 2 * x
        else:
            off = x
        lines = (h + unit - 1) // unit
        first = y // unit
        sent = 0
        done = 0
        while done < lines:
            k = min(per_strip, lines - done)
            dst = 0
            for line in range(first + done, first + done + k):
                src = line * full_row + off
                self._scratch[dst : dst + row] = mv[src : src + row]
                dst += row
            self._send(x, y + done * unit, w, k * unit, memoryview(self._scratch)[:dst])
            sent += 1
            done += k
        return sent

    # -- drawing -------------------------------------------------------------------
    def clear(self, color="bg"):
        self.fb.fill(self.color(color))
        self.mark_all()

    def fill_rect(self, x, y, w, h, color):
        self.fb.fill_rect(x, y, w, h, self.color(color))
        self.mark(x, y, w, h)

    def rect(self, x, y, w, h, color):
        self.fb.rect(x, y, w, h, self.color(color))
        self.mark(x, y, w, h)

    def hline(self, x, y, w, color):
        self.fb.hline(x, y, w, self.color(color))
        self.mark(x, y, w, 1)

    def text_width(self, s, scale=1):
        return len(s) * FONT * scale

    def fit_scale(self, s, scale, margin=4):
        """The largest scale <= ``scale`` at which ``s`` fits the width."""
        while scale > 1 and self.text_width(s, scale) > self.width - 2 * margin:
            scale -= 1
        return scale

    def text(self, s, x, y, color="fg", scale=1):
        """Latin text in framebuf's 8x8 font, ``scale`` times enlarged; returns
        the (x, y, w, h) it covers."""
        c = self.color(color)
        w = self.text_width(s, scale)
        h = FONT * scale
        if scale == 1:
            self.fb.text(s, x, y, c)
        else:
            self._scaled_text(s, x, y, c, scale)
        self.mark(x, y, w, h)
        return (x, y, w, h)

    def _scaled_text(self, s, x, y, c, scale):
        # One character at a time into an 8x8 bitmap, each horizontal run of
        # set pixels drawn as one scale-high rectangle.
        glyph = bytearray(8)
        gfb = framebuf.FrameBuffer(glyph, 8, 8, framebuf.MONO_HLSB)
        for i in range(len(s)):
            gfb.fill(0)
            gfb.text(s[i], 0, 0, 1)
            cx = x + i * FONT * scale
            for row in range(8):
                bits = glyph[row]
                col = 0
                while bits and col < 8:
                    if bits & 0x80:
                        run = 0
                        while bits & 0x80:
                            run += 1
                            bits = (bits << 1) & 0xFF
                        self.fb.fill_rect(
                            cx + (col) * scale, y + row * scale, run * scale, scale, c
                        )
                        col += run
                    else:
                        bits = (bits << 1) & 0xFF
                        col += 1

    def text_center(self, s, y, color="fg", scale=1):
        scale = self.fit_scale(s, scale)
        x = (self.width - self.text_width(s, scale)) // 2
        return self.text(s, max(0, x), y, color, scale)

    def bitmap(self, buf, w, h, x, y, color="fg"):
        """Draw a MONO_HLSB bitmap (1 = ink) at (x, y) in ``color``; 0 bits
        leave the screen as it is."""
        c = self.color(color)
        stride = (w + 7) // 8
        for row in range(h):
            base = row * stride
            col = 0
            while col < w:
                if buf[base + (col >> 3)] & (0x80 >> (col & 7)):
                    start = col
                    while col < w and buf[base + (col >> 3)] & (0x80 >> (col & 7)):
                        col += 1
                    self.fb.hline(x + start, y + row, col - start, c)
                else:
                    col += 1
        self.mark(x, y, w, h)

    def arabic(self, text, y, color="fg", align="center", font=None, direction=None):
        """A line of Arabic (numbers and Latin may be mixed in): shaped and put
        in visual order by protocols.arabic, drawn with the bitmap font of
        firmware/fonts (DejaVu Sans 24 px unless ``font`` is given) across
        the screen width.  Returns the (x, y, w, h) it covers."""
        from protocols import arabic

        if font is None:
            font = default_font()
        glyphs = arabic.visual(text, direction)
        w, h, rows = font.render(glyphs, self.width, align)
        self.bitmap(rows, w, h, 0, y, color)
        return (0, y, w, h)

    def backlight(self, level):
        self.panel.backlight(level)


_FONT = []


def default_font():
    """The generated bitmap font (loaded once, on first use)."""
    if not _FONT:
        from firmware.fonts.bitmapfont import load_default

        _FONT.append(load_default())
    return _FONT[0]


def _touch(a, b):
    """Rectangles overlap or share an edge."""
    return not (
        a[0] + a[2] < b[0] or b[0] + b[2] < a[0] or a[1] + a[3] < b[1] or b[1] + b[3] < a[1]
    )


def _union(a, b):
    x0 = min(a[0], b[0])
    y0 = min(a[1], b[1])
    x1 = max(a[0] + a[2], b[0] + b[2])
    y1 = max(a[1] + a[3], b[1] + b[3])
    return (x0, y0, x1 - x0, y1 - y0)
