"""The display emulator's framebuffer: rectangles in the sim board's wire
layout (docs/boards.md, boards/sim/channel.py) applied to a frame, and the
frame as an RGB image.

Formats as the board sends them: RGB565 big-endian (panel order), GS8 one
byte a pixel, MONO_VLSB (one byte = 8 vertical pixels, rectangles on 8-row
pages), MONO_HLSB (one byte = 8 horizontal pixels, rows padded to a byte).
Mono pixels that are set are dark (an LCD segment that is on).
"""

from __future__ import annotations

from PIL import Image

FORMATS = ("RGB565", "GS8", "MONO_VLSB", "MONO_HLSB")
MAX_SIDE = 4096


class RectError(ValueError):
    """A rectangle message that does not fit the display or its format."""


def region_size(fmt: str, w: int, h: int) -> int:
    if fmt == "RGB565":
        return w * h * 2
    if fmt == "GS8":
        return w * h
    if fmt == "MONO_VLSB":
        return w * ((h + 7) // 8)
    if fmt == "MONO_HLSB":
        return ((w + 7) // 8) * h
    raise RectError(f"unknown pixel format {fmt!r}")


class FrameBuffer:
    """A width x height frame kept as RGB bytes (3 a pixel)."""

    def __init__(self, width: int, height: int, fmt: str) -> None:
        if fmt not in FORMATS:
            raise RectError(f"unknown pixel format {fmt!r}")
        if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
            raise RectError(f"display geometry {width}x{height} out of range")
        self.width = width
        self.height = height
        self.format = fmt
        self.rgb = bytearray(width * height * 3)  # black until drawn
        self.rects = 0

    def apply(self, x: int, y: int, w: int, h: int, pixels: bytes) -> None:
        """Paint one rectangle; RectError if it lies outside the frame or its
        byte count does not match the format."""
        if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > self.width or y + h > self.height:
            raise RectError(f"rectangle {x},{y} {w}x{h} outside {self.width}x{self.height}")
        if self.format == "MONO_VLSB" and (y % 8 or h % 8):
            raise RectError("MONO_VLSB rectangles start and end on 8-row pages")
        need = region_size(self.format, w, h)
        if len(pixels) != need:
            raise RectError(f"rectangle of {len(pixels)} bytes, {w}x{h} {self.format} needs {need}")
        rgb = self._to_rgb(w, h, pixels)
        row = w * 3
        stride = self.width * 3
        for r in range(h):
            start = (y + r) * stride + x * 3
            self.rgb[start : start + row] = rgb[r * row : (r + 1) * row]
        self.rects += 1

    def _to_rgb(self, w: int, h: int, pixels: bytes) -> bytes:
        if self.format == "RGB565":
            swapped = bytearray(len(pixels))
            swapped[0::2] = pixels[1::2]
            swapped[1::2] = pixels[0::2]
            return Image.frombytes("RGB", (w, h), bytes(swapped), "raw", "BGR;16").tobytes()
        if self.format == "GS8":
            return Image.frombytes("L", (w, h), bytes(pixels)).convert("RGB").tobytes()
        out = bytearray(w * h * 3)
        for r in range(h):
            for c in range(w):
                if self.format == "MONO_VLSB":
                    on = (pixels[(r // 8) * w + c] >> (r & 7)) & 1
                else:
                    on = (pixels[r * ((w + 7) // 8) + c // 8] >> (7 - (c & 7))) & 1
                v = 0 if on else 255
                i = (r * w + c) * 3
                out[i] = out[i + 1] = out[i + 2] = v
        return bytes(out)

    def image(self) -> Image.Image:
        return Image.frombytes("RGB", (self.width, self.height), bytes(self.rgb))

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        i = (y * self.width + x) * 3
        return (self.rgb[i], self.rgb[i + 1], self.rgb[i + 2])

    def save_png(self, path: str, scale: int = 1) -> None:
        img = self.image()
        if scale > 1:
            img = img.resize((self.width * scale, self.height * scale), Image.Resampling.NEAREST)
        img.save(path, "PNG")
