"""Turn a QR module matrix (protocols.qr) into a Pillow image or PNG file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image

# ISO/IEC 18004 asks for a quiet zone of at least 4 modules.
DEFAULT_BORDER = 4
DEFAULT_SCALE = 8


def matrix_to_image(
    matrix: Sequence[Sequence[int]], scale: int = DEFAULT_SCALE, border: int = DEFAULT_BORDER
) -> Image.Image:
    """1-bit image: dark modules black, light and the quiet zone white."""
    if scale < 1:
        raise ValueError("scale must be at least 1")
    if border < 0:
        raise ValueError("border must not be negative")
    size = len(matrix)
    side = size + 2 * border
    # Mode "1" stores 0 as black: build one byte per module, then scale up
    # with nearest-neighbour so module edges stay sharp.
    pixels = bytearray(b"\xff" * (side * side))
    for row_index, row in enumerate(matrix):
        if len(row) != size:
            raise ValueError("matrix is not square")
        offset = (row_index + border) * side + border
        for column_index, module in enumerate(row):
            if module:
                pixels[offset + column_index] = 0
    image = Image.frombytes("L", (side, side), bytes(pixels)).convert("1")
    if scale > 1:
        image = image.resize((side * scale, side * scale), Image.Resampling.NEAREST)
    return image


def write_png(
    matrix: Sequence[Sequence[int]],
    path: str | Path,
    scale: int = DEFAULT_SCALE,
    border: int = DEFAULT_BORDER,
) -> tuple[int, int]:
    """Write the symbol as PNG; returns the image (width, height) in pixels."""
    image = matrix_to_image(matrix, scale, border)
    image.save(str(path), format="PNG")
    return image.size
