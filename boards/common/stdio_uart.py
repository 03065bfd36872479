"""A UART-like service port on the USB CDC console (sys.stdin/sys.stdout).

For boards whose service port is native USB (the ESP32-S3's USB Serial/JTAG):
the technician's pyserial sees /dev/ttyACM0.  Ctrl-C is disabled while the
port is open (the service protocol is binary), so the REPL is reachable only
after ``deinit()``.
"""

import select
import sys
import time

import micropython


class StdioUart:
    def __init__(self, timeout=0, timeout_char=2):
        self.timeout = timeout
        self.timeout_char = timeout_char
        self._in = sys.stdin.buffer
        self._out = sys.stdout.buffer
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)
        micropython.kbd_intr(-1)

    def init(self, timeout=None, timeout_char=None, **_ignored):
        if timeout is not None:
            self.timeout = timeout
        if timeout_char is not None:
            self.timeout_char = timeout_char

    def _ready(self, ms):
        return bool(self._poll.poll(ms))

    def any(self):
        return 1 if self._ready(0) else 0

    def read(self, nbytes=None):
        limit = 4096 if nbytes is None else nbytes
        if limit <= 0:
            return b""
        out = bytearray()
        wait = self.timeout
        start = time.ticks_ms()
        while len(out) < limit and self._ready(wait):
            b = self._in.read(1)
            if not b:
                break
            out.extend(b)
            wait = self.timeout_char
            if time.ticks_diff(time.ticks_ms(), start) > 60000:
                break
        return bytes(out) if out else None

    def readinto(self, buf, nbytes=None):
        data = self.read(len(buf) if nbytes is None else nbytes)
        if data is None:
            return None
        buf[: len(data)] = data
        return len(data)

    def write(self, buf):
        return self._out.write(buf)

    def deinit(self):
        micropython.kbd_intr(3)
