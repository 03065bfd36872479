"""Generate the firmware's bitmap font from a TrueType font (build time).

The printer driver prints Arabic as raster lines (docs/printer.md): the text
is shaped and reordered by protocols/arabic.py, then drawn with a 1-bit font
that the firmware reads without PIL.  This tool rasterises the glyphs the
driver needs with Pillow and writes them as a Python module of two bytes
objects (``firmware/fonts/dejavu_sans_24.py``); ``firmware/fonts/bitmapfont``
reads it.

Source font: DejaVu Sans (``DejaVuSans.ttf``) from the Debian package
``fonts-dejavu-core``: it covers ASCII, the Arabic letters and digits, the
harakat and the Arabic Presentation Forms-A/B that shaping produces.
Licence: the Bitstream Vera licence, with DejaVu changes in the public domain
(/usr/share/doc/fonts-dejavu-core/copyright); it allows embedding and
redistribution of derived bitmaps under the same terms.

Format (all integers unsigned bytes unless said):

- ``INDEX``: 9 bytes a glyph, sorted by code point: code point (u16 BE),
  advance, x offset + 128 (ink left edge relative to the pen), y offset (ink
  top row relative to the line top), ink width, ink height, bitmap offset
  (u16 BE) into ``BITMAPS``;
- ``BITMAPS``: each glyph's ink rows, top to bottom, ``(width + 7) // 8``
  bytes a row, leftmost pixel in the high bit, 1 = ink.

Combining marks (harakat) have advance 0; the renderer centres them over the
glyph drawn before.

Usage: ``python -m tools.fontgen [--check]`` (``--check``: exit 1 if the
committed module differs from what this would write).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

REPO_ROOT = Path(__file__).resolve().parent.parent
FONT_PATH = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
FONT_NAME = "DejaVu Sans"
FONT_PACKAGE = "fonts-dejavu-core"
FONT_LICENCE = "Bitstream Vera Fonts licence; DejaVu changes in the public domain"
PIXEL_SIZE = 24
OUT = REPO_ROOT / "firmware" / "fonts" / "dejavu_sans_24.py"
THRESHOLD = 128  # grey level from which a pixel is ink

# What the driver draws: ASCII, Latin-1 currency/punctuation, the Arabic
# letters (fallback when a letter has no presentation form), harakat,
# Arabic-Indic digits and punctuation, tatweel, and the presentation forms
# protocols.arabic produces (its FORMS and LAM_ALEF tables).
RANGES = (
    (0x0020, 0x007E),
    (0x00A0, 0x00BF),
    (0x060C, 0x060C),
    (0x061B, 0x061B),
    (0x061F, 0x061F),
    (0x0621, 0x0652),
    (0x0660, 0x066C),
    (0x0670, 0x0671),
    (0x067E, 0x067E),
    (0x0686, 0x0686),
    (0x0698, 0x0698),
    (0x06A9, 0x06A9),
    (0x06AF, 0x06AF),
    (0x06CC, 0x06CC),
    (0x06F0, 0x06F9),
    (0x200C, 0x200F),
    (0x20AC, 0x20AC),
)
MARKS = (0x064B, 0x0652, 0x0670)  # first, last of the harakat; superscript alef


def code_points() -> list[int]:
    from protocols import arabic

    cps: set[int] = set()
    for first, last in RANGES:
        cps.update(range(first, last + 1))
    for entry in arabic.FORMS:
        cps.update(cp for cp in entry[1:] if cp)
    for _alef, isolated, final in arabic.LAM_ALEF:
        cps.update((isolated, final))
    return sorted(cps)


def is_mark(cp: int) -> bool:
    return MARKS[0] <= cp <= MARKS[1] or cp == MARKS[2]


def package_version(package: str) -> str:
    try:
        proc = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", package],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return "unknown"
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else "unknown"


def rasterise(
    font: ImageFont.FreeTypeFont, cp: int, height: int
) -> tuple[int, int, int, int, int, bytes] | None:
    """(advance, x offset, y offset, width, height, rows) of one glyph, or
    None when the font has no ink for it (space has a zero-size ink box)."""
    ch = chr(cp)
    advance = 0 if is_mark(cp) else round(font.getlength(ch))
    left, top, right, bottom = (int(v) for v in font.getbbox(ch))
    if right <= left or bottom <= top:
        return advance, 0, 0, 0, 0, b""
    width = right - left
    image = Image.new("L", (width, height), 0)
    ImageDraw.Draw(image).text((-left, 0), ch, font=font, fill=255)
    pixels = image.tobytes()
    rows = [[pixels[y * width + x] >= THRESHOLD for x in range(width)] for y in range(height)]
    inked = [y for y in range(height) if any(rows[y])]
    if not inked:
        return advance, 0, 0, 0, 0, b""
    y0, y1 = inked[0], inked[-1] + 1
    columns = [x for x in range(width) if any(rows[y][x] for y in range(y0, y1))]
    x0, x1 = columns[0], columns[-1] + 1
    out = bytearray()
    for y in range(y0, y1):
        byte = 0
        bits = 0
        for x in range(x0, x1):
            byte = (byte << 1) | rows[y][x]
            bits += 1
            if bits == 8:
                out.append(byte)
                byte = bits = 0
        if bits:
            out.append(byte << (8 - bits))
    return advance, left + x0, y0, x1 - x0, y1 - y0, bytes(out)


def _literal(name: str, data: bytes) -> str:
    """A bytes literal over lines of at most 100 characters."""
    lines = [f"{name} = ("]
    chunk = ""
    for byte in data:
        piece = chr(byte) if 32 <= byte < 127 and byte not in (34, 92) else f"\\x{byte:02x}"
        if len(chunk) + len(piece) > 90:
            lines.append(f'    b"{chunk}"')
            chunk = ""
        chunk += piece
    if chunk or len(lines) == 1:
        lines.append(f'    b"{chunk}"')
    lines.append(")")
    return "\n".join(lines)


def generate(font_path: Path = FONT_PATH) -> str:
    font = ImageFont.truetype(str(font_path), PIXEL_SIZE, layout_engine=ImageFont.Layout.BASIC)
    ascent, descent = font.getmetrics()
    height = ascent + descent
    index = bytearray()
    bitmaps = bytearray()
    missing = []
    for cp in code_points():
        glyph = rasterise(font, cp, height)
        if glyph is None:
            missing.append(cp)
            continue
        advance, x_off, y_off, width, rows, data = glyph
        if not 0 <= advance < 256 or not -128 <= x_off < 128:
            raise ValueError(f"glyph U+{cp:04X} out of range")
        index += cp.to_bytes(2, "big")
        index += bytes((advance, x_off + 128, y_off, width, rows))
        index += len(bitmaps).to_bytes(2, "big")
        bitmaps += data
    version = package_version(FONT_PACKAGE)
    return f'''"""Bitmap font for the printer's raster lines (generated: do not edit).

