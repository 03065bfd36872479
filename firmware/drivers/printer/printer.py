"""ESC/POS thermal printer driver.

``Receipt`` builds a whole receipt in memory (protocols.escpos.EscPosBuilder
plus layout helpers, QR codes and Arabic raster lines); ``Printer`` owns the
UART, asks the printer for its status (DLE EOT 1, 2 and 4) and only then
sends the receipt in one go, so a printer out of paper or with its cover open
gets nothing at all: ``PrinterError`` says why.
"""

from firmware.drivers.printer import layout
from firmware.drivers.printer.profiles import profile as _profile
from protocols import arabic, escpos, qr
from protocols.errors import DecodeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

QR_ECC_LEVELS = (("L", escpos.QR_ECLEVEL_L), ("M", escpos.QR_ECLEVEL_M))
QR_ECC_LEVELS += (("Q", escpos.QR_ECLEVEL_Q), ("H", escpos.QR_ECLEVEL_H))
QR_QUIET_ZONE = 4  # modules (ISO/IEC 18004)
# Status requests in the order asked, and the flags that stop printing.
STATUS_REQUESTS = (1, 2, 4)
BLOCKING_FLAGS = (
    ("cover_open", "cover open"),
    ("paper_end", "paper out"),
    ("stopped_paper_end", "paper out"),
    ("error", "printer error"),
    ("offline", "printer offline"),
)


