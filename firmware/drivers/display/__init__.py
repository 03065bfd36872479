"""Display driver: a framebuf screen over the board's panel, the 8x8 font
scaled, QR codes from protocols/qr.py, the terminal's screens as data, and
partial updates of dirty rectangles.  See docs/drivers.md."""

from firmware.drivers.display.screen import COLORS, FORMATS, Screen, buffer_size, rgb_to

__all__ = ["COLORS", "FORMATS", "Screen", "buffer_size", "rgb_to"]
