"""Message channels of the sim board: display, keypad, status (buzzer/LEDs).

A channel is a loopback TCP connection carrying length-prefixed messages:

    message = length u32 big-endian | type u8 | payload (length - 1 bytes)

The board sends a hello first, so one emulator port can tell connections
apart: type 'H' (0x48), payload = JSON object with at least "board" and
"channel" (the display adds "width", "height", "format").

display (board -> emulator)
    'P' (0x50) x u16 | y u16 | w u16 | h u16 | pixels
        a rectangle of pixels in the display's format, laid out as
        MicroPython's framebuf lays out a w x h buffer of that format
        (RGB565: 2 bytes per pixel, big-endian = panel wire order, rows
        top to bottom -- framebuf stores 16-bit colours little-endian, so
        draw with byte-swapped colours, as for the SPI panels of the
        physical boards;
        MONO_VLSB: y and h multiples of 8, one byte = 8 vertical pixels;
        MONO_HLSB: one byte = 8 horizontal pixels, rows padded to a byte;
        GS8: one byte per pixel).  (0, 0, width, height) is a full frame.
    'B' (0x42) level u8 (0..100): backlight

keypad (emulator -> board)
    'K' (0x4B) key name, ASCII (a name from the board's keypad.keys): a press

status (board -> emulator)
    'Z' (0x5A) freq_hz u16 | duration_ms u16: buzzer
    'L' (0x4C) on u8 | LED name, ASCII: LED on (1) or off (0)
"""

import errno
import json
import time

from boards.sim.net import Link, connect

MAX_MESSAGE = 4 * 1024 * 1024


def _u16(n):
    return bytes([(n >> 8) & 0xFF, n & 0xFF])