class PrinterError(Exception):
    """The printer cannot print now.  ``reason``: "cover_open", "paper_end",
    "stopped_paper_end", "error", "offline", "no_answer" or "bad_status";
    ``status``: the flags read so far."""

    def __init__(self, message: str, reason: str, status: "dict | None" = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status if status is not None else {}


# Commands and text gather in pieces of at most this many bytes; a raster's
# rows stay the buffer they were drawn in.  One growing buffer for the whole
# receipt (10 KB and more with Arabic rasters) needs ever larger contiguous
# blocks, which a fragmented heap of a small board does not have.
CHUNK = 512


class Receipt(escpos.EscPosBuilder):
    """A receipt in memory, laid out for a printer profile, kept as a list of
    pieces (``chunks``) rather than one buffer."""

    def __init__(self, profile: "Any" = "80mm", font: "Any" = None) -> None:
        super().__init__()
        self.profile = _profile(profile)
        self.columns = self.profile["columns"]
        self.dots = self.profile["dots"]
        self._font = font
        self.chunks: "list" = []

    def _raw(self, data: "Any") -> None:
        out = self._out
        if len(data) > CHUNK:
            if out:
                self.chunks.append(out)
                self._out = bytearray()
            self.chunks.append(data)
            return
        if len(out) + len(data) > CHUNK:
            self.chunks.append(out)
            out = self._out = bytearray()
        out.extend(data)

    def pieces(self) -> "list":
        """Every piece of the receipt in order (the open one last)."""
        if self._out:
            self.chunks.append(self._out)
            self._out = bytearray()
        return self.chunks

    @property
    def output(self) -> "bytearray":
        """The whole receipt in one buffer (tests, the host): one block of
        its size, the pieces copied in, no copy of each piece on the way."""
        pieces = self.pieces()
        total = 0
        for p in pieces:
            total += len(p)
        out = bytearray(total)
        at = 0
        for p in pieces:
            out[at : at + len(p)] = p
            at += len(p)
        return out

    def clear(self) -> None:
        super().clear()
        self.chunks = []

    @property
    def font(self) -> "Any":
        if self._font is None:
            from firmware.fonts.bitmapfont import load_default

            self._font = load_default()
        return self._font

    # -- layout helpers -----------------------------------------------------
    def lines(self, lines: "list[str]") -> "Receipt":
        for line in lines:
            self.textln(line)
        return self

    def separator(self, char: str = "-") -> "Receipt":
        return self.lines([char * self.columns])

    def header(self, title: str, lines: "list[str] | tuple" = ()) -> "Receipt":
        """Shop name centred, bold, double height; then the lines centred."""
        self.set(align="center", bold=True, double_height=True)
        self.lines(layout.wrap(title, self.columns))
        self.set(bold=False, normal_textsize=True)
        for line in lines:
            self.lines(layout.wrap(line, self.columns))
        self.set(align="left")
        return self

    def item(self, name: str, amount: str, qty: "int | None" = None) -> "Receipt":
        """One item: name (with "2 x " when qty > 1) left, amount right."""
        label = name if qty is None or qty == 1 else "%d x %s" % (qty, name)
        return self.lines(layout.two_columns(label, amount, self.columns))

    def total(self, label: str, amount: str) -> "Receipt":
        self.set(bold=True)
        self.lines(layout.two_columns(label, amount, self.columns))
        self.set(bold=False)
        return self

    def footer(self, lines: "list[str] | tuple") -> "Receipt":
        self.set(align="center")
        for line in lines:
            self.lines(layout.wrap(line, self.columns))
        self.set(align="left")
        return self

    # -- graphics -------------------------------------------------------------
    def arabic(self, text: str, align: str = "right", direction: "str | None" = None) -> "Receipt":
        """Arabic text (with numbers or Latin in it): shaped, put in visual
        order, drawn with the bitmap font across the paper width and sent as
        GS v 0 rasters, one per line.  Text wider than the paper breaks
        between words; each line is reordered with the direction of the
        whole text (a word wider than the paper is cut off)."""
        if direction is None:
            direction = "rtl" if arabic.levels(text)[1] else "ltr"
        for line in self.arabic_lines(text, direction):
            glyphs = arabic.visual(line, direction)
            width, height, rows = self.font.render(glyphs, self.dots, align)
            self.raster(width, height, rows)
        return self

    def arabic_item(self, name: str, amount: str) -> "Receipt":
        """An item line of a right-to-left receipt: the name flush right,
        the amount flush left, both drawn into one raster line."""
        font = self.font
        _, height, rows = font.render(arabic.visual(name, "rtl"), self.dots, "right")
        _, _, left = font.render(amount, self.dots, "left")
        for i in range(len(rows)):
            rows[i] |= left[i]
        self.raster(self.dots, height, rows)
        return self

    def arabic_lines(self, text: str, direction: str = "rtl") -> "list[str]":
        """The text broken between words into lines that fit the paper."""
        lines = []
        current = ""
        for word in text.split(" "):
            candidate = current + " " + word if current else word
            if current and self.font.measure(arabic.visual(candidate, direction)) > self.dots:
                lines.append(current)
                current = word
            else:
                current = candidate
        lines.append(current)
        return lines

    def qr_code(self, data: str, ecc: str = "M", module: "int | None" = None) -> "Receipt":
        """A centred QR code: GS ( k when the profile's printer has it, else a
        GS v 0 raster of protocols.qr's symbol."""
        size = module or self.profile["qr_module"]
        level = None
        for name, value in QR_ECC_LEVELS:
            if name == ecc:
                level = value
        if level is None:
            raise ValueError("ecc must be L, M, Q or H")
        self.set(align="center")
        if self.profile["native_qr"]:
            self.qr(data, ec=level, size=size)
            self.textln("")
        else:
            width, height, rows = qr_raster(qr.encode(data, ecc).matrix, size, self.dots)
            self.raster(width, height, rows)
        self.set(align="left")
        return self

    def raster(self, width: int, height: int, rows: "Any") -> "Receipt":
        """GS v 0 of packed rows, the same bytes as image_raster (one
        fragment up to 960 rows) without copying the rows on the way: small
        heaps fragment."""
        row_bytes = (width + 7) >> 3
        if len(rows) != row_bytes * height or not 0 < height <= 960 or width < 1:
            return self.image_raster(width, height, bytes(rows))
        self._raw(
            escpos.RASTER_IMAGE
            + bytes((0, row_bytes & 0xFF, row_bytes >> 8, height & 0xFF, height >> 8))
        )
        self._raw(rows)
        return self

    def finish(self, cut: bool = True) -> "Receipt":
        if cut:
            self.cut()
        return self


def qr_raster(matrix: "list", module: int, width: int) -> "tuple[int, int, bytes]":
    """A QR matrix scaled to `module` dots a module, with its quiet zone,
    centred in a raster `width` dots wide: (width, height, rows)."""
    size = len(matrix)
    side = (size + 2 * QR_QUIET_ZONE) * module
    if side > width:
        raise ValueError("QR code of %d dots does not fit %d dots" % (side, width))
    row_bytes = (width + 7) >> 3
    left = (width - side) // 2 + QR_QUIET_ZONE * module
    top = QR_QUIET_ZONE * module
    out = bytearray(row_bytes * side)
    line = bytearray(row_bytes)
    for r in range(size):
        for i in range(row_bytes):
            line[i] = 0
        row = matrix[r]
        for c in range(size):
            if row[c]:
                x = left + c * module
                for d in range(x, x + module):
                    line[d >> 3] |= 0x80 >> (d & 7)
        for k in range(module):
            start = (top + r * module + k) * row_bytes
            out[start : start + row_bytes] = line
    return width, side, out


class Printer:
    """The printer on a UART (machine.UART-like: write, read, any).

    ``clock`` (the board's RTC: ticks_ms, ticks_diff, sleep_ms) bounds the
    wait for a status answer to ``status_timeout_ms``; without a clock each
    answer gets ``status_reads`` reads, each limited by the UART's timeout.
    """

    def __init__(
        self,
        uart: "Any",
        profile: "Any" = "80mm",
        clock: "Any" = None,
        status_timeout_ms: int = 500,
        status_reads: int = 3,
        font: "Any" = None,
    ) -> None:
        self.uart = uart
        self.profile = _profile(profile)
        self.clock = clock
        self.status_timeout_ms = status_timeout_ms
        self.status_reads = status_reads
        self._font = font
        self.last_status: "dict" = {}

    def load_font(self) -> "Any":
        """Load the receipt font now (a board program does it at boot, while
        the heap is whole) and keep it for every receipt."""
        if self._font is None:
            from firmware.fonts.bitmapfont import load_default

            self._font = load_default()
        return self._font

    def receipt(self) -> Receipt:
        """A new receipt for this printer's profile, sharing the printer's
        font (loaded by the first receipt that draws, then kept: reloading
        it per receipt costs an 11 KB block each time)."""
        return Receipt(self.profile, self._font)

    # -- status -----------------------------------------------------------------
    def _discard_input(self) -> None:
        for _ in range(64):
            n = self.uart.any()
            if not n:
                return
            self.uart.read(n)

    def _answer(self) -> "bytes | None":
        uart = self.uart
        clock = self.clock
        if clock is None:
            for _ in range(self.status_reads):
                got = uart.read(1)
                if got:
                    return bytes(got)
            return None
        deadline = clock.ticks_ms() + self.status_timeout_ms
        while clock.ticks_diff(deadline, clock.ticks_ms()) > 0:
            if uart.any():
                got = uart.read(1)
                if got:
                    return bytes(got)
            else:
                clock.sleep_ms(1)
        return None

    def status(self) -> "dict":
        """Ask DLE EOT 1, 2 and 4; the flags of all three answers."""
        self._discard_input()
        flags: "dict" = {}
        for n in STATUS_REQUESTS:
            self.uart.write(escpos.REALTIME_STATUS + bytes((n,)))
            answer = self._answer()
            if answer is None:
                self.last_status = flags
                raise PrinterError("no answer to DLE EOT %d" % n, "no_answer", flags)
            try:
                flags.update(escpos.decode_status(n, answer))
            except DecodeError as exc:
                self.last_status = flags
                raise PrinterError("bad answer to DLE EOT %d: %s" % (n, exc), "bad_status", flags)
        self.last_status = flags
        return flags

    def check_ready(self) -> "dict":
        """The status flags, or PrinterError if the printer cannot print."""
        flags = self.status()
        for flag, words in BLOCKING_FLAGS:
            if flags.get(flag):
                raise PrinterError("printer not ready: " + words, flag, flags)
        return flags

    # -- printing ---------------------------------------------------------------
    def print(self, receipt: "Any", check: bool = True) -> int:
        """Send a Receipt (or bytes) after checking the status; returns the
        number of bytes written.  Nothing is sent if the check fails."""
        if isinstance(receipt, Receipt):
            if self._font is None:
                self._font = receipt._font
            pieces = receipt.pieces()  # the receipt's own buffers, not copies
        elif isinstance(receipt, escpos.EscPosBuilder):
            pieces = [receipt._out]
        else:
            pieces = [receipt]
        if check:
            self.check_ready()
        written = 0
        for data in pieces:
            written += self._write(data)
        return written

    def _write(self, data: "Any") -> int:
        written = 0
        view = memoryview(data)
        while written < len(data):
            n = self.uart.write(view[written : written + 1024])
            written += n if n else 0
            if not n:
                raise PrinterError("UART took no bytes", "offline", self.last_status)
        return written
