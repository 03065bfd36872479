"""ESC/POS command builder for the device side, and a status decoder.

`EscPosBuilder` accumulates commands through one `_raw()` (a driver subclass
can override it to write straight to the UART).  Its methods take the same
arguments as python-escpos 3.1's `Escpos` methods of the same name and emit
the same bytes, so a receipt built here equals the one python-escpos would
send (tests/test_escpos.py checks this operation by operation and on random
sequences; docs/escpos.md lists the limits).  Nothing here needs PIL: raster
images come in as packed rows of bits.

`decode_status` reads the one-byte answers to DLE EOT n and GS r n.
"""

from protocols.errors import DecodeError, EncodeError
from protocols.escpos_codepages import CODE_PAGE_ALIASES, CODE_PAGE_NUMBERS, HIGH_HALVES

ESC = b"\x1b"
GS = b"\x1d"
DLE = b"\x10"
NUL = b"\x00"
LF = b"\n"

# Command bodies and parameter tables (Epson ESC/POS command reference; the
# values python-escpos 3.1 sends for each argument).
INITIALIZE = ESC + b"@"
SELECT_PRINT_MODE = ESC + b"!"  # ESC ! n: font, emphasis, double height/width
SELECT_CHARACTER_SIZE = GS + b"!"  # GS ! n: width (high nibble) x height (low)
BOLD = ESC + b"E"
UNDERLINE = ESC + b"-"
SELECT_FONT = ESC + b"M"
JUSTIFY = ESC + b"a"
UPSIDE_DOWN = ESC + b"{"
SMOOTHING = GS + b"b"
REVERSE = GS + b"B"
DENSITY = GS + b"|"
CODE_TABLE = ESC + b"t"
FEED_LINES = ESC + b"d"
CUT = GS + b"V"
DRAWER_KICK = ESC + b"p"
BUZZER = ESC + b"B"
REALTIME_STATUS = DLE + b"\x04"  # DLE EOT n
TRANSMIT_STATUS = GS + b"r"
RASTER_IMAGE = GS + b"v0"
TWO_D_CODE = GS + b"(k"
BARCODE_HEIGHT = GS + b"h"
BARCODE_WIDTH = GS + b"w"
BARCODE_HRI_FONT = GS + b"f"
BARCODE_HRI_POSITION = GS + b"H"
PRINT_BARCODE = GS + b"k"
PANEL_BUTTONS = ESC + b"c5"
SET_TABS = ESC + b"D"

ALIGNMENTS = (("left", 0), ("center", 1), ("right", 2))
FONTS = (("a", 0), ("b", 1), (0, 0), (1, 1))
# set(density=level) -> GS | n.  Level 9 means "leave unchanged".
DENSITY_LEVELS = ((0, 0), (1, 1), (2, 2), (3, 3), (4, 4), (5, 8), (6, 7), (7, 6), (8, 5))
HRI_POSITIONS = (("OFF", 0), ("ABOVE", 1), ("BELOW", 2), ("BOTH", 3))
LINE_SPACING = ((60, ESC + b"A", 85), (180, ESC + b"3", 255), (360, ESC + b"+", 255))
LINE_SPACING_RESET = ESC + b"2"
CONTROL_CODES = (("LF", b"\n"), ("FF", b"\x0c"), ("CR", b"\r"), ("VT", b"\x0b"))

# QR code (GS ( k, cn = 49): error correction levels and models.
QR_ECLEVEL_L = 0
QR_ECLEVEL_M = 1
QR_ECLEVEL_Q = 2
QR_ECLEVEL_H = 3
QR_MODEL_1 = 1
QR_MODEL_2 = 2
QR_MICRO = 3

