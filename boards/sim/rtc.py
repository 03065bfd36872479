"""Time source of the sim board: the host clock, optionally shifted.

``Rtc(start=E)`` makes the clock read epoch second E at construction and run
on from there (for reproducible receipts and journal timestamps); without it
the clock is the host's UTC clock.  ``set(epoch)`` moves it as setting a
battery-backed RTC would.  Seconds are POSIX (1970 epoch), UTC.
"""

import time


class Rtc:
    def __init__(self, start=None):
        self._offset = 0
        if start is not None:
            self.set(start)

    def _host(self):
        return time.time_ns() // 1000000000

    def now(self):
        """Seconds since 1970-01-01 UTC."""
        return self._host() + self._offset

    def set(self, epoch):
        self._offset = int(epoch) - self._host()

    def datetime(self):
        """machine.RTC().datetime() shape: (year, month, day, weekday, hour,
        minute, second, subsecond); weekday 0 = Monday."""
        t = time.gmtime(self.now())
        return (t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0)

    def ticks_ms(self):
        return time.ticks_ms()

    def ticks_diff(self, a, b):
        return time.ticks_diff(a, b)

    def sleep_ms(self, ms):
        time.sleep_ms(ms)