Font: {FONT_NAME} ({font_path.name}), {PIXEL_SIZE} px, from the Debian package
{FONT_PACKAGE} {version}.
Licence: {FONT_LICENCE}
(see /usr/share/doc/{FONT_PACKAGE}/copyright).
Generated by tools/fontgen.py (format described there); regenerate with
``python -m tools.fontgen``.
"""

NAME = "{FONT_NAME}"
SOURCE = "{FONT_PACKAGE} {version} {font_path.name}"
LICENCE = "{FONT_LICENCE}"
PIXEL_SIZE = {PIXEL_SIZE}
HEIGHT = {height}
ASCENT = {ascent}
GLYPHS = {len(index) // 9}
RECORD = 9

# fmt: off
{_literal("INDEX", bytes(index))}

{_literal("BITMAPS", bytes(bitmaps))}
# fmt: on
'''


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="generate the firmware's bitmap font")
    parser.add_argument("--font", type=Path, default=FONT_PATH)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    if not args.font.exists():
        print(f"{args.font} not found: apt-get install {FONT_PACKAGE}", file=sys.stderr)
        return 1
    text = generate(args.font)
    if args.check:
        same = args.out.exists() and args.out.read_text(encoding="utf-8") == text
        print("up to date" if same else "differs: run python -m tools.fontgen")
        return 0 if same else 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
