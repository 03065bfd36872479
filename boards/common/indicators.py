"""Buzzer and LEDs on GPIO/PWM, with the interface of the sim status channel:
``beep(freq_hz, duration_ms)`` (blocks for the duration), ``led(name, on)``,
``leds`` (state by name) and ``log`` (the last events)."""

import time


class Indicators:
    LOG_MAX = 64

    def __init__(self, buzzer=None, buzzer_pwm=False, leds=None, active_low=False):
        # buzzer: a machine.PWM (passive buzzer) or machine.Pin (active buzzer)
        # leds: list of (name, machine.Pin)
        self.buzzer = buzzer
        self.buzzer_pwm = buzzer_pwm
        self.active_low = active_low
        self._pins = {}
        self.leds = {}
        self.led_names = []
        for name, pin in leds or []:
            self._pins[name] = pin
            self.leds[name] = False
            self.led_names.append(name)
            pin.value(1 if active_low else 0)
        self.log = []

    def _record(self, entry):
        self.log.append(entry)
        if len(self.log) > self.LOG_MAX:
            self.log.pop(0)

    def beep(self, freq_hz=2700, duration_ms=100):
        if not 0 < freq_hz < 65536 or not 0 <= duration_ms < 65536:
            raise ValueError("buzzer frequency or duration out of range")
        self._record(("buzzer", freq_hz, duration_ms))
        if self.buzzer is None:
            return
        if self.buzzer_pwm:
            self.buzzer.freq(freq_hz)
            self.buzzer.duty_u16(32768)
            time.sleep_ms(duration_ms)
            self.buzzer.duty_u16(0)
        else:
            self.buzzer.value(1)
            time.sleep_ms(duration_ms)
            self.buzzer.value(0)

    def led(self, name, on):
        if name not in self._pins:
            raise ValueError("no LED %r" % (name,))
        self.leds[name] = bool(on)
        self._pins[name].value((1 if on else 0) ^ (1 if self.active_low else 0))
        self._record(("led", name, bool(on)))

    def deinit(self):
        for name in self.led_names:
            self.led(name, False)
        if self.buzzer is not None and self.buzzer_pwm:
            self.buzzer.deinit()
