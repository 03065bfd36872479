"""Display panels on SPI with the same interface as the sim display channel:
``width``, ``height``, ``format``, ``push(x, y, w, h, buf)``, ``backlight(level)``.

``buf`` holds a w x h rectangle laid out as framebuf lays out that format.
RGB565 pixels are in panel order (big-endian), as on the sim channel: draw
with byte-swapped colours, ``c = ((rgb >> 8) | (rgb << 8)) & 0xFFFF``.

ILI9341 (ILITEK datasheet v1.11): 0x01 software reset, 0x11 sleep out,
0x3A pixel format (0x55 = 16 bit), 0x36 memory access control (0x28 = row/
column exchange + BGR: landscape 320x240), 0x29 display on, 0x2A column
address set, 0x2B page address set, 0x2C memory write.

ST7565 (Sitronix datasheet v1.7): 0xE2 reset, 0xA2 bias 1/9, 0xA0 ADC normal,
0xC8 COM reverse, 0x2F power control (booster, regulator, follower on), 0x26
regulator ratio, 0x81 + n electronic volume, 0x40 start line 0, 0xAF display
on; data goes page by page: 0xB0|page, 0x10|col>>4, col&0x0F, then bytes
(one byte = 8 vertical pixels: framebuf MONO_VLSB).
"""

import time


class SpiPanel:
    def __init__(self, spi, cs, dc, rst=None, bl=None, width=0, height=0, fmt="RGB565"):
        self.spi = spi
        self.cs = cs
        self.dc = dc
        self.rst = rst
        self.bl = bl
        self.width = width
        self.height = height
        self.format = fmt
        self.cs.value(1)
        self._one = bytearray(1)

    def command(self, cmd, data=None):
        self.cs.value(0)
        try:
            self.dc.value(0)
            self._one[0] = cmd
            self.spi.write(self._one)
            if data:
                self.dc.value(1)
                self.spi.write(data)
        finally:
            self.cs.value(1)

    def data(self, buf):
        self.cs.value(0)
        try:
            self.dc.value(1)
            self.spi.write(buf)
        finally:
            self.cs.value(1)

    def hard_reset(self):
        if self.rst is not None:
            self.rst.value(0)
            time.sleep_ms(10)
            self.rst.value(1)
            time.sleep_ms(120)

    def _check(self, x, y, w, h):
        if x < 0 or y < 0 or w <= 0 or h <= 0 or x + w > self.width or y + h > self.height:
            raise ValueError("rectangle outside the display")

    def backlight(self, level):
        if self.bl is None:
            return
        level = max(0, min(100, int(level)))
        if hasattr(self.bl, "duty_u16"):
            self.bl.duty_u16(level * 65535 // 100)
        else:
            self.bl.value(1 if level else 0)

    def push_frame(self, buf):
        self.push(0, 0, self.width, self.height, buf)

    def deinit(self):
        self.backlight(0)


class Ili9341(SpiPanel):
    def __init__(self, spi, cs, dc, rst=None, bl=None, width=320, height=240):
        super().__init__(spi, cs, dc, rst, bl, width, height, "RGB565")
        self.hard_reset()
        self.command(0x01)
        time.sleep_ms(120)
        self.command(0x11)
        time.sleep_ms(120)
        self.command(0x3A, b"\x55")
        self.command(0x36, b"\x28" if width > height else b"\x48")
        self.command(0x29)

    def push(self, x, y, w, h, buf):
        self._check(x, y, w, h)
        if len(buf) != w * h * 2:
            raise ValueError("buffer is %d bytes, rectangle needs %d" % (len(buf), w * h * 2))
        x1 = x + w - 1
        y1 = y + h - 1
        self.command(0x2A, bytes([x >> 8, x & 0xFF, x1 >> 8, x1 & 0xFF]))
        self.command(0x2B, bytes([y >> 8, y & 0xFF, y1 >> 8, y1 & 0xFF]))
        self.command(0x2C, buf)


class St7565(SpiPanel):
    def __init__(self, spi, cs, dc, rst=None, bl=None, width=128, height=64, contrast=0x18):
        super().__init__(spi, cs, dc, rst, bl, width, height, "MONO_VLSB")
        self.hard_reset()
        for cmd in (0xE2, 0xA2, 0xA0, 0xC8, 0x2F, 0x26):
            self.command(cmd)
        self.command(0x81)
        self.command(contrast & 0x3F)
        self.command(0x40)
        self.command(0xAF)

    def push(self, x, y, w, h, buf):
        self._check(x, y, w, h)
        if y % 8 or h % 8:
            raise ValueError("MONO_VLSB rectangles start and end on 8-row pages")
        if len(buf) != w * (h // 8):
            raise ValueError("buffer is %d bytes, rectangle needs %d" % (len(buf), w * (h // 8)))
        mv = memoryview(buf)
        for i in range(h // 8):
            page = y // 8 + i
            self.command(0xB0 | page)
            self.command(0x10 | (x >> 4))
            self.command(x & 0x0F)
            self.data(mv[i * w : (i + 1) * w])
