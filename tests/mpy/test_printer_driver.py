# The printer driver under MicroPython against a fake UART that records the
# exact bytes written and answers DLE EOT n with configured status bytes.
import gc

from mpyunit import eq, raises

from firmware.drivers.printer import Printer, PrinterError, Receipt, layout
from protocols import arabic, qr

ESC = b"\x1b"
GS = b"\x1d"
READY = {1: 0x12, 2: 0x12, 4: 0x12}  # fixed bits only: all clear


class FakeUart:
    """machine.UART-like: write() records, status requests queue answers."""

    def __init__(self, answers=None, noise=b""):
        self.answers = READY if answers is None else answers
        self.written = bytearray()
        self.rx = bytearray(noise)

    def write(self, data):
        data = bytes(data)
        self.written.extend(data)
        if len(data) == 3 and data[:2] == b"\x10\x04":
            answer = self.answers.get(data[2])
            if answer is not None:
                self.rx.append(answer)
        return len(data)

    def any(self):
        return len(self.rx)

    def read(self, n=None):
        if not self.rx:
            return None
        n = len(self.rx) if n is None else n
        out = bytes(self.rx[:n])
        self.rx = self.rx[n:]
        return out


STATUS_QUERIES = b"\x10\x04\x01\x10\x04\x02\x10\x04\x04"


def small_receipt():
    r = Receipt("80mm")
    r.header("Shop")
    r.item("Tea", "1.500")
    r.total("TOTAL", "1.500")
    r.finish()
    return r


def test_small_receipt_exact_bytes():
    uart = FakeUart()
    n = Printer(uart).print(small_receipt())
    normal = ESC + b"!\x00" + ESC + b"!\x00"
    want = (
        STATUS_QUERIES
        # header: double height, bold, centred; ESC t 0 before the first text
        + normal
        + ESC
        + b"!\x10"
        + ESC
        + b"E\x01"
        + ESC
        + b"a\x01"
        + ESC
        + b"t\x00"
        + b"Shop\n"
        + normal
        + ESC
        + b"!\x00"
        + ESC
        + b"E\x00"
        + ESC
        + b"a\x00"
        # item: 48 columns, amount flush right
        + b"Tea"
        + b" " * 40
        + b"1.500\n"
        # total in bold
        + ESC
        + b"E\x01"
        + b"TOTAL"
        + b" " * 38
        + b"1.500\n"
        + ESC
        + b"E\x00"
        # feed 6 lines, full cut
        + ESC
        + b"d\x06"
        + GS
        + b"V\x00"
    )
    eq(bytes(uart.written), want)
    eq(n, len(want) - len(STATUS_QUERIES))


def test_paper_out_stops_before_any_print_byte():
    uart = FakeUart({1: 0x1A, 2: 0x32, 4: 0x72})  # offline, stopped at paper end
    err = raises(PrinterError, Printer(uart).print, small_receipt())
    eq(bytes(uart.written), STATUS_QUERIES)
    eq(err.reason, "paper_end")
    eq(err.status["paper_end"], True)
    eq(err.status["offline"], True)


def test_cover_open():
    uart = FakeUart({1: 0x1A, 2: 0x16, 4: 0x12})
    err = raises(PrinterError, Printer(uart).print, small_receipt())
    eq(err.reason, "cover_open")
    eq(bytes(uart.written), STATUS_QUERIES)


def test_near_end_still_prints():
    uart = FakeUart({1: 0x12, 2: 0x12, 4: 0x1E})
    p = Printer(uart)
    p.print(b"x")
    eq(p.last_status["paper_near_end"], True)
    eq(bytes(uart.written), STATUS_QUERIES + b"x")


def test_no_answer_and_bad_answer():
    uart = FakeUart({1: 0x12})
    err = raises(PrinterError, Printer(uart).print, b"x")
    eq(err.reason, "no_answer")
    eq(bytes(uart.written), b"\x10\x04\x01\x10\x04\x02")
    uart = FakeUart({1: 0x00, 2: 0x12, 4: 0x12})
    err = raises(PrinterError, Printer(uart).print, b"x")
    eq(err.reason, "bad_status")
    eq(bytes(uart.written), b"\x10\x04\x01")


def test_stale_input_is_discarded_before_the_status_query():
    uart = FakeUart(noise=b"\x72\x72")  # old answers that would read as paper out
    Printer(uart).print(b"ok")
    eq(bytes(uart.written), STATUS_QUERIES + b"ok")


def test_native_qr_on_80mm():
    r = Receipt("80mm").qr_code("HELLO", ecc="M")
    out = r.output
    store = GS + b"(k" + bytes((5 + 3, 0)) + b"1P0HELLO"
    eq(out.find(store) > 0, True)
    eq(out.find(GS + b"(k\x03\x001Q0") > 0, True)  # print symbol
    eq(out.find(GS + b"(k\x03\x001C\x06") > 0, True)  # module size 6
    eq(out.find(GS + b"v0"), -1)


def raster_of(out):
    at = out.find(GS + b"v0")
    xb = out[at + 4] | out[at + 5] << 8
    h = out[at + 6] | out[at + 7] << 8
    return xb, h, out[at + 8 : at + 8 + xb * h]


def test_qr_raster_fallback_on_58mm():
    gc.collect()  # a 256K heap does not move blocks: start unfragmented
    r = Receipt("58mm").qr_code("HELLO", ecc="M")
    out = r.output
    eq(out.find(GS + b"(k"), -1)
    xb, h, rows = raster_of(out)
    eq(xb, 48)  # 384 dots
    matrix = qr.encode("HELLO", "M").matrix
    size = len(matrix)
    module = 4
    eq(h, (size + 8) * module)
    left = (384 - h) // 2 + 4 * module
    for r_ in range(size):
        for c in range(size):
            y = 4 * module + r_ * module + module // 2
            x = left + c * module + module // 2
            dot = rows[y * xb + (x >> 3)] >> (7 - (x & 7)) & 1
            eq(dot, matrix[r_][c], "module %d,%d" % (r_, c))


