"""Time source of the physical boards: the MCU's RTC (machine.RTC).

Seconds are POSIX (1970 epoch) UTC whatever epoch the port uses internally
(older esp32/stm32 builds count from 2000)."""

import time

import machine

EPOCH_2000 = 946684800


def _port_epoch_offset():
    return EPOCH_2000 if time.gmtime(0)[0] == 2000 else 0


class HwRtc:
    def __init__(self):
        self._rtc = machine.RTC()
        self._shift = _port_epoch_offset()

    def now(self):
        return time.time() + self._shift

    def set(self, epoch):
        t = time.gmtime(int(epoch) - self._shift)
        self._rtc.datetime((t[0], t[1], t[2], t[6], t[3], t[4], t[5], 0))

    def datetime(self):
        return self._rtc.datetime()

    def ticks_ms(self):
        return time.ticks_ms()

    def ticks_diff(self, a, b):
        return time.ticks_diff(a, b)

    def sleep_ms(self, ms):
        time.sleep_ms(ms)