# Barcodes: (name, m for GS k function A or None, m for function B,
# ((min, max) lengths), allowed characters or None for any ASCII, rule).
# Lengths and character sets as python-escpos 3.1 checks them.
_DIGITS = "0123456789"
_CODE39 = _DIGITS + "ABCDEFGHIJKLMNOPQRSTUVWXYZ $%+-./"
_CODABAR_BODY = _DIGITS + "$+-./:"
_GS1_EXPANDED = (
    _DIGITS + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" + " !\"%&'()*+,-./:;<=>?_{"
)
BARCODES = (
    ("UPC-A", 0, 65, ((11, 12),), _DIGITS, None),
    ("UPC-E", 1, 66, ((7, 8), (11, 12)), _DIGITS, None),
    ("EAN13", 2, 67, ((12, 13),), _DIGITS, None),
    ("EAN8", 3, 68, ((7, 8),), _DIGITS, None),
    ("CODE39", 4, 69, ((1, 255),), _CODE39, "code39"),
    ("ITF", 5, 70, ((2, 255),), _DIGITS, "even"),
    ("NW7", 6, 71, ((1, 255),), _CODABAR_BODY, "codabar"),
    ("CODABAR", 6, 71, ((1, 255),), _CODABAR_BODY, "codabar"),
    ("CODE93", None, 72, ((1, 255),), None, None),
    ("CODE128", None, 73, ((2, 255),), None, "code128"),
    ("GS1-128", None, 74, ((2, 255),), None, "code128"),
    ("GS1 DATABAR OMNIDIRECTIONAL", None, 75, ((13, 13),), _DIGITS, None),
    ("GS1 DATABAR TRUNCATED", None, 76, ((13, 13),), _DIGITS, None),
    ("GS1 DATABAR LIMITED", None, 77, ((13, 13),), _DIGITS, "limited"),
    ("GS1 DATABAR EXPANDED", None, 78, ((2, 255),), _GS1_EXPANDED, "expanded"),
)

# DLE EOT n answers: (n, bit, flag).  Bits 1 and 4 are fixed on, 0 and 7
# fixed off.  Sources: Epson-compatible command manuals (Bixolon/Samsung
# SRP-350, Sewoo LK-P, Citizen CT-S2000), "DLE EOT"; near-end and paper-end
# each span two bits, and a flag is set when either bit is (Citizen reports
# two sensors separately).
REALTIME_STATUS_BITS = (
    (1, 2, "drawer_pin3_high"),
    (1, 3, "offline"),
    (2, 2, "cover_open"),
    (2, 3, "paper_feed_button"),
    (2, 5, "stopped_paper_end"),
    (2, 6, "error"),
    (3, 3, "autocutter_error"),
    (3, 5, "unrecoverable_error"),
    (3, 6, "auto_recoverable_error"),
    (4, 2, "paper_near_end"),
    (4, 3, "paper_near_end"),
    (4, 5, "paper_end"),
    (4, 6, "paper_end"),
)
# GS r n answers (n = 1/49 paper sensors, 2/50 drawer); bits 4 and 7 fixed off.
TRANSMIT_STATUS_BITS = (
    (1, 0, "paper_near_end"),
    (1, 1, "paper_near_end"),
    (1, 2, "paper_end"),
    (1, 3, "paper_end"),
    (2, 0, "drawer_pin3_high"),
)
# DLE EOT n requests and GS r n requests (49 and 50 are the ASCII spellings).
REALTIME_STATUS_REQUESTS = (
    (1, "printer"),
    (2, "offline cause"),
    (3, "error cause"),
    (4, "paper sensor"),
)
TRANSMIT_STATUS_REQUESTS = (
    (1, "paper sensor"),
    (2, "drawer"),
    (49, "paper sensor"),
    (50, "drawer"),
)


def _lookup(pairs: "tuple[tuple[object, int], ...]", key: object, field: str) -> int:
    # Types must match too: python-escpos's dict lookups treat True as 1.
    for k, v in pairs:
        if k == key and type(k) is type(key):
            return v
    raise EncodeError("unsupported value %r" % (key,), field=field)


