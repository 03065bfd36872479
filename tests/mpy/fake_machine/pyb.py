# Stand-in for the stm32 port's `pyb` (only Timer, for the card clock).
import machine


class Timer:
    PWM = 1

    def __init__(self, timer_id, freq=None):
        self.id = timer_id
        self.freq = freq
        machine.CREATED.append(("Timer", (timer_id,), {"freq": freq}))

    def channel(self, ch, mode, pin=None, pulse_width_percent=0):
        machine._event(("Timer", self.id, ch, mode, pin.id, pulse_width_percent))

    def deinit(self):
        machine._event(("Timer", self.id, "deinit"))