def test_arabic_line_is_the_font_rendering_of_the_visual_string():
    gc.collect()  # a 256K heap does not move blocks: start unfragmented
    r = Receipt("80mm")
    r.arabic("شكراً لزيارتكم 123")
    xb, h, rows = raster_of(r.output)
    eq(xb, 72)
    eq(h, r.font.height)
    _, _, want = r.font.render(arabic.visual("شكراً لزيارتكم 123"), 576, "right")
    eq(bytes(rows), bytes(want))
    ink = sum(1 for b in rows if b)
    eq(ink > 100, True)
    # right aligned: ink near the right edge, none at the left edge
    right_ink = sum(rows[y * xb + 70] | rows[y * xb + 71] for y in range(h))
    eq(right_ink > 0, True)
    eq(sum(rows[y * xb] for y in range(h)), 0)


def test_layout_helpers():
    eq(layout.two_columns("Tea", "1.500", 12), ["Tea    1.500"])
    eq(
        layout.two_columns("Cardamom coffee large", "12.000", 16),
        ["Cardamom coffee", "large     12.000"],
    )
    eq(layout.two_columns("abcdefghijkl", "9.000", 12), ["abcdefghijkl", "       9.000"])
    eq(layout.wrap("a bb ccc dddddddd", 4), ["a bb", "ccc", "dddd", "dddd"])
    eq(layout.money(12500), "12.500")
    eq(layout.money(-5, 2, "USD"), "-0.05 USD")
    eq(layout.money(7, 0), "7")
    eq(layout.center("ab", 6), "  ab")
    raises(ValueError, layout.two_columns, "x", "toolongamount", 5)


def test_58mm_columns():
    r = Receipt("58mm").item("Water", "0.350")
    eq(r.output.endswith(b"Water" + b" " * 22 + b"0.350\n"), True)
    raises(ValueError, Receipt, "57mm")


def test_raster_bytes_equal_image_raster():
    from protocols.escpos import EscPosBuilder

    rows = bytes((i * 37) & 0xFF for i in range(3 * 5))
    eq(Receipt().raster(20, 5, rows).output, EscPosBuilder().image_raster(20, 5, rows).output)
    eq(Receipt().raster(20, 5, bytearray(rows)).output, Receipt().image_raster(20, 5, rows).output)


def test_long_arabic_text_breaks_between_words():
    gc.collect()  # a 256K heap does not move blocks: start unfragmented
    text = "نشكركم على تسوقكم معنا ونتمنى لكم يوماً سعيداً مع خصم 15 بالمئة في زيارتكم القادمة"
    r = Receipt("58mm")
    lines = r.arabic_lines(text)
    eq(len(lines) > 1, True)
    eq(" ".join(lines), text)
    for line in lines:
        eq(r.font.measure(arabic.visual(line, "rtl")) <= 384, True, line)
    r.arabic(text)
    out = r.output
    at = 0
    for line in lines:
        at = out.find(GS + b"v0", at)
        xb, h, rows = raster_of(out[at:])
        eq(xb, 48)
        eq(bytes(rows), bytes(r.font.render(arabic.visual(line, "rtl"), 384, "right")[2]))
        at += 8 + xb * h
    eq(out.find(GS + b"v0", at), -1)


def test_arabic_item_puts_name_right_and_amount_left():
    gc.collect()  # a 256K heap does not move blocks: start unfragmented
    r = Receipt("80mm")
    r.arabic_item("شاي", "1.500")
    xb, h, rows = raster_of(r.output)
    eq(xb, 72)
    name = r.font.render(arabic.visual("شاي", "rtl"), 576, "right")[2]
    amount = r.font.render("1.500", 576, "left")[2]
    eq(bytes(rows), bytes(name[i] | amount[i] for i in range(len(name))))
    # ink at both edges, none in the middle
    eq(sum(rows[y * xb] for y in range(h)) > 0, True)
    eq(sum(rows[y * xb + 71] | rows[y * xb + 70] for y in range(h)) > 0, True)
    eq(sum(rows[y * xb + 36] for y in range(h)), 0)


def test_receipt_is_kept_in_pieces_no_larger_than_a_chunk_except_rasters():
    # a long receipt never needs one block as large as itself: text and
    # commands gather in pieces of at most CHUNK bytes, a raster stays the
    # buffer it was drawn in; the bytes sent are the pieces in order
    from firmware.drivers.printer.printer import CHUNK

    r = Receipt("80mm")
    for i in range(60):
        r.textln("line %02d of a long receipt" % i)
    rows = bytearray(b"\xaa" * (72 * 12))
    r.raster(576, 12, rows)
    r.textln("after the raster")
    whole = r.output
    pieces = r.pieces()
    assert any(p is rows for p in pieces)
    for p in pieces:
        assert p is rows or len(p) <= CHUNK, len(p)
    eq(b"".join([bytes(p) for p in pieces]), whole)
    uart = FakeUart()
    eq(Printer(uart, "80mm").print(r), len(whole))
    eq(bytes(uart.written), STATUS_QUERIES + whole)


def test_printer_keeps_the_font_of_its_first_receipt():
    p = Printer(FakeUart(), "80mm")
    first = p.receipt().arabic("شكرا")
    p.print(first)
    second = p.receipt()
    assert second._font is first._font and second._font is not None
    assert p.load_font() is first._font