def _int_in(value: object, low: int, high: int, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise EncodeError("must be an integer %d..%d" % (low, high), field=field)
    return value


def _flag(value: object, field: str) -> int:
    # python-escpos looks these up in {False: ..., True: ...}: 0 and 1 work too.
    if value is True or value == 1:
        return 1
    if value is False or value == 0:
        return 0
    raise EncodeError("must be True or False", field=field)


def _request(requests: "tuple[tuple[int, str], ...]", n: object) -> int:
    for known, _meaning in requests:
        if known == n and not isinstance(n, bool):
            return known
    raise EncodeError("unknown status request %r" % (n,), field="n")


def _le16(value: int, field: str) -> bytes:
    if not 0 <= value <= 0xFFFF:
        raise EncodeError("does not fit in two bytes", field=field)
    return bytes((value & 0xFF, value >> 8))


def _ascii_alnum_upper(name: str) -> str:
    out = []
    for ch in name.upper():
        if "A" <= ch <= "Z" or "0" <= ch <= "9":
            out.append(ch)
    return "".join(out)


def code_page_number(name: str) -> int:
    """ESC t number of a code page name (python-escpos names, or an Epson alias)."""
    for alias, canonical in CODE_PAGE_ALIASES:
        if alias == name:
            name = canonical
    for known, number in CODE_PAGE_NUMBERS:
        if known == name:
            return number
    raise EncodeError("unknown code page " + repr(name), field="code page")


def _canonical_page(name: str) -> str:
    for alias, canonical in CODE_PAGE_ALIASES:
        if alias == name:
            return canonical
    code_page_number(name)
    return name


_HIGH = {}
for _name, _chars in HIGH_HALVES:
    _HIGH[_name] = _chars
# Auto-selection order of python-escpos's MagicEncode: pages already used
# first, then by the profile's page number compared as text ("16" < "2").
_AUTO_ORDER = sorted(
    [(name, code_page_number(name)) for name, _ in HIGH_HALVES],
    key=lambda pair: "%d" % pair[1],
)


class EscPosBuilder:
    """ESC/POS byte stream builder; `output` holds what has been built."""

    def __init__(self) -> None:
        self._out = bytearray()
        self._page: "str | None" = None  # code page the printer is in, if known
        self._forced: "str | None" = None  # page fixed by charcode()
        self._used: "list[str]" = []

    # -- plumbing -------------------------------------------------------
    def _raw(self, data: bytes) -> None:
        self._out.extend(data)

    @property
    def output(self) -> bytes:
        return bytes(self._out)

    def clear(self) -> None:
        """Forget the built bytes (the code page state is kept: the printer keeps it too)."""
        self._out = bytearray()

    def raw(self, data: bytes) -> "EscPosBuilder":
        self._raw(bytes(data))
        return self

    # -- hardware -------------------------------------------------------
    def initialize(self) -> "EscPosBuilder":
        """ESC @.  The printer falls back to its default code page, so the next
        text re-selects ours (python-escpos's hw("INIT") does not)."""
        self._raw(INITIALIZE)
        self._page = None
        return self

    def cut(self, mode: str = "FULL", feed: bool = True) -> "EscPosBuilder":
        """Feed 6 lines and cut (GS V 0 full / GS V 1 partial), or with
        feed=False cut where the paper is (GS V 66 0)."""
        if not feed:
            self._raw(CUT + b"\x42\x00")
            return self
        mode = mode.upper()
        if mode != "FULL" and mode != "PART":
            raise EncodeError("mode must be FULL or PART", field="mode")
        self._raw(FEED_LINES + b"\x06")
        self._raw(CUT + (b"\x01" if mode == "PART" else b"\x00"))
        return self

    def cashdraw(self, pin: "int | list[int] | tuple[int, ...]") -> "EscPosBuilder":
        """ESC p m t1 t2: pin 2 or 5 with 100 ms pulses, or a sequence
        (27, 112, m[, t1, t2]) sent as given."""
        if pin == 2:
            self._raw(DRAWER_KICK + b"\x00\x32\x32")
        elif pin == 5:
            self._raw(DRAWER_KICK + b"\x01\x32\x32")
        elif isinstance(pin, (list, tuple)) and 3 <= len(pin) <= 5:
            seq = list(pin) + [50, 50][len(pin) - 3 :]
            self._raw(bytes(_int_in(b, 0, 255, "pin") for b in seq))
        else:
            raise EncodeError("pin must be 2, 5 or a 3..5 byte sequence", field="pin")
        return self

    def buzzer(self, times: int = 2, duration: int = 4) -> "EscPosBuilder":
        self._raw(
            BUZZER + bytes((_int_in(times, 1, 9, "times"), _int_in(duration, 1, 9, "duration")))
        )
        return self

    def panel_buttons(self, enable: bool = True) -> "EscPosBuilder":
        self._raw(PANEL_BUTTONS + (b"\x00" if enable else b"\x01"))
        return self

    def status_request(self, n: int) -> "EscPosBuilder":
        """DLE EOT n: 1 printer, 2 offline cause, 3 error cause, 4 paper sensor."""
        self._raw(REALTIME_STATUS + bytes((_request(REALTIME_STATUS_REQUESTS, n),)))
        return self

    def transmit_status(self, n: int = 1) -> "EscPosBuilder":
        """GS r n: 1 (or 49) paper sensor, 2 (or 50) drawer kick-out connector."""
        self._raw(TRANSMIT_STATUS + bytes((_request(TRANSMIT_STATUS_REQUESTS, n),)))
        return self

    # -- text -----------------------------------------------------------
    def charcode(self, code: str = "AUTO") -> "EscPosBuilder":
        """Fix the code page (ESC t n, sent only if it changes) or go back to
        automatic selection with "AUTO"."""
        if code.upper() == "AUTO":
            self._forced = None
            return self
        page = _canonical_page(code)
        self._select(page)
        self._forced = page
        return self

    def text(self, txt: str) -> "EscPosBuilder":
        """Text in the current code page; in automatic mode switch pages as
        python-escpos does.  Characters no page can take print as "?"."""
        txt = str(txt)
        if self._forced is not None:
            self._write_in(self._forced, txt)
            return self
        i = 0
        if self._page is not None:
            i = self._writable_end(self._page, txt, 0)
            if i:
                self._write_in(self._page, txt[:i])
        while i < len(txt):
            page = self._suitable_page(txt[i])
            if page is None:
                self.text("?")
                i += 1
                continue
            end = self._writable_end(page, txt, i)
            self._write_in(page, txt[i:end])
            i = end
        return self

    def textln(self, txt: str = "") -> "EscPosBuilder":
        return self.text(str(txt) + "\n")

    def ln(self, count: int = 1) -> "EscPosBuilder":
        if not isinstance(count, int) or count < 0:
            raise EncodeError("count must be >= 0", field="count")
        if count:
            self.text("\n" * count)
        return self

    def print_and_feed(self, n: int = 1) -> "EscPosBuilder":
        """ESC d n: print the buffer and feed n lines."""
        self._raw(FEED_LINES + bytes((_int_in(n, 0, 255, "n"),)))
        return self

    def control(self, ctl: str, count: int = 5, tab_size: int = 8) -> "EscPosBuilder":
        """LF, FF, CR, VT as single bytes; HT sets count-1 tab stops tab_size apart."""
        ctl = ctl.upper()
        if ctl == "HT":
            if not (0 <= count <= 32 and 1 <= tab_size <= 255 and count * tab_size < 256):
                raise EncodeError("tab positions out of range", field="count")
            stops = bytes(i * tab_size for i in range(1, count))
            self._raw(SET_TABS + stops + NUL)
            return self
        for name, code in CONTROL_CODES:
            if name == ctl:
                self._raw(code)
                return self
        raise EncodeError("unknown control " + repr(ctl), field="ctl")

    def line_spacing(self, spacing: "int | None" = None, divisor: int = 180) -> "EscPosBuilder":
        if spacing is None:
            self._raw(LINE_SPACING_RESET)
            return self
        for known, command, high in LINE_SPACING:
            if known == divisor:
                self._raw(command + bytes((_int_in(spacing, 0, high, "spacing"),)))
                return self
        raise EncodeError("divisor must be 60, 180 or 360", field="divisor")

    def set(
        self,
        align: "str | None" = None,
        font: "str | int | None" = None,
        bold: "bool | None" = None,
        underline: "int | None" = None,
        width: "int | None" = None,
        height: "int | None" = None,
        density: "int | None" = None,
        invert: "bool | None" = None,
        smooth: "bool | None" = None,
        flip: "bool | None" = None,
        normal_textsize: "bool | None" = None,
        double_width: "bool | None" = None,
        double_height: "bool | None" = None,
        custom_size: "bool | None" = None,
    ) -> "EscPosBuilder":
        """Text style, with python-escpos 3.1 `set()` semantics: only the
        arguments given are sent, in its order.  Everything is checked before
        anything is emitted."""
        parts = []
        if custom_size:
            if (
                not isinstance(width, int)
                or not isinstance(height, int)
                or not 1 <= width <= 8
                or not 1 <= height <= 8
            ):
                raise EncodeError("width and height must be 1..8", field="custom_size")
            parts.append(SELECT_CHARACTER_SIZE + bytes((((width - 1) << 4) | (height - 1),)))
        elif normal_textsize or double_height or double_width:
            size = 0
            if double_width:
                size |= 0x20
            if double_height:
                size |= 0x10
            # python-escpos sends ESC ! 0 and then its size entry, which itself
            # starts with another ESC ! 0.
            parts.append(SELECT_PRINT_MODE + b"\x00" + SELECT_PRINT_MODE + b"\x00")
            parts.append(SELECT_PRINT_MODE + bytes((size,)))
        if flip is not None:
            parts.append(UPSIDE_DOWN + bytes((_flag(flip, "flip"),)))
        if smooth is not None:
            parts.append(SMOOTHING + bytes((_flag(smooth, "smooth"),)))
        if bold is not None:
            parts.append(BOLD + bytes((_flag(bold, "bold"),)))
        if underline is not None:
            parts.append(UNDERLINE + bytes((_int_in(underline, 0, 2, "underline"),)))
        if font is not None:
            parts.append(SELECT_FONT + bytes((_lookup(FONTS, font, "font"),)))
        if align is not None:
            parts.append(JUSTIFY + bytes((_lookup(ALIGNMENTS, align, "align"),)))
        if density is not None and density != 9:
            parts.append(DENSITY + bytes((_lookup(DENSITY_LEVELS, density, "density"),)))
        if invert is not None:
            parts.append(REVERSE + bytes((_flag(invert, "invert"),)))
        self._raw(b"".join(parts))
        return self

    def set_with_default(
        self,
        align: "str | None" = "left",
        font: "str | int | None" = "a",
        bold: "bool | None" = False,
        underline: "int | None" = 0,
        width: "int | None" = 1,
        height: "int | None" = 1,
        density: "int | None" = 9,
        invert: "bool | None" = False,
        smooth: "bool | None" = False,
        flip: "bool | None" = False,
        double_width: "bool | None" = False,
        double_height: "bool | None" = False,
        custom_size: "bool | None" = False,
    ) -> "EscPosBuilder":
        """`set()` with every style given a value (python-escpos's pre-3.0 `set()`)."""
        return self.set(
            align=align,
            font=font,
            bold=bold,
            underline=underline,
            width=width,
            height=height,
            density=density,
            invert=invert,
            smooth=smooth,
            flip=flip,
            normal_textsize=not custom_size and not double_width and not double_height,
            double_width=double_width,
            double_height=double_height,
            custom_size=custom_size,
        )

    # -- graphics -------------------------------------------------------
    def image_raster(
        self,
        width: int,
        height: int,
        data: bytes,
        high_density_vertical: bool = True,
        high_density_horizontal: bool = True,
        fragment_height: int = 960,
    ) -> "EscPosBuilder":
        """GS v 0 raster image of `width` x `height` dots.  `data` holds the
        rows top to bottom, (width + 7) // 8 bytes each, leftmost dot in the
        high bit, 1 = black.  Images taller than fragment_height go out as
        several GS v 0 commands, as python-escpos splits them."""
        _int_in(width, 1, 0xFFFF, "width")
        _int_in(height, 1, 0xFFFF, "height")
        _int_in(fragment_height, 1, 0xFFFF, "fragment_height")
        row = (width + 7) >> 3
        if len(data) != row * height:
            raise EncodeError("data must be %d rows of %d bytes" % (height, row), field="data")
        mode = (0 if high_density_horizontal else 1) + (0 if high_density_vertical else 2)
        top = 0
        while top < height:
            rows = min(fragment_height, height - top)
            self._raw(
                RASTER_IMAGE
                + bytes((mode,))
                + _le16(row, "width")
                + _le16(rows, "height")
                + bytes(data[top * row : (top + rows) * row])
            )
            top += rows
        return self

    def qr(
        self, content: str, ec: int = QR_ECLEVEL_L, size: int = 3, model: int = QR_MODEL_2
    ) -> "EscPosBuilder":
        """Printer-rendered QR code (GS ( k): model, module size, error
        correction, store data (UTF-8), print.  Empty content prints nothing."""
        _int_in(ec, 0, 3, "ec")
        _int_in(size, 1, 16, "size")
        _int_in(model, 1, 3, "model")
        if content == "":
            return self
        payload = str(content).encode("utf-8")
        if len(payload) + 3 > 0xFFFF:
            raise EncodeError("QR content too long", field="content")
        self._two_d(b"A", bytes((48 + model, 0)))
        self._two_d(b"C", bytes((size,)))
        self._two_d(b"E", bytes((48 + ec,)))
        self._two_d(b"P", b"0" + payload)
        self._two_d(b"Q", b"0")
        return self

    def _two_d(self, fn: bytes, data: bytes) -> None:
        self._raw(TWO_D_CODE + _le16(len(data) + 2, "content") + b"1" + fn + data)

    def barcode(
        self,
        code: str,
        bc: str,
        height: int = 64,
        width: int = 3,
        pos: str = "BELOW",
        font: str = "A",
        align_ct: bool = True,
        function_type: "str | None" = None,
        check: bool = True,
    ) -> "EscPosBuilder":
        """Printer-rendered barcode (GS k), with GS h height, GS w module
        width, GS f HRI font and GS H HRI position first, and centred unless
        align_ct is False.  Function type A (NUL-terminated) is used when the
        symbology has one, else B (length-prefixed)."""
        spec = _barcode_spec(bc)
        name, code_a, code_b = spec[0], spec[1], spec[2]
        kind = function_type.upper() if function_type else ("A" if code_a is not None else "B")
        if kind == "A" and code_a is not None:
            m = code_a
        elif kind == "B":
            m = code_b
        else:
            raise EncodeError("barcode %s has no function type %s" % (name, kind), field="bc")
        for ch in code:
            if ord(ch) > 0x7F:
                raise EncodeError("barcode data must be ASCII", field="code")
        if check and not barcode_is_valid(name, code):
            raise EncodeError("%r is not a valid %s" % (code, name), field="code")
        if not code:
            raise EncodeError("barcode data is empty", field="code")
        if kind == "B" and len(code) > 255:
            raise EncodeError("function B takes at most 255 bytes", field="code")
        parts = []
        if align_ct:
            parts.append(JUSTIFY + b"\x01")
        parts.append(BARCODE_HEIGHT + bytes((_int_in(height, 1, 255, "height"),)))
        parts.append(BARCODE_WIDTH + bytes((_int_in(width, 2, 6, "width"),)))
        parts.append(BARCODE_HRI_FONT + (b"\x01" if font.upper() == "B" else b"\x00"))
        hri = 2
        for known, value in HRI_POSITIONS:
            if known == pos.upper():
                hri = value
        parts.append(BARCODE_HRI_POSITION + bytes((hri,)))
        parts.append(PRINT_BARCODE + bytes((m,)))
        if kind == "B":
            parts.append(bytes((len(code),)))
        parts.append(code.encode("ascii"))
        if kind == "A":
            parts.append(NUL)
        self._raw(b"".join(parts))
        return self

    # -- code pages (python-escpos MagicEncode rules) ---------------------
    def _select(self, page: str) -> None:
        if page != self._page:
            self._page = page
            self._raw(CODE_TABLE + bytes((code_page_number(page),)))

    def _write_in(self, page: str, txt: str) -> None:
        encoded = _encode(page, txt)  # first: it may raise
        self._select(page)
        if encoded:
            self._raw(encoded)

    def _writable_end(self, page: str, txt: str, start: int) -> int:
        i = start
        while i < len(txt) and _can_encode(page, txt[i]):
            i += 1
        return i

    def _suitable_page(self, ch: str) -> "str | None":
        for used_first in (True, False):
            for page, _ in _AUTO_ORDER:
                if (page in self._used) == used_first and _can_encode(page, ch):
                    if not used_first:
                        self._used.append(page)
                    return page
        return None


def _can_encode(page: str, ch: str) -> bool:
    if ord(ch) < 0x80:
        return True
    table = _HIGH.get(page)
    return table is not None and table.find(ch) >= 0


def _encode(page: str, txt: str) -> bytes:
    table = _HIGH.get(page)
    out = bytearray()
    for ch in txt:
        code = ord(ch)
        if code >= 0x80:
            if table is None:
                raise EncodeError("no character table for code page %s" % page, field="code page")
            index = table.find(ch)
            code = 0x80 + index if index >= 0 else 0x3F  # "?"
        out.append(code)
    return bytes(out)


def _barcode_spec(
    bc: str,
) -> "tuple[str, int | None, int, tuple[tuple[int, int], ...], str | None, str | None]":
    wanted = _ascii_alnum_upper(bc)
    for spec in BARCODES:
        if _ascii_alnum_upper(spec[0]) == wanted:
            return spec
    raise EncodeError("unsupported barcode type " + repr(bc), field="bc")


def barcode_is_valid(bc: str, code: str) -> bool:
    """Length and character checks python-escpos 3.1 applies (no check digits)."""
    spec = _barcode_spec(bc)
    lengths, allowed, rule = spec[3], spec[4], spec[5]
    if not any(low <= len(code) <= high for low, high in lengths):
        return False
    for ch in code:
        if ord(ch) > 0x7F:
            return False
    body = code
    if rule == "code39" and len(code) >= 3 and code[0] == "*" and code[-1] == "*":
        body = code[1:-1]
    elif rule == "codabar":
        if len(code) < 3 or code[0] not in "ABCDabcd" or code[-1] not in "ABCDabcd":
            return False
        body = code[1:-1]
    elif rule == "code128":
        if code[0] != "{" or code[1] not in "ABC" or len(code) < 3:
            return False
        body = ""
    elif rule == "expanded":
        if len(code) < 3 or code[0] != "(" or code[1] not in _DIGITS:
            return False
        body = code[2:]
    elif (rule == "limited" and code[0] not in "01") or (rule == "even" and len(code) % 2):
        return False
    if allowed is not None:
        for ch in body:
            if allowed.find(ch) < 0:
                return False
    return True


def decode_status(n: int, response: bytes) -> "dict[str, bool]":
    """Flags of the one-byte answer to DLE EOT n (n = 1..4)."""
    return _decode_status_byte(n, response, REALTIME_STATUS_BITS, 0x12, 0x81 | 0x12, "DLE EOT")


def decode_transmit_status(n: int, response: bytes) -> "dict[str, bool]":
    """Flags of the one-byte answer to GS r n (n = 1, 2, 49, 50)."""
    if n == 49 or n == 50:
        n -= 48
    return _decode_status_byte(n, response, TRANSMIT_STATUS_BITS, 0x00, 0x90, "GS r")


def _decode_status_byte(
    n: int,
    response: bytes,
    table: "tuple[tuple[int, int, str], ...]",
    fixed_on: int,
    fixed_mask: int,
    command: str,
) -> "dict[str, bool]":
    flags: dict[str, bool] = {}
    for request, _bit, name in table:
        if request == n:
            flags[name] = False
    if not flags:
        raise DecodeError("no %s status request %r" % (command, n), field="n")
    if len(response) != 1:
        raise DecodeError("status answer must be one byte, got %d" % len(response), offset=0)
    value = response[0]
    if value & fixed_mask != fixed_on:
        raise DecodeError(
            "fixed bits of a %s answer are wrong: 0x%02X" % (command, value),
            offset=0,
            field="status",
        )
    for request, bit, name in table:
        if request == n and value & (1 << bit):
            flags[name] = True
    return flags
