"""The virtual ESC/POS printer: parsed commands -> paper, status answers.

``VirtualPrinter.feed(data)`` takes bytes as they come off the wire and
returns the bytes the printer sends back (answers to DLE EOT n and GS r n).
Receipts end at each cut (``receipts``); ``finish()`` ends the stream and
keeps whatever was printed after the last cut as an uncut receipt.  Problems
with the input never raise: they are listed in ``warnings`` as
``{"offset": n, "message": "..."}``.

Settable state, as on a real printer: ``paper_out``, ``near_end``,
``cover_open``, ``drawer_open``, ``error``.  While the paper is out or the
cover open the printer is offline: print data is discarded (with a warning)
and status requests are still answered.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageDraw

from host_sim.printer import barcodes, glyphs
from host_sim.printer.page import Page, Receipt
from host_sim.printer.parser import Command, Parser
from protocols import qr
from protocols.errors import EncodeError
from protocols.escpos_codepages import CODE_PAGE_NUMBERS, HIGH_HALVES

MAX_WARNINGS = 1000  # then only counted
DEFAULT_LINE_SPACING = 30  # ESC 2: 1/6 inch at 180 dpi motion units, in dots
HRI_FONT = 1
QR_ECC = {48: "L", 49: "M", 50: "Q", 51: "H"}
_HIGH = dict(HIGH_HALVES)
_PAGE_NAMES: dict[int, str] = {}
for _name, _number in CODE_PAGE_NUMBERS:
    _PAGE_NAMES.setdefault(_number, _name)

# Commands that only change state or are accepted without an effect on paper.
IGNORED = {
    "CR",
    "CAN",
    "double_strike",
    "smoothing",
    "density",
    "international",
    "right_spacing",
    "absolute_position",
    "select_peripheral",
    "rotate",
    "printer_id",
    "auto_status_back",
    "left_margin",
    "print_width",
    "panel_buttons",
    "cancel_kanji",
    "realtime_request",
    "realtime_pulse",
}


@dataclass
class Style:
    font: int = 0
    bold: bool = False
    underline: int = 0
    width: int = 1
    height: int = 1
    reverse: bool = False
    upside_down: bool = False


@dataclass
class QrState:
    model: int = 50
    module: int = 3
    ecc: str = "L"
    data: bytes | None = None


@dataclass
class BarcodeState:
    height: int = 162
    module: int = 3
    hri_font: int = 0
    hri_position: int = 0


@dataclass
class VirtualPrinter:
    dots: int = 576
    paper_out: bool = False
    near_end: bool = False
    cover_open: bool = False
    drawer_open: bool = False
    error: bool = False
    # A roll of paper: 25 m at 8 dots/mm.  When it is used up the printer
    # reports paper out, as a real one does (and a stream of line feeds
    # cannot grow an image without bound).
    roll_dots: int = 200_000
    receipts: list[Receipt] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._parser = Parser()
        self._page = Page(self.dots)
        self._reset()
        self._warned_pages: set[int] = set()
        self.bytes_received = 0
        self.commands = 0
        self.paper_used = 0  # dots of the roll on finished receipts
        self.warnings_dropped = 0
        self._last_dropped = 0

    def _reset(self) -> None:
        self.style = Style()
        self.align = 0
        self.code_page = 0
        self.line_spacing = DEFAULT_LINE_SPACING
        self.qr = QrState()
        self.barcode = BarcodeState()
        self.tabs = [8 * i for i in range(1, 33)]
        self.graphic: Image.Image | None = None

    @property
    def offline(self) -> bool:
        return self.paper_out or self.cover_open

    # -- stream --------------------------------------------------------------
    def feed(self, data: bytes) -> bytes:
        """Take bytes from the wire; return the printer's answers."""
        self.bytes_received += len(data)
        answers = bytearray()
        for command in self._parser.feed(data):
            answers += self._execute(command)
        return bytes(answers)

    def finish(self) -> list[Receipt]:
        """End of the stream: report a cut-short command, keep the uncut part."""
        for command in self._parser.finish():
            self._execute(command)
        if self.warnings_dropped:
            self.warnings.append(
                {
                    "offset": self._last_dropped,
                    "message": f"{self.warnings_dropped} more warnings not listed",
                }
            )
            self.warnings_dropped = 0
        if self.offline:
            self._page.items = []
        self._flush_line()
        if not self._page.empty:
            self.receipts.append(self._page.finish(False, self.bytes_received))
            self._page = Page(self.dots)
        return self.receipts

    def warn(self, offset: int, message: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append({"offset": offset, "message": message})
        else:
            self.warnings_dropped += 1
            self._last_dropped = offset

    def _roll_ends(self, offset: int) -> None:
        self.warn(offset, f"paper roll used up ({self.roll_dots} dots): paper out")
        self._flush_line()
        self.receipts.append(self._page.finish(False, offset))
        self.paper_used += self._page.height
        self._page = Page(self.dots)
        self.paper_out = True

    # -- status ----------------------------------------------------------------
    def realtime_status(self, n: int) -> int | None:
        """The DLE EOT n answer byte (bits 1 and 4 always on)."""
        value = 0x12
        if n == 1:
            value |= (0x04 if self.drawer_open else 0) | (0x08 if self.offline else 0)
        elif n == 2:
            value |= 0x04 if self.cover_open else 0
            value |= 0x20 if self.paper_out else 0
            value |= 0x40 if self.error else 0
        elif n == 3:
            pass
        elif n == 4:
            value |= 0x0C if self.near_end else 0
            value |= 0x60 if self.paper_out else 0
        else:
            return None
        return value

    def transmit_status(self, n: int) -> int | None:
        if n in (1, 49):
            return (0x03 if self.near_end else 0) | (0x0C if self.paper_out else 0)
        if n in (2, 50):
            return 0x01 if self.drawer_open else 0
        return None

    # -- commands --------------------------------------------------------------
    def _execute(self, command: Command) -> bytes:
        self.commands += 1
        name = command.name
        args = command.args
        params: list[int] = args.get("params", [])
        if name == "warning":
            self.warn(command.offset, args["message"])
            return b""
        if name == "realtime_status":
            answer = self.realtime_status(params[0])
            if answer is None:
                self.warn(command.offset, f"DLE EOT {params[0]}: no such status")
                return b""
            return bytes((answer,))
        if name == "transmit_status":
            answer = self.transmit_status(params[0])
            if answer is None:
                self.warn(command.offset, f"GS r {params[0]}: no such status")
                return b""
            return bytes((answer,))
        if name == "tabs":
            _set_tabs(self, args["stops"])
            return b""
        if name == "drawer_kick":
            self.events.append({"event": "drawer", "offset": command.offset, "pin": params[0]})
            return b""
        if name == "buzzer":
            self.events.append({"event": "buzzer", "offset": command.offset, "times": params[0]})
            return b""
        handler = _PRINTING.get(name)
        if handler is not None:
            if self.offline:
                why = "paper out" if self.paper_out else "cover open"
                self.warn(command.offset, f"offline ({why}): {name} discarded")
                return b""
            if self._page.start < 0:
                self._page.start = command.offset
            handler(self, command, params)
            if self.paper_used + self._page.height > self.roll_dots:
                self._roll_ends(command.offset)
            return b""
        if name in _STATE:
            _STATE[name](self, params)
            return b""
        if name not in IGNORED:
            self.warn(command.offset, f"{name}: not supported, ignored")
        return b""

    # printing -----------------------------------------------------------------
    def _decode(self, data: bytes, offset: int) -> str:
        page = _PAGE_NAMES.get(self.code_page, f"page {self.code_page}")
        table = _HIGH.get(page)
        out = []
        for byte in data:
            if byte < 0x80:
                out.append(chr(byte))
            elif table is not None:
                out.append(table[byte - 0x80])
            else:
                out.append(_codec_char(page, byte))
                if out[-1] == "?" and self.code_page not in self._warned_pages:
                    self._warned_pages.add(self.code_page)
                    self.warn(offset, f"code page {self.code_page} ({page}): no table, shown as ?")
        return "".join(out)

    def _text(self, command: Command, params: list[int]) -> None:
        text = self._decode(command.args["data"], command.offset)
        for ch in text:
            self._page.add(self._cell(ch), ch, self.align, self.line_spacing)

    def _cell(self, ch: str) -> Image.Image:
        style = self.style
        image = glyphs.cell(ch, style.font, style.bold)
        if style.underline:
            image = image.copy()
            draw = ImageDraw.Draw(image)
            for k in range(style.underline):
                draw.line((0, image.height - 1 - k, image.width, image.height - 1 - k), fill=0)
        if style.reverse:
            image = image.point(lambda v: 255 - v)
        if style.upside_down:
            image = image.rotate(180)
        if style.width > 1 or style.height > 1:
            image = image.resize(
                (image.width * style.width, image.height * style.height), Image.Resampling.NEAREST
            )
        return image

    def _flush_line(self) -> None:
        if self._page.items:
            self._page.end_line(self.line_spacing)

    def _lf(self, command: Command, params: list[int]) -> None:
        self._page.end_line(self.line_spacing)

    def _ht(self, command: Command, params: list[int]) -> None:
        column = len(self._page.items)
        for stop in self.tabs:
            if stop > column:
                for _ in range(stop - column):
                    self._page.add(self._cell(" "), " ", self.align, self.line_spacing)
                return

    def _feed_lines(self, command: Command, params: list[int]) -> None:
        self._flush_line()
        self._page.feed(params[0] * self.line_spacing)
        self._page.lines.extend([""] * params[0])

    def _feed_dots(self, command: Command, params: list[int]) -> None:
        self._flush_line()
        self._page.feed(params[0])

    def _cut(self, command: Command, params: list[int]) -> None:
        self._flush_line()
        self._page.feed(command.args["feed"])
        if self._page.empty:
            self.warn(command.offset, "cut with nothing printed since the last cut")
        end = command.offset + (4 if command.args["feed"] else 3)
        receipt = self._page.finish(True, end)
        self.receipts.append(receipt)
        self.paper_used += self._page.height
        self._page = Page(self.dots)

    def _legacy_cut(self, command: Command, params: list[int]) -> None:
        self._cut(Command("cut", command.offset, {"partial": True, "feed": 0}), params)

    def _raster(self, command: Command, params: list[int]) -> None:
        args = command.args
        width = args["row_bytes"] * 8
        image = Image.frombytes("1", (width, args["rows"]), args["data"])
        image = image.point(lambda v: 255 - v).convert("L")  # ESC/POS: 1 = black
        mode = args["mode"]
        if mode:
            sx = 2 if mode & 1 else 1
            sy = 2 if mode & 2 else 1
            image = image.resize((image.width * sx, image.height * sy), Image.Resampling.NEAREST)
        if image.width > self.dots:
            self.warn(command.offset, f"raster {image.width} dots wide, paper {self.dots}: cut")
        self._flush_line()
        self._page.block(image, f"[raster {image.width}x{image.height}]", self.align)

    def _bit_image(self, command: Command, params: list[int]) -> None:
        args = command.args
        m, columns, data = args["m"], args["columns"], args["data"]
        dots = 24 if m >= 32 else 8
        per = dots // 8
        image = Image.new("L", (columns, dots), 255)
        pixels = image.load()
        assert pixels is not None
        for x in range(columns):
            for k in range(per):
                byte = data[x * per + k]
                for bit in range(8):
                    if byte & (0x80 >> bit):
                        pixels[x, k * 8 + bit] = 0
        if m in (0, 32):
            image = image.resize((columns * 2, dots), Image.Resampling.NEAREST)
        if dots == 8:
            image = image.resize((image.width, 24), Image.Resampling.NEAREST)
        self._page.add(image, "", self.align, self.line_spacing)

    def _two_d(self, command: Command, params: list[int]) -> None:
        args = command.args
        cn, fn, data = args["cn"], args["fn"], args["data"]
        if cn != 49:
            self.warn(command.offset, f"GS ( k: symbol cn={cn} not supported (QR is 49)")
            return
        qs = self.qr
        if fn == 65:  # model: n1 = 49 model 1, 50 model 2, 51 micro
            if data[:1] and data[0] in (49, 50, 51):
                qs.model = data[0]
            else:
                self.warn(command.offset, "GS ( k 165: bad model")
        elif fn == 67:
            if data[:1] and 1 <= data[0] <= 16:
                qs.module = data[0]
            else:
                self.warn(command.offset, "GS ( k 167: module size must be 1..16")
        elif fn == 69:
            if data[:1] and data[0] in QR_ECC:
                qs.ecc = QR_ECC[data[0]]
            else:
                self.warn(command.offset, "GS ( k 169: bad error correction level")
        elif fn == 80:
            qs.data = data[1:] if data[:1] == b"0" else None
            if qs.data is None:
                self.warn(command.offset, "GS ( k 180: m must be 48")
        elif fn == 81:
            self._print_qr(command.offset)
        else:
            self.warn(command.offset, f"GS ( k: QR function {fn} not supported")

    def _print_qr(self, offset: int) -> None:
        qs = self.qr
        if not qs.data:
            self.warn(offset, "GS ( k 181: no QR data stored")
            return
        if qs.model != 50:
            self.warn(offset, f"QR model {qs.model - 48} drawn as model 2")
        try:
            symbol = qr.encode(qs.data, qs.ecc)
        except EncodeError as exc:
            self.warn(offset, f"QR data does not fit: {exc}")
            return
        size = symbol.size
        image = Image.new("L", (size, size), 255)
        image.putdata([0 if v else 255 for row in symbol.matrix for v in row])
        side = size * qs.module
        image = image.resize((side, side), Image.Resampling.NEAREST)
        framed = Image.new("L", (side + 8 * qs.module, side + 8 * qs.module), 255)
        framed.paste(image, (4 * qs.module, 4 * qs.module))
        self._flush_line()
        text = qs.data.decode("utf-8", "replace")
        self._page.block(framed, f"[QR {text}]", self.align)

    def _barcode(self, command: Command, params: list[int]) -> None:
        m, data = command.args["m"], command.args["data"]
        name = barcodes.SYSTEMS.get(m, f"system {m}")
        bc = self.barcode
        found = barcodes.modules(m, data)
        hri = found[1] if found else data.decode("ascii", "replace")
        if found:
            bars = found[0]
            quiet = 10
            image = Image.new("L", ((len(bars) + 2 * quiet) * bc.module, bc.height), 255)
            draw = ImageDraw.Draw(image)
            for i, bit in enumerate(bars):
                if bit == "1":
                    x = (quiet + i) * bc.module
                    draw.rectangle((x, 0, x + bc.module - 1, bc.height - 1), fill=0)
        else:
            # not drawn as bars: a labelled frame the size of a typical symbol
            image = Image.new("L", (min(self.dots, 60 * bc.module + 40), bc.height), 255)
            draw = ImageDraw.Draw(image)
            draw.rectangle((0, 0, image.width - 1, image.height - 1), outline=0, width=2)
            draw.text((6, 4), name, fill=0)
        if image.width > self.dots:
            self.warn(command.offset, f"barcode {image.width} dots wide, paper {self.dots}: cut")
        self._flush_line()
        if bc.hri_position in (1, 3, 49, 51):
            self._hri(hri)
        self._page.block(image, f"[BARCODE {name} {hri}]", self.align)
        if bc.hri_position in (2, 3, 50, 51):
            self._hri(hri)

    def _hri(self, text: str) -> None:
        font = 1 if self.barcode.hri_font in (1, 49) else 0
        cells = [glyphs.cell(ch, font, False) for ch in text]
        width = sum(c.width for c in cells)
        image = Image.new("L", (max(width, 1), max((c.height for c in cells), default=1)), 255)
        x = 0
        for c in cells:
            image.paste(c, (x, 0))
            x += c.width
        self._page.block(image, text, self.align)

    def _gs_paren(self, command: Command, params: list[int]) -> None:
        function, body = command.args["function"], command.args["data"]
        if function != "L" or len(body) < 2 or body[0] != 48:
            self.warn(command.offset, f"GS ( {function}: not supported, skipped")
            return
        fn = body[1]
        if fn == 112:  # store a raster graphic in the print buffer
            self._store_graphic(command.offset, body)
        elif fn in (2, 50):  # print the stored graphic
            if self.graphic is None:
                self.warn(command.offset, "GS ( L 50: no graphic stored")
                return
            self._flush_line()
            image = self.graphic
            self._page.block(image, f"[graphic {image.width}x{image.height}]", self.align)
            self.graphic = None
        else:
            self.warn(command.offset, f"GS ( L: function {fn} not supported, skipped")

    def _store_graphic(self, offset: int, body: bytes) -> None:
        # 48 112 a bx by c xL xH yL yH d1...dk (Epson GS ( L <Function 112>)
        if len(body) < 10:
            self.warn(offset, "GS ( L 112: too short")
            return
        tone, bx, by, colour = body[2], body[3], body[4], body[5]
        width = body[6] | body[7] << 8
        height = body[8] | body[9] << 8
        data = body[10:]
        if tone != 48 or bx not in (1, 2) or by not in (1, 2) or colour not in (49, 50, 51, 52):
            self.warn(offset, "GS ( L 112: bad tone, scale or colour")
            return
        if width == 0 or height == 0 or len(data) != (width + 7) // 8 * height:
            self.warn(offset, f"GS ( L 112: {len(data)} bytes do not make {width}x{height}")
            return
        image = Image.frombytes("1", ((width + 7) // 8 * 8, height), data)
        image = image.crop((0, 0, width, height)).point(lambda v: 255 - v).convert("L")
        if bx > 1 or by > 1:
            image = image.resize((width * bx, height * by), Image.Resampling.NEAREST)
        self.graphic = image


def _codec_char(page: str, byte: int) -> str:
    """Characters of pages we hold no table for, from Python's codec of the
    same name when it has one (single-byte pages only)."""
    try:
        codec = codecs.lookup(page.lower().replace("-", "_"))
        return bytes((byte,)).decode(codec.name)
    except (LookupError, UnicodeDecodeError):
        return "?"


def _style_print_mode(p: VirtualPrinter, params: list[int]) -> None:
    n = params[0]
    p.style.font = n & 1
    p.style.bold = bool(n & 0x08)
    p.style.height = 2 if n & 0x10 else 1
    p.style.width = 2 if n & 0x20 else 1
    p.style.underline = 1 if n & 0x80 else 0


def _style_char_size(p: VirtualPrinter, params: list[int]) -> None:
    n = params[0]
    p.style.width = min((n >> 4) + 1, 8)
    p.style.height = min((n & 0x0F) + 1, 8)


def _set_code_page(p: VirtualPrinter, params: list[int]) -> None:
    p.code_page = params[0]


def _line_spacing(divisor: int) -> Any:
    def set_spacing(p: VirtualPrinter, params: list[int]) -> None:
        # motion units of 1/divisor inch, printed at 203 dpi (8 dots/mm)
        p.line_spacing = max(round(params[0] * 203 / divisor), 0)

    return set_spacing


def _set_line_spacing_default(p: VirtualPrinter, params: list[int]) -> None:
    p.line_spacing = DEFAULT_LINE_SPACING


def _initialize(p: VirtualPrinter, params: list[int]) -> None:
    p._reset()
    p._page.items = []  # ESC @ clears the print buffer
    p._page.line_width = 0


def _set_tabs(p: VirtualPrinter, params: list[int]) -> None:
    p.tabs = [s for s in params if s]


def _attr(path: str, convert: Any) -> Any:
    holder, name = path.split(".")

    def setter(p: VirtualPrinter, params: list[int]) -> None:
        setattr(getattr(p, holder), name, convert(params[0]))

    return setter


def _align(p: VirtualPrinter, params: list[int]) -> None:
    p.align = params[0] % 48 if params[0] in (0, 1, 2, 48, 49, 50) else 0


_STATE: dict[str, Any] = {
    "print_mode": _style_print_mode,
    "char_size": _style_char_size,
    "bold": _attr("style.bold", lambda n: bool(n & 1)),
    "underline": _attr("style.underline", lambda n: n % 48 if n % 48 <= 2 else 0),
    "font": _attr("style.font", lambda n: n % 48 & 1),
    "reverse": _attr("style.reverse", lambda n: bool(n & 1)),
    "upside_down": _attr("style.upside_down", lambda n: bool(n & 1)),
    "align": _align,
    "code_page": _set_code_page,
    "line_spacing": _line_spacing(180),
    "line_spacing_60": _line_spacing(60),
    "line_spacing_360": _line_spacing(360),
    "line_spacing_default": _set_line_spacing_default,
    "initialize": _initialize,
    "barcode_height": _attr("barcode.height", lambda n: max(n, 1)),
    "barcode_width": _attr("barcode.module", lambda n: min(max(n, 1), 6)),
    "hri_font": _attr("barcode.hri_font", int),
    "hri_position": _attr("barcode.hri_position", int),
}


_PRINTING: dict[str, Any] = {
    "text": VirtualPrinter._text,
    "LF": VirtualPrinter._lf,
    "FF": VirtualPrinter._lf,
    "VT": VirtualPrinter._lf,
    "HT": VirtualPrinter._ht,
    "feed_lines": VirtualPrinter._feed_lines,
    "feed_dots": VirtualPrinter._feed_dots,
    "cut": VirtualPrinter._cut,
    "cut_partial_legacy": VirtualPrinter._legacy_cut,
    "raster": VirtualPrinter._raster,
    "bit_image": VirtualPrinter._bit_image,
    "2d": VirtualPrinter._two_d,
    "barcode": VirtualPrinter._barcode,
    "gs_paren": VirtualPrinter._gs_paren,
}


def render(data: bytes, dots: int = 576) -> VirtualPrinter:
    """Run a whole byte stream through a fresh printer."""
    printer = VirtualPrinter(dots=dots)
    printer.feed(data)
    printer.finish()
    return printer
