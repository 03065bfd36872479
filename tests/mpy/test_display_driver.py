# Display driver under MicroPython: a fake panel records every push (rectangle
# and bytes); pixels are checked against framebuf's own font and against the
# protocols.qr matrix, and pushes against the framebuffer they come from.
import gc

import framebuf
from mpyunit import eq, raises

from firmware.drivers.display import Screen, qrcode, rgb_to, screens
from protocols import qr

PAYLOAD = (
    "00020101021226370011jo.com.cliq0115ALIAS@JOPACC01520459995303400"
    "5406012.5005802JO5909TEST SHOP6005AMMAN6304"
)


W, H = 120, 90


class FakePanel:
    def __init__(self, w, h, fmt):
        gc.collect()
        self.width = w
        self.height = h
        self.format = fmt
        self.pushes = []
        self.level = None

    def push(self, x, y, w, h, buf):
        self.pushes.append((x, y, w, h, bytes(buf)))

    def backlight(self, level):
        self.level = level


def rgb_pixel(buf, width, x, y):
    i = (y * width + x) * 2
    return (buf[i] << 8) | buf[i + 1]  # big-endian on the wire


def vlsb_pixel(buf, width, x, y):
    return (buf[(y // 8) * width + x] >> (y & 7)) & 1


def test_colours_in_each_format():
    eq(rgb_to("RGB565", (255, 0, 0)), 0x00F8)  # F800 byte-swapped
    eq(rgb_to("RGB565", (0, 0, 255)), 0x1F00)
    eq(rgb_to("GS8", (255, 255, 255)), 255)
    eq(rgb_to("MONO_VLSB", (0, 0, 0)), 1)
    eq(rgb_to("MONO_VLSB", (255, 255, 255)), 0)
    s = Screen(FakePanel(16, 8, "RGB565"))
    s.clear("error")
    s.flush()
    eq(rgb_pixel(s.panel.pushes[0][4], 16, 3, 3), 0xB800)  # (190, 0, 0) as RGB565 BE
    raises(ValueError, Screen, FakePanel(16, 8, "RGB888"))


def test_full_frame_is_one_push_of_the_framebuffer():
    p = FakePanel(W, H, "RGB565")
    s = Screen(p)
    s.clear("bg")
    eq(s.flush(), 1)
    x, y, w, h, data = p.pushes[0]
    eq((x, y, w, h), (0, 0, W, H))
    eq(data == s.buf, True)
    eq(s.flush(), 0)  # nothing dirty any more


def test_scaled_text_is_the_8x8_font_enlarged():
    p = FakePanel(W, H, "RGB565")
    s = Screen(p)
    s.clear("bg")
    s.flush()
    rect = s.text("P4", 10, 20, "black", 3)
    eq(rect, (10, 20, 48, 24))
    ref = bytearray(16 * 8 // 8)
    rfb = framebuf.FrameBuffer(ref, 16, 8, framebuf.MONO_HLSB)
    rfb.text("P4", 0, 0, 1)
    ink = 0
    for gy in range(8):
        for gx in range(16):
            want = rfb.pixel(gx, gy)
            ink += want
            for dy in range(3):
                for dx in range(3):
                    got = s.fb.pixel(10 + gx * 3 + dx, 20 + gy * 3 + dy)
                    eq(got == 0, want == 1, "pixel %d,%d" % (gx, gy))
    if ink < 10:
        raise AssertionError("reference glyphs are empty")
    eq(s.flush(), 1)
    x, y, w, h, data = p.pushes[-1]
    eq((x, y, w, h), (10, 20, 48, 24))
    # the pushed rectangle is the framebuffer's, row by row
    for r in range(h):
        for c in range(w):
            eq(rgb_pixel(data, w, c, r), rgb_pixel(s.buf, W, x + c, y + r))


def test_dirty_rectangles_merge_only_when_they_touch():
    p = FakePanel(W, H, "RGB565")
    s = Screen(p)
    s.flush()
    s.fill_rect(0, 0, 10, 10, "fg")
    s.fill_rect(100, 70, 10, 10, "fg")
    s.fill_rect(5, 5, 10, 10, "fg")
    eq(len(s.dirty), 2)
    eq(s.flush(), 2)
    eq([q[:4] for q in p.pushes], [(0, 0, 15, 15), (100, 70, 10, 10)])


def test_partial_updates_go_in_strips_through_the_scratch_buffer():
    p = FakePanel(W, H, "RGB565")
    s = Screen(p, scratch=400)  # 400 bytes = 4 rows of 50 pixels
    s.clear("accent")
    s.flush()
    p.pushes = []
    s.fill_rect(30, 10, 50, 10, "ok")
    eq(s.flush(), 3)
    eq([q[:4] for q in p.pushes], [(30, 10, 50, 4), (30, 14, 50, 4), (30, 18, 50, 2)])
    data = b"".join(q[4] for q in p.pushes)
    eq(len(data), 50 * 10 * 2)
    ok = rgb_pixel(s.buf, W, 30, 10)
    eq(ok, 0x0400)  # (0, 130, 0) as RGB565 big-endian
    eq(rgb_pixel(data, 50, 49, 9), ok)


def test_mono_vlsb_rectangles_are_widened_to_pages():
    p = FakePanel(128, 64, "MONO_VLSB")
    s = Screen(p)
    s.clear("bg")
    s.flush()
    p.pushes = []
    s.fill_rect(3, 5, 10, 4, "fg")  # rows 5..8: pages 0 and 1
    eq(s.flush(), 1)
    x, y, w, h, data = p.pushes[0]
    eq((x, y, w, h), (3, 0, 10, 16))
    eq(len(data), 10 * 2)
    for c in range(10):
        for r in range(16):
            want = 1 if 5 <= r <= 8 else 0
            eq(vlsb_pixel(data, 10, c, r), want)


def test_qr_modules_read_back_from_the_framebuffer():
    p = FakePanel(W, H, "RGB565")
    s = Screen(p)
    s.clear("accent")
    symbol = qr.encode(PAYLOAD, "M")
    ox, oy, side, m = qrcode.draw_matrix(s, symbol.matrix, 0, 0, W, H)
    eq(m, H // (symbol.size + 8))
    eq(side, (symbol.size + 8) * m)
    white = s.color("white")
    black = s.color("black")
    for r in range(symbol.size):
        for c in range(symbol.size):
            cx = ox + (4 + c) * m + m // 2
            cy = oy + (4 + r) * m + m // 2
            eq(s.fb.pixel(cx, cy), black if symbol.matrix[r][c] else white, "module")
    for i in range(side):  # the quiet zone's outer ring is light
        eq(s.fb.pixel(ox + i, oy), white)
        eq(s.fb.pixel(ox, oy + i), white)
    raises(ValueError, qrcode.draw_matrix, s, symbol.matrix, 0, 0, 20, 20)


def test_pin_screen_updates_only_the_masked_band():
    p = FakePanel(W, H, "RGB565")
    s = Screen(p)
    fields = screens.render(s, "pin", {"amount": "12.500", "currency": "JOD"})
    eq(len(p.pushes), 1)
    band = fields["pin"]
    p.pushes = []
    screens.show_pin_digits(s, band, 3)
    eq(len(p.pushes), 1)
    x, y, w, h, data = p.pushes[0]
    eq((x, y, w, h), (0, band[0], W, band[1]))
    # three '*' of the 8x8 font at the band's scale, nothing else
    bg = s.color("bg")
    bg_be = ((bg & 0xFF) << 8) | (bg >> 8)
    ink = 0
    for c in range(w):
        for r in range(h):
            if rgb_pixel(data, w, c, r) != bg_be:
                ink += 1
    ref = bytearray(8)
    rfb = framebuf.FrameBuffer(ref, 8, 8, framebuf.MONO_HLSB)
    rfb.text("*", 0, 0, 1)
    star = 0
    for b in ref:
        for i in range(8):
            star += (b >> i) & 1
    scale = band[2]
    eq(ink, 3 * star * scale * scale)
    screens.show_pin_digits(s, band, 0)
    eq(len(p.pushes), 2)
    eq(set(p.pushes[1][4]), set(bg.to_bytes(2, "little")))


def test_screens_render_on_both_geometries():
    for w, h, fmt in ((W, H, "RGB565"), (128, 64, "MONO_VLSB")):
        p = FakePanel(w, h, fmt)
        s = Screen(p)
        for name in sorted(screens.SCREENS):
            p.pushes = []
            screens.render(
                s,
                name,
                {
                    "merchant": "TEST SHOP AMMAN",
                    "hint": "PRESS ENTER",
                    "amount": "12.500",
                    "currency": "JOD",
                    "detail": "AUTH 123456",
                },
            )
            eq(p.pushes[0][:4], (0, 0, w, h), name)
            if len(set(s.buf)) < 2:
                raise AssertionError("screen %s drew nothing" % name)


def test_qr_to_pay_on_the_mono_panel_puts_the_symbol_left():
    p = FakePanel(128, 64, "MONO_VLSB")
    s = Screen(p)
    ox, oy, side, m = screens.qr_to_pay(s, PAYLOAD, "12.500", "JOD")
    symbol = qr.encode(PAYLOAD, "M")
    eq(m, 1)
    eq(ox + side <= 64, True)
    for r in range(symbol.size):
        for c in range(symbol.size):
            eq(s.fb.pixel(ox + 4 + c, oy + 4 + r), symbol.matrix[r][c])
    eq(len(p.pushes), 1)
    # the amount is on the right half
    ink_right = 0
    for x in range(66, 128):
        for y in range(64):
            ink_right += s.fb.pixel(x, y)
    if ink_right < 50:
        raise AssertionError("no amount text beside the symbol")


def test_backlight_goes_to_the_panel():
    p = FakePanel(16, 8, "GS8")
    s = Screen(p)
    s.backlight(40)
    eq(p.level, 40)


def _drop_font():
    # the 24 px font is large for a 256K heap: unload it after the test
    import sys

    from firmware.drivers.display import screen

    del screen._FONT[:]
    for name in ("firmware.fonts.dejavu_sans_24", "firmware.fonts.bitmapfont"):
        if name in sys.modules:
            del sys.modules[name]
    gc.collect()


def test_arabic_line_is_the_shaped_font_raster():
    try:
        _arabic_line()
    finally:
        _drop_font()


def _arabic_line():
    from firmware.fonts.bitmapfont import load_default
    from protocols import arabic

    text = "\u0645\u0648\u0627\u0641\u0642\u0629 12.500"  # "approved" and an amount
    p = FakePanel(W, H, "MONO_VLSB")
    s = Screen(p)
    s.clear("bg")
    s.flush()
    _x, _y, w, h = s.arabic(text, 10, "fg")
    font = load_default()
    rw, rh, rows = font.render(arabic.visual(text), W, "center")
    eq((w, h), (rw, rh))
    ink = 0
    for r in range(rh):
        for c in range(rw):
            bit = (rows[r * ((rw + 7) // 8) + c // 8] >> (7 - (c & 7))) & 1
            ink += bit
            eq(s.fb.pixel(c, 10 + r), bit)
    if ink < 100:
        raise AssertionError("no ink")
    eq(s.flush(), 1)


def test_optional_arabic_line_on_the_idle_screen():
    try:
        _idle_arabic()
    finally:
        _drop_font()


def _idle_arabic():
    p = FakePanel(W, H, "MONO_VLSB")
    s = Screen(p)
    screens.render(s, "idle", {"merchant": "SHOP", "hint": ""})
    plain = bytes(s.buf)
    screens.render(
        s, "idle", {"merchant": "SHOP", "hint": "", "welcome_ar": "\u0623\u0647\u0644\u0627"}
    )
    if bytes(s.buf) == plain:
        raise AssertionError("the Arabic line drew nothing")
