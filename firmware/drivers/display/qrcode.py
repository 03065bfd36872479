"""QR Code symbols from protocols/qr.py drawn on a Screen.

The module size is the largest whole number of pixels at which the symbol and
its quiet zone (ISO/IEC 18004 §6.3.8: 4 modules on every side) fit the box;
the symbol is centred in the box on a light background.
"""

from protocols import qr

QUIET = 4


def module_size(symbol_size, box_w, box_h, quiet=QUIET):
    """Pixels per module for a ``symbol_size``-module symbol in the box (0 if
    it cannot fit at one pixel a module)."""
    return min(box_w, box_h) // (symbol_size + 2 * quiet)


def draw_matrix(screen, matrix, x, y, box_w, box_h, quiet=QUIET, dark="black", light="white"):
    """Draw a module matrix (rows of 0/1) centred in the box; returns the
    (x, y, side, module) of the drawn square, quiet zone included.
    ValueError when it cannot fit at one pixel a module."""
    size = len(matrix)
    m = module_size(size, box_w, box_h, quiet)
    if m < 1:
        raise ValueError("a %d-module QR code does not fit %dx%d pixels" % (size, box_w, box_h))
    side = (size + 2 * quiet) * m
    ox = x + (box_w - side) // 2
    oy = y + (box_h - side) // 2
    fb = screen.fb
    fb.fill_rect(ox, oy, side, side, screen.color(light))
    ink = screen.color(dark)
    top = oy + quiet * m
    left = ox + quiet * m
    for r in range(size):
        row = matrix[r]
        c = 0
        while c < size:
            if row[c]:
                start = c
                while c < size and row[c]:
                    c += 1
                fb.fill_rect(left + start * m, top + r * m, (c - start) * m, m, ink)
            else:
                c += 1
    screen.mark(ox, oy, side, side)
    return (ox, oy, side, m)


def draw(screen, payload, x, y, box_w, box_h, ecc="M"):
    """Encode ``payload`` (protocols.qr) and draw it in the box."""
    symbol = qr.encode(payload, ecc)
    return draw_matrix(screen, symbol.matrix, x, y, box_w, box_h)
