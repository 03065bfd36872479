"""A terminal preview of the display: two pixel rows per text line with the
upper half block (U+2580), foreground = upper pixel, background = lower.

``ansi(frame, cols)`` gives a string with 24-bit colour escapes for any
terminal; ``rich_text(frame, cols)`` the same as a ``rich.text.Text`` for the
Textual simulator; ``ascii_art(frame, cols)`` a colourless sketch (dark
pixels as '#') for logs and tests.
"""

from __future__ import annotations

from rich.text import Text

from host_sim.display.framebuffer import FrameBuffer

HALF = "\u2580"

RGB = tuple[int, int, int]


def sample(frame: FrameBuffer, cols: int) -> list[list[RGB]]:
    """The frame scaled (nearest pixel) to ``cols`` columns, keeping the
    aspect ratio; an even number of rows."""
    cols = max(1, min(cols, frame.width))
    rows = max(2, (frame.height * cols // frame.width) // 2 * 2)
    out = []
    for r in range(rows):
        y = min(frame.height - 1, r * frame.height // rows)
        out.append(
            [frame.pixel(min(frame.width - 1, c * frame.width // cols), y) for c in range(cols)]
        )
    return out


def ansi(frame: FrameBuffer, cols: int = 80) -> str:
    grid = sample(frame, cols)
    lines = []
    for r in range(0, len(grid), 2):
        parts = []
        for top, bottom in zip(grid[r], grid[r + 1], strict=True):
            fg = ";".join(str(v) for v in top)
            bg = ";".join(str(v) for v in bottom)
            parts.append(f"\x1b[38;2;{fg}m\x1b[48;2;{bg}m{HALF}")
        lines.append("".join(parts) + "\x1b[0m")
    return "\n".join(lines)


def rich_text(frame: FrameBuffer, cols: int = 80) -> Text:
    grid = sample(frame, cols)
    text = Text()
    for r in range(0, len(grid), 2):
        for top, bottom in zip(grid[r], grid[r + 1], strict=True):
            fg = ",".join(str(v) for v in top)
            bg = ",".join(str(v) for v in bottom)
            text.append(HALF, style=f"rgb({fg}) on rgb({bg})")
        if r + 2 < len(grid):
            text.append("\n")
    return text


def ascii_art(frame: FrameBuffer, cols: int = 80) -> str:
    grid = sample(frame, cols)
    lines = []
    for r in range(0, len(grid), 2):
        row = []
        for top, bottom in zip(grid[r], grid[r + 1], strict=True):
            dark = sum(top) + sum(bottom) < 3 * 255
            row.append("#" if dark else " ")
        lines.append("".join(row).rstrip())
    return "\n".join(lines)