def _u32(n):
    return bytes([(n >> 24) & 0xFF, (n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF])


class Channel:
    """A framed, bidirectional message link."""

    def __init__(self, host, port, hello, connect_timeout_ms=5000):
        self.host = host
        self.port = port
        self._link = Link(connect(host, port, connect_timeout_ms), hello.get("channel", "channel"))
        self._rx = bytearray()
        self.send(0x48, json.dumps(hello).encode())

    def send(self, mtype, payload=b"", tail=None):
        """Send one message; ``tail`` (any buffer) follows ``payload``
        without being copied, so a full frame costs no extra heap."""
        if self._link is None:
            raise OSError(errno.EBADF)
        n = 1 + len(payload) + (len(tail) if tail is not None else 0)
        self._link.send_all(_u32(n) + bytes([mtype]) + payload)
        if tail is not None and len(tail):
            self._link.send_all(tail)

    def _parse(self):
        if len(self._rx) < 5:
            return None
        n = (self._rx[0] << 24) | (self._rx[1] << 16) | (self._rx[2] << 8) | self._rx[3]
        if n < 1 or n > MAX_MESSAGE:
            raise OSError(errno.EIO)
        if len(self._rx) < 4 + n:
            return None
        mtype = self._rx[4]
        payload = bytes(self._rx[5 : 4 + n])
        self._rx = self._rx[4 + n :]
        return mtype, payload

    def recv(self, timeout_ms=0):
        """Next message as (type, payload), or None if none arrives in time."""
        if self._link is None:
            raise OSError(errno.EBADF)
        deadline = time.ticks_add(time.ticks_ms(), max(0, timeout_ms))
        while True:
            msg = self._parse()
            if msg is not None:
                return msg
            if self._link.eof:
                raise OSError(errno.ECONNRESET)
            left = time.ticks_diff(deadline, time.ticks_ms())
            if not self._link.readable(max(0, left)):
                return None
            self._rx.extend(self._link.recv_some(4096))

    def close(self):
        if self._link is not None:
            self._link.close()
            self._link = None


BYTES_PER_PIXEL = {"RGB565": 2, "GS8": 1}


def region_size(fmt, w, h):
    """Bytes of a w x h rectangle in framebuf format ``fmt``."""
    if fmt in BYTES_PER_PIXEL:
        return w * h * BYTES_PER_PIXEL[fmt]
    if fmt == "MONO_VLSB":
        return w * ((h + 7) // 8)
    if fmt == "MONO_HLSB":
        return ((w + 7) // 8) * h
    raise ValueError("unknown pixel format %r" % (fmt,))


class DisplayChannel:
    """The sim panel: rectangles of a framebuf pushed to the display emulator.

    Same interface as the physical panels in boards/common/panel.py."""

    def __init__(self, host, port, width, height, fmt, board="sim"):
        self.width = width
        self.height = height
        self.format = fmt
        hello = {
            "board": board,
            "channel": "display",
            "width": width,
            "height": height,
            "format": fmt,
        }
        self._ch = Channel(host, port, hello)

    def push(self, x, y, w, h, buf):
        """Send the w x h rectangle at (x, y); ``buf`` holds exactly it."""
        if x < 0 or y < 0 or w <= 0 or h <= 0 or x + w > self.width or y + h > self.height:
            raise ValueError("rectangle outside the display")
        if self.format == "MONO_VLSB" and (y % 8 or h % 8):
            raise ValueError("MONO_VLSB rectangles start and end on 8-row pages")
        if len(buf) != region_size(self.format, w, h):
            raise ValueError(
                "buffer is %d bytes, rectangle needs %d"
                % (len(buf), region_size(self.format, w, h))
            )
        self._ch.send(0x50, _u16(x) + _u16(y) + _u16(w) + _u16(h), buf)

    def push_frame(self, buf):
        self.push(0, 0, self.width, self.height, buf)

    def backlight(self, level):
        self._ch.send(0x42, bytes([max(0, min(100, int(level)))]))

    def deinit(self):
        self._ch.close()


class KeypadChannel:
    """Key presses from the keypad emulator."""

    def __init__(self, host, port, keys, board="sim"):
        self.keys = []
        for row in keys:
            self.keys.extend(row if isinstance(row, list) else [row])
        self._ch = Channel(host, port, {"board": board, "channel": "keypad", "keys": self.keys})

    def read_key(self, timeout_ms=0):
        """Name of the next key pressed, or None if none within timeout_ms.
        Messages that are not a known key press are skipped."""
        deadline = time.ticks_add(time.ticks_ms(), max(0, timeout_ms))
        while True:
            left = max(0, time.ticks_diff(deadline, time.ticks_ms()))
            msg = self._ch.recv(left)
            if msg is None:
                return None
            mtype, payload = msg
            if mtype == 0x4B:
                try:
                    name = payload.decode()
                except UnicodeError:
                    name = None
                if name in self.keys:
                    return name
            if left == 0:
                return None

    def deinit(self):
        self._ch.close()


class StatusChannel:
    """Buzzer and LEDs: kept as state and a bounded log, and sent to the
    status emulator when one is connected (``host`` None: log only)."""

    LOG_MAX = 64

    def __init__(self, host, port, led_names, board="sim"):
        self.led_names = list(led_names)
        self.leds = {}
        for name in self.led_names:
            self.leds[name] = False
        self.log = []
        self._ch = None
        if host is not None:
            self._ch = Channel(
                host, port, {"board": board, "channel": "status", "leds": self.led_names}
            )

    def _record(self, entry):
        self.log.append(entry)
        if len(self.log) > self.LOG_MAX:
            self.log.pop(0)

    def beep(self, freq_hz=2700, duration_ms=100):
        if not 0 < freq_hz < 65536 or not 0 <= duration_ms < 65536:
            raise ValueError("buzzer frequency or duration out of range")
        self._record(("buzzer", freq_hz, duration_ms))
        if self._ch is not None:
            self._ch.send(0x5A, _u16(freq_hz) + _u16(duration_ms))

    def led(self, name, on):
        if name not in self.leds:
            raise ValueError("no LED %r" % (name,))
        self.leds[name] = bool(on)
        self._record(("led", name, bool(on)))
        if self._ch is not None:
            self._ch.send(0x4C, bytes([1 if on else 0]) + name.encode())

    def deinit(self):
        if self._ch is not None:
            self._ch.close()
            self._ch = None
