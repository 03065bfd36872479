"""The paper: lines of characters and images stacked into a receipt image,
with a text transcript beside it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

WHITE = 255
ALIGN_OFFSETS = ("left", "center", "right")


def _x(width: int, item_width: int, align: int) -> int:
    if align == 1:
        return max((width - item_width) // 2, 0)
    if align == 2:
        return max(width - item_width, 0)
    return 0


@dataclass
class Receipt:
    """A finished receipt (ended by a cut, or by the end of the stream)."""

    image: Image.Image
    lines: list[str]
    cut: bool
    start: int  # stream offsets of its first and past its last byte
    end: int
    # (top row, rows, text) of each printed line and picture, in paper order
    spans: list[tuple[int, int, str]] = field(default_factory=list)

    def find(self, prefix: str) -> list[tuple[int, int, str]]:
        """The spans whose text starts with `prefix`."""
        return [span for span in self.spans if span[2].startswith(prefix)]

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    def save_png(self, path: str | Path) -> None:
        self.bitmap().save(str(path), format="PNG")

    def bitmap(self) -> Image.Image:
        """The receipt as printed dots: mode "1", thresholded (no dithering)."""
        return self.image.point(lambda v: 255 if v >= 128 else 0).convert(
            "1", dither=Image.Dither.NONE
        )


@dataclass
class Page:
    width: int
    strips: list[Image.Image] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    items: list[tuple[Image.Image, str]] = field(default_factory=list)
    line_width: int = 0
    line_align: int = 0
    start: int = -1
    spans: list[tuple[int, int, str]] = field(default_factory=list)
    height: int = 0  # dots of paper used so far

    @property
    def empty(self) -> bool:
        return not self.strips and not self.items

    def add(self, image: Image.Image, text: str, align: int, spacing: int) -> None:
        """Put a character cell (or a column bit image) on the current line,
        starting a new line when it would run past the paper."""
        if self.items and self.line_width + image.width > self.width:
            self.end_line(spacing)
        if not self.items:
            self.line_align = align
        self.items.append((image, text))
        self.line_width += image.width

    def end_line(self, spacing: int) -> None:
        """Print the line (LF): items bottom-aligned, at least `spacing` tall."""
        if not self.items:
            self.feed(spacing)
            self.lines.append("")
            return
        height = max(max(img.height for img, _ in self.items), spacing)
        tallest = max(img.height for img, _ in self.items)
        strip = Image.new("L", (self.width, height), WHITE)
        x = _x(self.width, self.line_width, self.line_align)
        for img, _ in self.items:
            if x >= self.width:
                break
            strip.paste(img, (x, tallest - img.height))
            x += img.width
        self._span(strip, "".join(text for _, text in self.items).rstrip())
        self.items = []
        self.line_width = 0

    def block(self, image: Image.Image, text: str, align: int) -> None:
        """A picture across the paper (raster image, QR code, barcode)."""
        strip = Image.new("L", (self.width, image.height), WHITE)
        strip.paste(
            image.crop((0, 0, min(image.width, self.width), image.height)),
            (
                _x(self.width, image.width, align),
                0,
            ),
        )
        self._span(strip, text)

    def _span(self, strip: Image.Image, text: str) -> None:
        self.spans.append((self.height, strip.height, text))
        self.strips.append(strip)
        self.height += strip.height
        self.lines.append(text)

    def feed(self, dots: int) -> None:
        if dots > 0:
            self.strips.append(Image.new("L", (self.width, dots), WHITE))
            self.height += dots

    def finish(self, cut: bool, end: int) -> Receipt:
        height = max(self.height, 1)
        image = Image.new("L", (self.width, height), WHITE)
        y = 0
        for strip in self.strips:
            image.paste(strip, (0, y))
            y += strip.height
        return Receipt(image, self.lines, cut, max(self.start, 0), end, self.spans)
