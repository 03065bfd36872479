"""Character cells for the virtual printer's text, drawn with Pillow.

Font A is 12 x 24 dots and font B 9 x 17, as on Epson TM-T88 class printers.
Glyphs come from DejaVu Sans Mono (Debian package fonts-dejavu-core); a
character that font lacks (the Arabic presentation forms of CP864, say) is
drawn with DejaVu Sans squeezed into the cell; without those fonts, Pillow's
built-in font serves.  Cells are Pillow "L" images, 0 = black ink on 255.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
MONO = FONT_DIR / "DejaVuSansMono.ttf"
MONO_BOLD = FONT_DIR / "DejaVuSansMono-Bold.ttf"
SANS = FONT_DIR / "DejaVuSans.ttf"
SANS_BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"

# font number -> (cell width, cell height, pixel size of the TrueType font)
CELLS = {0: (12, 24, 20), 1: (9, 17, 14)}

FontType = ImageFont.FreeTypeFont | ImageFont.ImageFont


@lru_cache(maxsize=16)
def _font(path: Path, size: int) -> FontType:
    try:
        return ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.BASIC)
    except OSError:
        return ImageFont.load_default(size)


@lru_cache(maxsize=16)
def _notdef(path: Path, size: int) -> bytes:
    return bytes(_font(path, size).getmask("\ue000"))


def _has_glyph(path: Path, size: int, ch: str) -> bool:
    if ch == " ":
        return True
    return bytes(_font(path, size).getmask(ch)) != _notdef(path, size)


@lru_cache(maxsize=4096)
def cell(ch: str, font: int, bold: bool) -> Image.Image:
    """One character in its cell, black on white."""
    width, height, size = CELLS.get(font, CELLS[0])
    mono = MONO_BOLD if bold else MONO
    path = mono if _has_glyph(mono, size, ch) else (SANS_BOLD if bold else SANS)
    face = _font(path, size)
    image = Image.new("L", (width, height), 255)
    if ch.isspace():
        return image
    left, _top, right, _bottom = (int(v) for v in face.getbbox(ch))
    ink_w = max(right - left, 1)
    if path in (SANS, SANS_BOLD) and ink_w > width:
        # a proportional glyph too wide for the cell: draw larger, squeeze
        wide = Image.new("L", (ink_w, height), 255)
        ImageDraw.Draw(wide).text((-left, 0), ch, font=face, fill=0)
        return wide.resize((width, height), Image.Resampling.LANCZOS)
    x = (width - ink_w) // 2 - left if path in (SANS, SANS_BOLD) else 0
    ImageDraw.Draw(image).text((x, 0), ch, font=face, fill=0)
    return image
